"""10. Trends at size (issue 16: R112): the trends page's figures for a school of N placements.

Each size N has its own database holding N placements of one school at five providers, each with the records the
trends read: 30 register marks (15 school days in each of the autumn and spring terms, some absent, some coded), 6
lesson reports, 2 termly assessments, a provider's termly report on 3 targets and a purchase order; a third of them
ended in the spring with an exit and a destination. Measured: trends.figures for the school's coordinator (what
GET /trends and GET /api/v1/trends compute: every table at once, no filter) and with one filter (a provider).
Flat means the cost per placement does not grow from the smallest size to the largest (ratio <= 1.3): the figures are
SQL aggregates, so the work is the database's scan of the rows, never a Python loop per placement.
`python -m bench --only trends` (or `python -m bench.trends`).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select

from apflow.clock import clock
from apflow.placements.models import (
    Assessment,
    Destination,
    EffectivenessReport,
    LessonReport,
    Placement,
    PlacementExit,
    Provider,
    Pupil,
    PurchaseOrder,
    RegisterMark,
)
from apflow.services import calendars, trends, users
from apflow.store.models import Instance, Organisation, ProcessVersion

from .common import analyze, cheap_password_hashing, deploy_triage, fresh_database, interleaved, make_core, per_row, say, table

SCHOOL = "Bench School"
PROVIDERS = [f"Bench Provider {k}" for k in range(5)]
NOW = datetime(2026, 5, 5, 10, 0, tzinfo=timezone.utc)  # the summer term has begun
AUTUMN, SPRING = date(2025, 9, 8), date(2026, 1, 12)  # Mondays: 15 school days from each
T0 = datetime(2025, 9, 1, tzinfo=timezone.utc)
METRICS = [("all", "figures, no filter, per placement"), ("provider", "figures, one provider, per placement of it")]


def _days(first: date, n: int) -> list[date]:
    days, day = [], first
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _load(core, n: int) -> dict:
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="bench")
    deploy_triage(core)
    with cheap_password_hashing():
        users.ensure_organisation(core, SCHOOL, "school")
        for name in PROVIDERS:
            users.ensure_organisation(core, name, "provider")
        coord = users.create_user(core, "coord", "bench password 1234", ["coordinator"], organisations=[SCHOOL])
    days = _days(AUTUMN, 15) + _days(SPRING, 15)
    with core.db.session() as s:
        orgs = dict(s.execute(select(Organisation.name, Organisation.id)).all())
        providers = [Provider(name=name, address="", contact={}, status="approved", created_at=T0) for name in PROVIDERS]
        s.add_all(providers)
        s.flush()
        version_id = s.scalar(select(ProcessVersion.id).limit(1))
        s.execute(insert(Instance), [{"process_version_id": version_id, "process_id": "placement", "status": "running", "state": {},
                                      "created_at": T0, "updated_at": T0, "organisation_id": orgs[SCHOOL],
                                      "provider_organisation_id": orgs[PROVIDERS[i % 5]]} for i in range(n)])
        s.execute(insert(Pupil), [{"ref": f"T-{i:05d}", "name": f"Pupil {i:05d}", "school": SCHOOL, "created_at": T0,
                                   "date_of_birth": date(2010 + i % 4, 1 + i % 12, 1), "organisation_id": orgs[SCHOOL]} for i in range(n)])
        instance_ids = list(s.scalars(select(Instance.id).order_by(Instance.id)))
        pupil_ids = list(s.scalars(select(Pupil.id).order_by(Pupil.id)))
        s.execute(insert(Placement), [{"pupil_id": pupil_ids[i], "provider_id": providers[i % 5].id, "instance_id": instance_ids[i],
                                       "status": "ended" if i % 3 == 0 else "active", "referred_by": "school",
                                       "reasons": [["attendance"], ["send", "medical"], ["needs_not_met"]][i % 3],
                                       "placement_type": ["part_time_ap", "vocational"][i % 2], "start_date": AUTUMN,
                                       "end_date": date(2026, 3, 20) if i % 3 == 0 else None, "created_at": T0, "updated_at": T0}
                                      for i in range(n)])
        ids = list(s.scalars(select(Placement.id).order_by(Placement.id)))
        marks = [{"placement_id": pid, "day": day, "starts": "09:30", "ends": "14:30", "half": "AM+PM",
                  "starts_at": datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc),
                  "status": "absent" if (i + k) % 7 == 0 else "present", "code": ("B" if (i + k) % 2 else None) if (i + k) % 7 else "I",
                  "reason": "", "note": "", "marked_by": "tutor", "coded_by": ""}
                 for i, pid in enumerate(ids) for k, day in enumerate(days)]
        for k in range(0, len(marks), 5000):
            s.execute(insert(RegisterMark), marks[k:k + 5000])
        s.execute(insert(LessonReport), [{"placement_id": pid, "day": day, "starts": "09:30", "ends": "14:30", "covered": "Maths",
                                          "participation": 1 + (i + k) % 5, "behaviour": 1 + i % 5, "relationships": 3, "progress": 4,
                                          "wellbeing": 1 + k % 5, "written_at": T0, "written_by": "tutor"}
                                         for i, pid in enumerate(ids) for k, day in enumerate(days[::5])])
        s.execute(insert(Assessment), [{"placement_id": pid, "kind": "termly", "assessed_on": on, "recorded_at": T0, "recorded_by": "coord",
                                        "content": {"on_track": ["yes", "partly", "no"][(i + k) % 3]}}
                                       for i, pid in enumerate(ids) for k, on in enumerate((date(2025, 12, 1), date(2026, 3, 2)))])
        s.execute(insert(EffectivenessReport), [{"placement_id": pid, "provider_id": providers[i % 5].id, "term": "Autumn 2025",
                                                 "targets": [{"target": f"t{k}", "status": ["met", "partly", "not_met"][(i + k) % 3]}
                                                             for k in range(3)], "what_worked": "Small groups", "changes": "none",
                                                 "recorded_at": T0, "recorded_by_name": "tutor"} for i, pid in enumerate(ids)])
        s.execute(insert(PurchaseOrder), [{"placement_id": pid, "number": f"PO-{pid}", "issued_by": "la", "hours_per_week": 5 + i % 20,
                                           "issued_on": date(2025, 9, 4), "recorded_at": T0, "recorded_by": "la"} for i, pid in enumerate(ids)])
        ended = [(i, pid) for i, pid in enumerate(ids) if i % 3 == 0]
        s.execute(insert(PlacementExit), [{"placement_id": pid, "kind": "planned", "started_on": date(2026, 3, 6), "ends_on": date(2026, 3, 20),
                                           "content": {}, "recorded_at": T0} for _, pid in ended])
        s.execute(insert(Destination), [{"placement_id": pid, "pupil_id": pupil_ids[i], "recorded_at": T0,
                                         "kind": ["same_school", "college", "neet", "new_school"][i % 4]} for i, pid in ended])
    clock.freeze(NOW)
    analyze(core)
    return {"coord": coord, "provider_id": providers[0].id, "provider_placements": len(range(0, n, 5))}


def run(db: str, workdir: Path, sizes: list[int], rounds: int = 10) -> dict:
    """Load every size, then measure them in turn, round after round (p50 over the rounds), so other load on the
    shared machine falls on every size alike."""
    cores, worlds = {}, {}
    try:
        for n in sizes:
            cores[n] = make_core(fresh_database(db, workdir, f"trends_{n}", schema=f"bench_trends_{n}"), workdir)
            worlds[n] = _load(cores[n], n)
        calls = {n: {"all": (lambda c=cores[n], w=worlds[n]: trends.figures(c, w["coord"]), n),
                     "provider": (lambda c=cores[n], w=worlds[n]: trends.figures(c, w["coord"], trends.Filters(provider_id=w["provider_id"])),
                                  worlds[n]["provider_placements"])} for n in sizes}
        for n in sizes:
            for fn, _ in calls[n].values():
                fn()  # warm the caches (calendars, statements)
        checked = {n: calls[n]["all"][0]()["placements"] for n in sizes}
        assert all(checked[n] == n for n in sizes), checked
        samples = interleaved(calls, rounds)
    finally:
        clock.reset()
        for core in cores.values():
            core.db.dispose()
    return per_row(db, calls, samples)


def report(results: list[dict]) -> None:
    for r in results:
        sizes = sorted(r["sizes"])
        rows = [[words] + [f"{r['sizes'][n][key]['p50']:.1f} ms ({r['sizes'][n][key]['per_row_ms']:.4f}/placement)" for n in sizes]
                + [f"{r['ratios'][key]:.2f}x"] for key, words in METRICS]
        say(f"\n{r['db']}:")
        say(table(["p50"] + [f"{n:,} placements" for n in sizes] + [f"ratio per placement {r['ratio_label']}"], rows))


if __name__ == "__main__":
    from .common import standalone

    standalone("trends", __doc__, run, report, sizes="100,10000", rounds=10)
