"""11. The governors' report and the destination checks at size (issue 16: R101, R110, R114).

Each size N has its own database: the trends benchmark's school of N placements (bench/trends.py: registers, lesson
reports, assessments, purchase orders, destinations for a third), and on top, for every placement, two reviews, an
incident, an exam entry with its result, and for every destination its 3-month check. Measured: governors.figures for
the spring term as the school's coordinator (what GET /governors and GET /api/v1/governors/figures compute, the trends'
value-for-money tables included), and one run of the destination follow-up watch when every due check is already open
(the cost it adds to each minute). Flat means the cost per placement does not grow from the smallest size to the
largest (ratio <= 1.3). `python -m bench.governors [--sizes 100,10000] [--db sqlite|postgres|both]`.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import insert, select

from apflow.clock import clock
from apflow.config import ROOT
from apflow.placements.models import Destination, DestinationFollowUp, Incident, Placement, Qualification, Review
from apflow.services import governors, outcomes, processes

from . import trends as trends_bench
from .common import analyze, fresh_database, interleaved, make_core, per_row, say, table

T0 = datetime(2025, 9, 1, tzinfo=timezone.utc)
METRICS = [("report", "governors' figures, spring term, per placement"), ("watch", "destination follow-up watch, per placement")]


def _load(core, n: int) -> dict:
    world = trends_bench._load(core, n)
    processes.deploy_paths(core, [ROOT / "bpmn" / "destination_follow_up.bpmn"], by="bench")
    with core.db.session() as s:
        rows = list(s.execute(select(Placement.id, Placement.pupil_id).order_by(Placement.id)))
        s.execute(insert(Review), [{"placement_id": pid, "kind": "half-termly", "held_on": held, "outcome": "continue", "content": {},
                                    "recorded_at": T0, "recorded_by": "coord"}
                                   for i, (pid, _) in enumerate(rows) for held in (date(2026, 2, 2), date(2026, 3, 9 + i % 20))])
        s.execute(insert(Incident), [{"pupil_id": pupil, "placement_id": pid, "occurred_at": datetime(2026, 2, 3, 10, tzinfo=timezone.utc),
                                      "kind": ["behaviour", "injury", "other"][i % 3], "summary": "x", "recorded_at": T0}
                                     for i, (pid, pupil) in enumerate(rows)])
        s.execute(insert(Qualification), [{"placement_id": pid, "pupil_id": pupil, "subject": "Maths", "kind": "gcse", "level": "level_2",
                                           "awarding_body": "AQA", "entered_on": date(2026, 1, 20), "result": "4" if i % 2 else "",
                                           "gained": bool(i % 2), "result_on": date(2026, 3, 5), "recorded_at": T0, "recorded_by": "coord"}
                                          for i, (pid, pupil) in enumerate(rows)])
        destinations = list(s.execute(select(Destination.id, Destination.placement_id)))
        s.execute(insert(DestinationFollowUp), [{"destination_id": did, "placement_id": pid, "months": months, "due_on": date(2026, 1, 1),
                                                 "opened_at": T0, "sustained": True, "checked_on": date(2026, 3, 2), "notes": ""}
                                                for did, pid in destinations for months in (3, 6)])
    analyze(core)
    clock.freeze(trends_bench.NOW)
    return world


def run(db: str, workdir: Path, sizes: list[int], rounds: int = 10) -> dict:
    cores, worlds = {}, {}
    try:
        for n in sizes:
            cores[n] = make_core(fresh_database(db, workdir, f"governors_{n}", schema=f"bench_governors_{n}"), workdir)
            worlds[n] = _load(cores[n], n)
        calls = {n: {"report": (lambda c=cores[n], w=worlds[n]: governors.figures(c, w["coord"], "Spring 2026"), n),
                     "watch": (lambda c=cores[n]: outcomes.open_destination_follow_ups(c), n)} for n in sizes}
        for n in sizes:
            found = calls[n]["report"][0]()
            assert found["placements"] == n and found["qualifications"]["entered"] == n, (n, found["placements"])
            assert calls[n]["watch"][0]() == 0  # every check is open already
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

    standalone("governors", __doc__, run, report, sizes="100,10000", rounds=10)
