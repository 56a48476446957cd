"""Evidence packs (issue 16): how long printing a pack takes, and whether it holds up other people meanwhile.

One database holds N running placements of one school, all at the measured provider, each with two sessions a weekday
(09:00-12:00 and 13:00-15:00) and four weeks of marked registers; placement 0 has a year of registers instead (every
weekday of the past 365 days) and a lesson report for every session. Measured:
- placement: the evidence pack of placement 0 (a year of registers and lesson reports): gathering, HTML, PDF;
- provider: the provider's evidence pack, listing all N placements with their attendance (one table row each);
- others: a page's query (the provider register) run repeatedly, alone and while a provider pack prints, to show
  that printing (in a worker process, apflow/web/pdf.py) does not hold up the web threads.
`python -m bench.evidence` (SQLite and PostgreSQL). Figures in docs/performance.md; no time limit is asserted.
"""
from __future__ import annotations

import statistics
import threading
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import insert, select

from apflow.clock import clock
from apflow.placements.common import UK
from apflow.placements.models import LessonReport, Placement, Provider, Pupil, RegisterMark, TimetableSession
from apflow.services import calendars, evidence, placements, users
from apflow.store.models import Instance, Organisation, ProcessVersion

from .common import analyze, cheap_password_hashing, deploy_triage, fresh_database, make_core, say, table

SCHOOL, PROVIDER = "Bench School", "Bench Provider"
TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=timezone.utc)
SESSIONS = [("09:00", "12:00"), ("13:00", "15:00")]
SHORT_HISTORY_DAYS, YEAR_DAYS = 28, 365


def _mark(pid: int, day: date, starts: str, ends: str, status: str) -> dict:
    return {"placement_id": pid, "day": day, "starts": starts, "ends": ends, "half": "AM" if starts < "12:00" else "PM",
            "starts_at": datetime.combine(day, clock_time.fromisoformat(starts), tzinfo=UK).astimezone(timezone.utc),
            "activity": "Core", "address": "", "status": status, "reason": "unknown" if status == "absent" else "", "note": "",
            "marked_by": "tutor", "coded_by": "", "code": "N" if status == "absent" else "B"}


def _load(core, n: int) -> dict:
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="bench")
    deploy_triage(core)
    with cheap_password_hashing():
        for name, kind in [(SCHOOL, "school"), (PROVIDER, "provider")]:
            users.ensure_organisation(core, name, kind)
        # a manager of the school: reads every placement's file (a coordinator reads those with a task in their lane)
        coord = users.create_user(core, "coord", "bench password 1234", ["manager"], organisations=[SCHOOL])
    calendar = core.calendar()
    with core.db.session() as s:
        orgs = dict(s.execute(select(Organisation.name, Organisation.id)).all())
        provider = Provider(name=PROVIDER, address="1 Bench Street", contact={}, status="approved", created_at=NOW)
        s.add(provider)
        s.flush()
        version_id = s.scalar(select(ProcessVersion.id).limit(1))
        instance_ids, marks, reports = [], [], []
        for i in range(n):
            history = YEAR_DAYS if i == 0 else SHORT_HISTORY_DAYS
            start = TODAY - timedelta(days=history)
            instance = Instance(process_version_id=version_id, process_id="placement", status="running", state={}, created_at=NOW,
                                updated_at=NOW, organisation_id=orgs[SCHOOL], provider_organisation_id=orgs[PROVIDER])
            pupil = Pupil(ref=f"B-{i:05d}", name=f"Pupil {i:05d}", school=SCHOOL, created_at=NOW, organisation_id=orgs[SCHOOL])
            s.add_all([instance, pupil])
            s.flush()
            placement = Placement(pupil_id=pupil.id, provider_id=provider.id, instance_id=instance.id, status="active", referred_by="school",
                                  reasons=["attendance"], start_date=start, attendance_code="B", tutor_name="Tutor", created_at=NOW, updated_at=NOW)
            s.add(placement)
            s.flush()
            instance_ids.append(instance.id)
            s.execute(insert(TimetableSession), [{"placement_id": placement.id, "weekday": d, "starts": a, "ends": b, "activity": "Core",
                                                  "venue_kind": "provider_site", "address": "1 Bench Street"} for d in range(5) for a, b in SESSIONS])
            for k in range(history):
                day = start + timedelta(days=k)
                # placement 0 is registered every weekday of the year (the demo calendar starts in September)
                if not (calendar.is_school_day(day) if i else day.weekday() < 5):
                    continue
                for j, (a, b) in enumerate(SESSIONS):
                    marks.append(_mark(placement.id, day, a, b, "absent" if (k + j) % 11 == 0 else "present"))
                    if i == 0:
                        reports.append({"placement_id": placement.id, "day": day, "starts": a, "ends": b, "activity": "Core",
                                        "covered": "Fractions and decimals; a practice paper.", "participation": 3, "behaviour": 3,
                                        "relationships": 4, "progress": 2 + k % 2, "wellbeing": 3, "school_comment": "",
                                        "written_at": NOW, "written_by": "Tutor"})
        for k in range(0, len(marks), 5000):
            s.execute(insert(RegisterMark), marks[k:k + 5000])
        s.execute(insert(LessonReport), reports)
        year_marks = sum(1 for m in marks if m["placement_id"] == marks[0]["placement_id"])
    clock.freeze(NOW)
    analyze(core)
    return {"coord": coord, "instance_id": instance_ids[0], "provider_id": provider.id, "year_marks": year_marks, "reports": len(reports)}


