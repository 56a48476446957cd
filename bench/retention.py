"""Retention at size (issue 16: R111): the nightly run and the managers' dry run read across every placement.

Each size N has its own database of N finished placements of one school (closed in March 2026), each with its pupil,
20 register marks and one read-log entry; a tenth of the pupils have an open concern (a legal hold). Measured:
- plan: retention.plan on a day when everything is due (the dry run's work, and the run's before it deletes);
- report: retention.report for the school's manager (GET /retention), the dry run with its per-pupil table;
- run: one run_retention deleting everything due (once: it deletes), per placement deleted.
`python -m bench.retention [sqlite|postgres] [N ...]` (default: sqlite 1000 10000).
"""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

from apflow.clock import clock
from apflow.placements.models import Concern, Placement, Pupil, ReadLogEntry, RegisterMark
from apflow.services import retention, users
from apflow.store.models import Organisation

from .common import analyze, cheap_password_hashing, fresh_database, make_core, say, table

SCHOOL = "Bench School"
MADE = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
ENDED = date(2026, 3, 31)
DUE_DAY = datetime(2032, 4, 1, 3, 0, tzinfo=timezone.utc)


def _load(core, n: int):
    with cheap_password_hashing():
        users.ensure_organisation(core, SCHOOL, "school")
        boss = users.create_user(core, "boss", "bench password 1234", ["manager"], organisations=[SCHOOL])
    with core.db.session() as s:
        org = s.scalar(select(Organisation.id).where(Organisation.name == SCHOOL))
        s.execute(insert(Pupil), [{"ref": f"R-{i:05d}", "name": f"Pupil {i:05d}", "school": SCHOOL, "ehcp": False, "created_at": MADE,
                                   "organisation_id": org, "date_of_birth": date(2011, 5, 4)} for i in range(n)])
        pupils = list(s.scalars(select(Pupil.id).order_by(Pupil.id)))
        s.execute(insert(Placement), [{"pupil_id": p, "status": "closed", "referred_by": "school", "reasons": ["attendance"],
                                       "start_date": date(2026, 1, 5), "end_date": ENDED, "created_at": MADE, "updated_at": MADE}
                                      for p in pupils])
        placements = list(s.scalars(select(Placement.id).order_by(Placement.id)))
        marks = [{"placement_id": pid, "day": date(2026, 1, 5) + timedelta(days=k), "starts": "09:00", "ends": "12:00", "half": "AM",
                  "starts_at": MADE + timedelta(days=k), "activity": "", "address": "", "status": "present", "reason": "", "note": "",
                  "marked_by": "", "coded_by": "", "code": "B"} for pid in placements for k in range(20)]
        for k in range(0, len(marks), 5000):
            s.execute(insert(RegisterMark), marks[k:k + 5000])
        s.execute(insert(ReadLogEntry), [{"pupil_id": p, "username": "coord", "roles": "coordinator", "what": "Pupil page", "route": "",
                                          "restricted": False, "at": MADE} for p in pupils])
        s.execute(insert(Concern), [{"pupil_id": p, "raised_at": MADE, "summary": "open", "child_protection": False, "cp_detail": "",
                                     "dsl_notes": [], "status": "open", "decision": "", "referred_to": [], "raised_by_name": ""}
                                    for p in pupils[::10]])
    analyze(core)
    return boss


def run(db: str, workdir: Path, sizes: list[int]) -> list[list]:
    rows = []
    for n in sizes:
        core = make_core(fresh_database(db, workdir, f"retention_{n}", schema=f"bench_retention_{n}"), workdir)
        try:
            boss = _load(core, n)
            clock.freeze(DUE_DAY)
            with core.db.session(readonly=True) as s:
                start = time.perf_counter()
                due, held = retention.plan(s, core.settings, DUE_DAY.date())
                plan_s = time.perf_counter() - start
            start = time.perf_counter()
            retention.report(core, boss, DUE_DAY.date().isoformat())
            report_s = time.perf_counter() - start
            start = time.perf_counter()
            retention.run_retention(core)
            run_s = time.perf_counter() - start
            with core.db.session(readonly=True) as s:
                left = s.scalar(select(func.count()).select_from(Placement))
            gone = n - left
            rows.append([db, n, len(due), len(held), f"{plan_s * 1000:.0f}", f"{report_s * 1000:.0f}", f"{run_s * 1000:.0f}",
                         f"{run_s * 1000 / max(gone, 1):.2f}", gone])
        finally:
            clock.reset()
            core.db.dispose()
    return rows


def main(argv: list[str]) -> None:
    db = argv[0] if argv and argv[0] in ("sqlite", "postgres") else "sqlite"
    sizes = [int(a) for a in argv if a.isdigit()] or [1_000, 10_000]
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(db, Path(tmp), sizes)
    say(table(["db", "placements", "due", "held", "plan ms", "report ms", "run ms", "run ms per placement", "placements deleted"], rows))


if __name__ == "__main__":
    main(sys.argv[1:])
