"""2. Flat scaling: the inbox, completing a task and starting an instance, with 100, 1,000 and
10,000 active placements in the database.

The placements are real referral_triage instances: one is started through the service layer
(and a second one has its two-day timer fired, so it also waits on the headteacher's "Chase late
triage" task), then their rows are copied with fresh ids (see common.clone_instances): 80% wait
for triage with a pending timer, 20% have been chased. Due dates are staggered over about a week
so the inbox's ORDER BY has real work to do. Statistics are refreshed (ANALYZE) after each load,
as autovacuum would do on a live system.

Measured at each size:
- inbox (API): instances.list_ready_tasks for a coordinator and for a headteacher, exactly what
  GET /api/v1/tasks returns: every ready task the user may see, no paging;
- inbox page (LIMIT 50): the same filter and ORDER BY as list_ready_tasks, via SQLAlchemy with
  LIMIT 50, and a variant filtering on the role alone (the shape the (state, role, due_at) index
  can serve in order);
- the paged inbox service (inbox.inbox, behind GET /api/v1/inbox), page 1 of "available", where
  this apflow has it;
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
from apflow.services import instances, permissions
from apflow.store.models import HumanTask, Instance

from .common import (START_DATA, STANDARD_PEOPLE, TRIAGE, TRIAGE_ACCEPT, analyze, clone_instances, deploy_triage,
                     fresh_database, make_app, make_users, read_template, reading, say, summary, table)

CHASED_SHARE = 0.2
SPREAD_SECONDS = 60.0  # 10,000 placements' due dates spread over ~7 days
PAGE = 50
try:  # the paged inbox (GET /api/v1/inbox), where this apflow has one
    from apflow.services import inbox as inbox_service
    INBOX_QUERY = inbox_service.InboxQuery
except ImportError:  # pragma: no cover - older apflow
    inbox_service = None

METRICS = [("inbox_coordinator", "list_ready_tasks, coordinator (all rows)"),
           ("inbox_headteacher", "list_ready_tasks, headteacher (all rows)"),
           ("inbox_page", "same filter + ORDER BY, LIMIT 50"), ("inbox_page_role", "role only + ORDER BY due_at, LIMIT 50"),
           *([("inbox_service", "inbox.inbox page 1 (GET /api/v1/inbox)")] if inbox_service else []),
           ("complete", "complete_task"), ("start", "start_instance")]


def _templates(app, coord):
    fresh = instances.start_instance(app, coord, TRIAGE, START_DATA)["id"]
    chased = instances.start_instance(app, coord, TRIAGE, START_DATA)["id"]
    clock.advance(timedelta(days=2, seconds=1))
    try:
        assert instances.fire_instance_timers(app, chased), "the triage timer should have fired"
    finally:
        clock.reset()
    return read_template(app, fresh), read_template(app, chased), [fresh, chased]


def page_query(user, limit: int = PAGE):
    """list_ready_tasks' query (same filter, same ORDER BY) with a LIMIT."""
    return (select(HumanTask).where(HumanTask.state == "ready", permissions.visible_task_filter(user))
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at).limit(limit))


def role_page_query(role: str, limit: int = PAGE):
    """The shape the (state, role, due_at) index can return in order without sorting."""
    return (select(HumanTask).where(HumanTask.state == "ready", HumanTask.role == role)
            .order_by(HumanTask.due_at).limit(limit))


def _page(app, query) -> list[dict]:
    with reading(app) as s:
        tasks = list(s.scalars(query))
        names = instances._usernames(s, [t.assignee_id for t in tasks] + [t.completed_by for t in tasks])
        return [instances.task_dict(t, names) for t in tasks]


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