def _printer(core, app):
    """Print a pack as the web does (gather, render the template, PDF in a worker): (seconds per stage, pages)."""
    from flask import render_template

    from apflow.web import pdf

    def run(kind: str, user, key: int) -> dict:
        with app.test_request_context():
            t0 = time.perf_counter()
            pack = evidence.placement_pack(core, user, key) if kind == "placement" else evidence.provider_pack(core, user, key)
            t1 = time.perf_counter()
            html = render_template(f"evidence_{kind}.html", pack=pack, marking="OFFICIAL-SENSITIVE")
            t2 = time.perf_counter()
            content, pages = pdf.to_pdf(html, pdf.margin_css(pack["title"], pack["organisation"], "Printed by bench"))
            t3 = time.perf_counter()
        return {"gather": t1 - t0, "html": t2 - t1, "pdf": t3 - t2, "total": t3 - t0, "pages": pages, "bytes": len(content)}
    return run


def _others(core, user, seconds: float) -> list[float]:
    """How long a page's query takes, over and over for `seconds`."""
    samples, until = [], time.perf_counter() + seconds
    while time.perf_counter() < until:
        start = time.perf_counter()
        placements.provider_register(core, user)
        samples.append(time.perf_counter() - start)
    return samples


def run(db: str, workdir: Path, sizes: list[int], rounds: int = 3) -> dict:
    from apflow.web import create_app

    result = {"db": db, "sizes": {}}
    try:
        for n in sizes:
            core = make_core(fresh_database(db, workdir, f"evidence_{n}", schema=f"bench_evidence_{n}"), workdir)
            try:
                world = _load(core, n)
                app = create_app(core=core, run_scheduler=False)
                print_pack = _printer(core, app)
                print_pack("placement", world["coord"], world["instance_id"])  # warm: the worker process starts once
                one = [print_pack("placement", world["coord"], world["instance_id"]) for _ in range(rounds)]
                everyone = [print_pack("provider", world["coord"], world["provider_id"]) for _ in range(rounds)]
                alone = _others(core, world["coord"], 2.0)
                printing = threading.Thread(target=print_pack, args=("provider", world["coord"], world["provider_id"]))
                printing.start()
                meanwhile = _others(core, world["coord"], 2.0)
                printing.join()

                def p50(rows, key):
                    return statistics.median(r[key] for r in rows) * 1000
                result["sizes"][n] = {
                    "year_marks": world["year_marks"], "reports": world["reports"],
                    "placement": {k: p50(one, k) for k in ("gather", "html", "pdf", "total")} | {"pages": one[0]["pages"]},
                    "provider": {k: p50(everyone, k) for k in ("gather", "html", "pdf", "total")} | {"pages": everyone[0]["pages"]},
                    "others_alone_ms": statistics.median(alone) * 1000, "others_while_printing_ms": statistics.median(meanwhile) * 1000}
            finally:
                core.db.dispose()
    finally:
        clock.reset()
    return result


def report(results: list[dict]) -> None:
    for r in results:
        rows = []
        for n, x in sorted(r["sizes"].items()):
            for kind in ("placement", "provider"):
                m = x[kind]
                rows.append([f"{n:,}", kind, f"{m['pages']}", f"{m['gather']:.0f}", f"{m['html']:.0f}", f"{m['pdf']:.0f}", f"{m['total']:.0f}"])
            rows.append([f"{n:,}", "a page's query alone / while a pack prints", "", "", "", "",
                         f"{x['others_alone_ms']:.1f} / {x['others_while_printing_ms']:.1f}"])
        say(f"\n{r['db']} (placement 0: {next(iter(r['sizes'].values()))['year_marks']} marks, "
            f"{next(iter(r['sizes'].values()))['reports']} lesson reports over a school year):")
        say(table(["placements", "pack", "pages", "gather ms", "HTML ms", "PDF ms", "total ms (p50)"], rows))


if __name__ == "__main__":
    from .common import standalone

    standalone("evidence", __doc__, run, report, sizes="200,2000", rounds=3)
