"""2. Flat scaling: the inbox, completing a task and starting an instance, with 100, 1,000 and
10,000 active placements in the database.

The placements are real referral_triage instances: one is started through the service layer
(and a second one has its two-day timer fired, so it also waits on the headteacher's "Chase late
triage" task), then their rows are copied with fresh ids (see common.clone_instances): 80% wait
for triage with a pending timer, 20% have been chased. Due dates are staggered over about a week
so the inbox's ORDER BY has real work to do. Statistics are refreshed (ANALYZE) after each load,
as autovacuum would do on a live system.

Measured at each size:
- the inbox: inbox.inbox page 1 of "available" for a coordinator (GET /api/v1/inbox, the /inbox page);
- the task list API: instances.list_ready_tasks, a page of 50, for a coordinator and for a manager
  (GET /api/v1/tasks?limit=50; a page is always full at every size, so the sizes do the same work.
  The default page of 200 costs what 200 rows cost, at any size from 200 tasks up);
- every visible task at once: list_ready_tasks without a limit for a coordinator (no endpoint asks
  for this any more; it shows what paging saves, and grows with the caseload by nature);
- complete: instances.complete_task on a freshly started instance (started outside the timing);
- start: instances.start_instance.
Instances created by the measurements are deleted after each batch, so each size holds exactly N.
Each size has its own database (SQLite file, or PostgreSQL schema bench_scaling_N), and the sizes
are measured in turn, batch after batch, so that other load on the machine hits every size alike.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, text

from apflow.clock import clock
from apflow.services import inbox, instances
from apflow.store.models import Instance

from .common import (
    STANDARD_PEOPLE,
    START_DATA,
    TRIAGE,
    TRIAGE_ACCEPT,
    analyze,
    clone_instances,
    deploy_triage,
    fresh_database,
    make_core,
    make_users,
    read_template,
    say,
    summary,
    table,
)

CHASED_SHARE = 0.2
SPREAD_SECONDS = 60.0  # 10,000 placements' due dates spread over ~7 days
API_PAGE = 50  # GET /api/v1/tasks?limit=50: full at every size measured

METRICS = [("inbox", "inbox page 1, coordinator (GET /api/v1/inbox)"),
           ("tasks_api", "list_ready_tasks, coordinator, page of 50 (GET /api/v1/tasks)"),
           ("tasks_api_manager", "list_ready_tasks, manager, page of 50"),
           ("all_ready_tasks", "list_ready_tasks, coordinator, no limit (every row)"),
           ("complete", "complete_task"), ("start", "start_instance")]


def _templates(core, coord):
    fresh = instances.start_instance(core, coord, TRIAGE, START_DATA)["id"]
    chased = instances.start_instance(core, coord, TRIAGE, START_DATA)["id"]
    clock.advance(timedelta(days=2, seconds=1))
    try:
        assert instances.fire_instance_timers(core, chased), "the triage timer should have fired"
    finally:
        clock.reset()
    return read_template(core, fresh), read_template(core, chased), [fresh, chased]


def _measure(fn, reps: int, warmup: int = 3) -> tuple[list[float], object]:
    result = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return samples, result


def explain(core, query) -> str:
    compiled = query.compile(core.db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if core.db.is_sqlite else "EXPLAIN "
    with core.db.engine.connect() as conn:
        rows = conn.execute(text(prefix + str(compiled))).all()
    if core.db.is_sqlite:
        return "\n".join(str(r[-1]) for r in rows)
    return "\n".join(r[0] for r in rows)


@dataclass
class Placements:
    """One database holding `size` placements, and what the measurements there collected."""
    size: int
    core: object
    coord: object
    manager: object
    high_water: int
    active: int
    load_seconds: float
    samples: dict = field(default_factory=lambda: {key: [] for key, _ in METRICS})
    rows: dict = field(default_factory=dict)


def _prepare(db: str, workdir: Path, size: int) -> Placements:
    t0 = time.perf_counter()
    url = fresh_database(db, workdir, f"scaling_{size}", schema=f"bench_scaling_{size}")
    core = make_core(url, workdir)
    people = make_users(core, STANDARD_PEOPLE)
    deploy_triage(core)
    coord = people["coord"]
    fresh_t, chased_t, template_ids = _templates(core, coord)
    with core.db.session() as s:
        s.execute(delete(Instance).where(Instance.id.in_(template_ids)))
    chased = int(size * CHASED_SHARE)
    clone_instances(core, fresh_t, size - chased, spread_seconds=SPREAD_SECONDS)
    clone_instances(core, chased_t, chased, spread_seconds=SPREAD_SECONDS * 4)
    analyze(core)
    with core.db.session() as s:
        high_water = s.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1))
        active = s.scalar(text("SELECT count(*) FROM instances WHERE status = 'running'"))
    return Placements(size, core, coord, people["boss"], high_water, active, time.perf_counter() - t0)


def _round(p: Placements, reps: dict) -> None:
    """One batch of every measurement on one database, then back to exactly p.size placements."""
    core, coord = p.core, p.coord
    for key, fn, n in (
            ("inbox", lambda: inbox.inbox(core, coord, inbox.InboxQuery())["rows"], reps["page"]),
            ("tasks_api", lambda: instances.list_ready_tasks(core, coord, limit=API_PAGE), reps["page"]),
            ("tasks_api_manager", lambda: instances.list_ready_tasks(core, p.manager, limit=API_PAGE), reps["page"]),
            ("all_ready_tasks", lambda: instances.list_ready_tasks(core, coord), reps["inbox"])):
        samples, result = _measure(fn, n, warmup=1)
        p.samples[key] += samples
        p.rows[key] = len(result)

    pending = []  # tasks of fresh instances, prepared outside the timing
    for _ in range(reps["complete"] + 1):
        started = instances.start_instance(core, coord, TRIAGE, START_DATA)
        pending.append(instances.list_ready_tasks(core, coord, started["id"])[0]["id"])
    samples, _ = _measure(lambda: instances.complete_task(core, coord, pending.pop(), TRIAGE_ACCEPT), reps["complete"], warmup=1)
    p.samples["complete"] += samples
    samples, _ = _measure(lambda: instances.start_instance(core, coord, TRIAGE, START_DATA), reps["start"], warmup=1)
    p.samples["start"] += samples
    with core.db.session() as s:
        s.execute(delete(Instance).where(Instance.id > p.high_water))


def run(db: str, workdir: Path, sizes: list[int], reps: dict, rounds: int) -> dict:
    """Build one database per size, then measure them in turn, round after round, so that
    other load on the machine falls on every size alike."""
    dbs = []
    for size in sizes:
        dbs.append(_prepare(db, workdir, size))
        say(f"  {db}: {dbs[-1].active:,} placements ready in {dbs[-1].load_seconds:.1f}s")
    for _ in range(rounds):
        for p in dbs:
            _round(p, reps)
    plans = {"tasks_api": explain(dbs[-1].core, instances.ready_page_query(dbs[-1].coord, API_PAGE)),
             "tasks_api_manager": explain(dbs[-1].core, instances.ready_page_query(dbs[-1].manager, API_PAGE))}
    results = []
    for p in dbs:
        row = {"placements": p.active, "load_seconds": p.load_seconds}
        for key, _ in METRICS:
            row[key] = summary(p.samples[key]) | ({"rows": p.rows[key]} if key in p.rows else {})
        results.append(row)
        p.core.db.dispose()
    first, last = results[0], results[-1]
    ratios = {key: last[key]["p50"] / first[key]["p50"] for key, _ in METRICS}
    return {"db": db, "sizes": sizes, "rounds": rounds, "rows": results, "ratios": ratios, "plans": plans,
            "ratio_label": f"p50({sizes[-1]:,})/p50({sizes[0]:,})"}


def report(results: list[dict]) -> None:
    for r in results:
        rows = []
        for key, label in METRICS:
            line = [r["db"], label]
            for size_row in r["rows"]:
                line += [size_row[key]["p50"], size_row[key]["p95"]]
            line.append(r["ratios"][key])
            rows.append(line)
        headers = ["db", "operation"]
        for size_row in r["rows"]:
            headers += [f"p50 ms @{size_row['placements']:,}", f"p95 ms @{size_row['placements']:,}"]
        headers.append(r["ratio_label"])
        say(table(headers, rows))
        say("  rows returned (every visible task, coordinator): "
            + ", ".join(f"{x['all_ready_tasks']['rows']:,} @{x['placements']:,}" for x in r["rows"]))
        for key, who in (("tasks_api", "coordinator"), ("tasks_api_manager", "manager")):
            say(f"  {r['db']} plan, GET /api/v1/tasks for a {who}:\n    " + r["plans"][key].replace("\n", "\n    "))