def explain(app, query) -> str:
    compiled = query.compile(app.db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if app.db.is_sqlite else "EXPLAIN "
    with app.db.engine.connect() as conn:
        rows = conn.execute(text(prefix + str(compiled))).all()
    if app.db.is_sqlite:
        return "\n".join(str(r[-1]) for r in rows)
    return "\n".join(r[0] for r in rows)


@dataclass
class Placements:
    """One database holding `size` placements, and what the measurements there collected."""
    size: int
    app: object
    coord: object
    head: object
    high_water: int
    active: int
    load_seconds: float
    samples: dict = field(default_factory=lambda: {key: [] for key, _ in METRICS})
    rows: dict = field(default_factory=dict)


def _prepare(db: str, workdir: Path, size: int) -> Placements:
    t0 = time.perf_counter()
    url = fresh_database(db, workdir, f"scaling_{size}", schema=f"bench_scaling_{size}")
    app = make_app(url, workdir)
    people = make_users(app, STANDARD_PEOPLE)
    deploy_triage(app)
    coord = people["coord"]
    fresh_t, chased_t, template_ids = _templates(app, coord)
    with app.db.session() as s:
        s.execute(delete(Instance).where(Instance.id.in_(template_ids)))
    chased = int(size * CHASED_SHARE)
    clone_instances(app, fresh_t, size - chased, spread_seconds=SPREAD_SECONDS)
    clone_instances(app, chased_t, chased, spread_seconds=SPREAD_SECONDS * 4)
    analyze(app)
    with app.db.session() as s:
        high_water = s.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1))
        active = s.scalar(text("SELECT count(*) FROM instances WHERE status = 'running'"))
    return Placements(size, app, coord, people["head"], high_water, active, time.perf_counter() - t0)


def _round(p: Placements, reps: dict) -> None:
    """One batch of every measurement on one database, then back to exactly p.size placements."""
    app, coord = p.app, p.coord
    for key, fn, n in (
            ("inbox_coordinator", lambda: instances.list_ready_tasks(app, coord), reps["inbox"]),
            ("inbox_headteacher", lambda: instances.list_ready_tasks(app, p.head), reps["inbox"]),
            ("inbox_page", lambda: _page(app, page_query(coord)), reps["page"]),
            ("inbox_page_role", lambda: _page(app, role_page_query("coordinator")), reps["page"]),
            *([("inbox_service", lambda: inbox_service.inbox(app, coord, INBOX_QUERY())["rows"], reps["page"])]
              if inbox_service else [])):
        samples, result = _measure(fn, n, warmup=1)
        p.samples[key] += samples
        p.rows[key] = len(result)

    pending = []  # tasks of fresh instances, prepared outside the timing
    for _ in range(reps["complete"] + 1):
        started = instances.start_instance(app, coord, TRIAGE, START_DATA)
        pending.append(instances.list_ready_tasks(app, coord, started["id"])[0]["id"])
    samples, _ = _measure(lambda: instances.complete_task(app, coord, pending.pop(), TRIAGE_ACCEPT), reps["complete"], warmup=1)
    p.samples["complete"] += samples
    samples, _ = _measure(lambda: instances.start_instance(app, coord, TRIAGE, START_DATA), reps["start"], warmup=1)
    p.samples["start"] += samples
    with app.db.session() as s:
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
    plans = {"inbox_page": explain(dbs[-1].app, page_query(dbs[-1].coord)),
             "inbox_page_role": explain(dbs[-1].app, role_page_query("coordinator"))}
    results = []
    for p in dbs:
        row = {"placements": p.active, "load_seconds": p.load_seconds}
        for key, _ in METRICS:
            row[key] = summary(p.samples[key]) | ({"rows": p.rows[key]} if key in p.rows else {})
        results.append(row)
        p.app.db.dispose()
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
        say("  rows returned (coordinator inbox): " + ", ".join(f"{x['inbox_coordinator']['rows']:,} @{x['placements']:,}" for x in r["rows"]))
        say(f"  {r['db']} plan, inbox page with list_ready_tasks' filter:\n    " + r["plans"]["inbox_page"].replace("\n", "\n    "))
        say(f"  {r['db']} plan, inbox page on role only:\n    " + r["plans"]["inbox_page_role"].replace("\n", "\n    "))
