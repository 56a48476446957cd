"""9. Registers and whereabouts at size (issue 15): the provider's register grid and where a school's AP pupils are.

Each size N has its own database holding N running placements of one school, each with two sessions a weekday
(09:00-12:00 and 13:00-15:00) and four weeks of marked registers behind it (the rows the queries must step over).
The measured provider delivers min(N, 200) of them (a provider of 200 pupils at the large size; the rest go to
other providers). Today's registers are laid out first, as the scheduler's minute check does. Measured at each size:
- grid: registers.provider_day for the provider's tutor (GET /registers): one row per session today;
- mark: registers.record_marks of every one of the provider's morning sessions at once (one "Save the register");
- everyone: whereabouts.all_pupils for the school's coordinator (GET /whereabouts): all N pupils right now;
- one: whereabouts.one_pupil for one pupil (GET /pupils/<ref>/whereabouts).
Flat means the cost per row (grid, mark, everyone) and the cost of one answer (one) stay within 1.3x from the
smallest to the largest size. `python -m bench --only registers` (or `python -m bench.registers`).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import insert, select

from apflow.clock import clock
from apflow.placements.common import UK
from apflow.placements.models import Placement, Provider, Pupil, RegisterMark, TimetableSession
from apflow.services import calendars, registers, users, whereabouts
from apflow.store.models import Instance, Organisation, ProcessVersion

from .common import analyze, cheap_password_hashing, deploy_triage, fresh_database, interleaved, make_core, per_row, say, table

SCHOOL, PROVIDER, OTHER = "Bench School", "Bench Provider", "Other Provider"
TODAY = date(2026, 3, 10)  # a Tuesday in the spring term
NOW = datetime(2026, 3, 10, 9, 20, tzinfo=timezone.utc)  # the morning session has started (GMT: UK time = UTC)
SESSIONS = [("09:00", "12:00"), ("13:00", "15:00")]
PROVIDER_PUPILS = 200
HISTORY_DAYS = 28
METRICS = [("grid", "provider_day, per session row"), ("mark", "record_marks, per mark (one save)"),
           ("everyone", "all_pupils, per pupil"), ("one", "one_pupil, per answer")]


def _load(core, n: int, provider_pupils: int = PROVIDER_PUPILS) -> dict:
    """N running placements of one school, min(N, provider_pupils) of them at the measured provider, with their history."""
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="bench")
    deploy_triage(core)
    with cheap_password_hashing():
        for name, kind in [(SCHOOL, "school"), (PROVIDER, "provider"), (OTHER, "provider")]:
            users.ensure_organisation(core, name, kind)
        coord = users.create_user(core, "coord", "bench password 1234", ["coordinator"], organisations=[SCHOOL])
        tutor = users.create_user(core, "tutor", "bench password 1234", ["provider"], organisations=[PROVIDER])
    now = NOW
    with core.db.session() as s:
        orgs = dict(s.execute(select(Organisation.name, Organisation.id)).all())
        ours = Provider(name=PROVIDER, address="", contact={}, status="approved", created_at=now)
        other = Provider(name=OTHER, address="", contact={}, status="approved", created_at=now)
        s.add_all([ours, other])
        s.flush()
        version_id = s.scalar(select(ProcessVersion.id).limit(1))  # any deployed version: these instances only link organisations
        start = TODAY - timedelta(days=HISTORY_DAYS)
        for i in range(n):
            mine = i < min(n, provider_pupils)
            instance = Instance(process_version_id=version_id, process_id="placement", status="running", state={}, created_at=now,
                                updated_at=now, organisation_id=orgs[SCHOOL], provider_organisation_id=orgs[PROVIDER if mine else OTHER])
            pupil = Pupil(ref=f"B-{i:05d}", name=f"Pupil {i:05d}", school=SCHOOL, created_at=now, organisation_id=orgs[SCHOOL])
            s.add_all([instance, pupil])
            s.flush()
            placement = Placement(pupil_id=pupil.id, provider_id=(ours if mine else other).id, instance_id=instance.id, status="active",
                                  referred_by="school", reasons=["attendance"], start_date=start, attendance_code="B",
                                  tutor_name="Tutor", created_at=now, updated_at=now)
            s.add(placement)
            s.flush()
            s.execute(insert(TimetableSession), [{"placement_id": placement.id, "weekday": d, "starts": a, "ends": b, "activity": "Core",
                                                  "venue_kind": "provider_site", "address": f"{i} Bench Street"}
                                                 for d in range(5) for a, b in SESSIONS])
        marks = []
        calendar = core.calendar()
        ids = list(s.scalars(select(Placement.id).order_by(Placement.id)))
        for day in (start + timedelta(days=k) for k in range(HISTORY_DAYS)):
            if not calendar.is_school_day(day):
                continue
            for pid in ids:
                for a, b in SESSIONS:
                    marks.append({"placement_id": pid, "day": day, "starts": a, "ends": b, "half": "AM" if a < "12:00" else "PM",
                                  "starts_at": datetime.combine(day, clock_time.fromisoformat(a), tzinfo=UK).astimezone(timezone.utc),
                                  "activity": "Core", "address": "", "status": "present", "reason": "", "note": "", "marked_by": "tutor",
                                  "coded_by": "", "code": "B"})
        for k in range(0, len(marks), 5000):
            s.execute(insert(RegisterMark), marks[k:k + 5000])
    clock.freeze(NOW)
    registers.lay_out_registers(core)  # today's rows, as the scheduler's minute check lays them out
    analyze(core)
    return {"coord": coord, "tutor": tutor, "provider_pupils": min(n, provider_pupils)}


def _work(core, world: dict) -> dict:
    """The four measured calls of one size, each a zero-argument function, with the rows each answers."""
    coord, tutor = world["coord"], world["tutor"]
    grid = registers.provider_day(core, tutor)
    morning = [{"placement_id": r["placement_id"], "day": r["day"], "starts": r["starts"], "status": "present"}
               for r in grid["rows"] if r["starts"] == "09:00"]
    flip = {"status": "present"}

    def mark():  # alternate present and late, so every save writes every mark
        flip["status"] = "late" if flip["status"] == "present" else "present"
        registers.record_marks(core, tutor, [{**m, "status": flip["status"], "minutes_late": 5} for m in morning])

    return {"grid": (lambda: registers.provider_day(core, tutor), len(grid["rows"])), "mark": (mark, len(morning)),
            "everyone": (lambda: whereabouts.all_pupils(core, coord), world["placements"]),
            "one": (lambda: whereabouts.one_pupil(core, coord, "B-00000"), 1)}


def run(db: str, workdir: Path, sizes: list[int], rounds: int = 10) -> dict:
    """Load every size, then measure them in turn, round after round, so other load on the machine (it is shared)
    falls on every size alike; p50 over the rounds."""
    cores, work = {}, {}
    try:
        for n in sizes:
            cores[n] = make_core(fresh_database(db, workdir, f"registers_{n}", schema=f"bench_registers_{n}"), workdir)
            world = {**_load(cores[n], n), "placements": n}
            work[n] = (world, _work(cores[n], world))
            for fn, _ in work[n][1].values():
                fn()  # warm the caches (calendars, statements)
        calls = {n: work[n][1] for n in sizes}
        samples = interleaved(calls, rounds)
    finally:
        clock.reset()
        for core in cores.values():
            core.db.dispose()
    result = per_row(db, calls, samples)
    for n in sizes:
        result["sizes"][n].update(provider_pupils=work[n][0]["provider_pupils"], grid_rows=calls[n]["grid"][1])
    return result


def report(results: list[dict]) -> None:
    for r in results:
        sizes = sorted(r["sizes"])
        rows = []
        for key, words in METRICS:
            rows.append([words] + [f"{r['sizes'][n][key]['p50']:.1f} ms ({r['sizes'][n][key]['per_row_ms']:.3f}/row)" for n in sizes]
                        + [f"{r['ratios'][key]:.2f}x"])
        heads = ["p50"] + [f"{n:,} placements ({r['sizes'][n]['provider_pupils']} at the provider, {r['sizes'][n]['grid_rows']} rows)"
                           for n in sizes] + [f"ratio per row {r['ratio_label']}"]
        say(f"\n{r['db']}:")
        say(table(heads, rows))


if __name__ == "__main__":
    from .common import standalone

    standalone("registers", __doc__, run, report, sizes="100,2000", rounds=10)
