"""5. Instance size: what one placement stores after its whole life.

referral_triage driven to the end through the service layer, along its longest path: started,
the two-day timer fires (the app clock is moved, as the tests do) and the headteacher completes
"Chase late triage", then the coordinator triages and accepts (the script task runs, the process
ends). Then, per instance:
- state: the JSON workflow state column (bytes of its JSON text);
- rows: every row that names the instance (human_tasks, events, pending_timers, and any other
  table with an instance_id), counted as the bytes of their values (text as UTF-8, JSON as its
  text, 8 bytes per number or timestamp);
- on disk: growth of the database (SQLite file after a WAL checkpoint; PostgreSQL total relation
  size of the tables, indexes and TOAST included) divided by the number of instances.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

from apflow.clock import clock
from apflow.services import instances
from apflow.store.models import Instance

from .common import (
    CHASE_ANSWERS,
    STANDARD_PEOPLE,
    START_DATA,
    TRIAGE,
    TRIAGE_ACCEPT,
    deploy_triage,
    fresh_database,
    instance_tables,
    make_core,
    make_users,
    reading,
    say,
    table,
)


def _value_bytes(value) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float, datetime, date)):
        return 8
    if isinstance(value, (dict, list)):
        return len(json.dumps(value, separators=(",", ":")).encode())
    return len(str(value).encode())


def _on_disk(core) -> int:
    with core.db.engine.connect() as conn:
        if core.db.is_sqlite:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar()
            return pages * size
        return int(conn.execute(text("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                                 "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE n.nspname = current_schema() AND c.relkind = 'r'")).scalar())


def _instance_bytes(core, instance_id: int) -> dict:
    out = {}
    with reading(core) as s:
        state = s.scalar(select(Instance.state).where(Instance.id == instance_id))
        out["state"] = len(json.dumps(state).encode())
        inst_row = s.execute(select(Instance.__table__).where(Instance.id == instance_id)).mappings().one()
        out["instance_row_other"] = sum(_value_bytes(v) for k, v in inst_row.items() if k != "state")
        for rows_table in instance_tables(core):
            rows = s.execute(select(rows_table).where(rows_table.c.instance_id == instance_id)).mappings().all()
            out[rows_table.name] = {"rows": len(rows), "bytes": sum(_value_bytes(v) for r in rows for v in r.values())}
        if not core.db.is_sqlite:
            out["state_stored_pg"] = s.scalar(text("SELECT pg_column_size(state) FROM instances WHERE id = :id"), {"id": instance_id})
    return out


def run(db: str, workdir: Path, count: int) -> dict:
    work = workdir / f"size-{db}"
    work.mkdir(parents=True, exist_ok=True)
    url = fresh_database(db, work, "size")
    core = make_core(url, work)
    people = make_users(core, STANDARD_PEOPLE)
    deploy_triage(core)
    coord, head = people["coord"], people["head"]
    before = _on_disk(core)

    ids = [instances.start_instance(core, coord, TRIAGE, START_DATA)["id"] for _ in range(count)]
    running_state = _instance_bytes(core, ids[0])["state"]
    clock.advance(timedelta(days=2, seconds=1))
    try:
        fired = instances.fire_due_timers(core)
        assert fired == count, f"expected {count} timers to fire, {fired} did"
        for task in instances.list_ready_tasks(core, head):
            instances.complete_task(core, head, task["id"], CHASE_ANSWERS)
        for task in instances.list_ready_tasks(core, coord):
            instances.complete_task(core, coord, task["id"], TRIAGE_ACCEPT)
    finally:
        clock.reset()
    with core.db.session() as s:
        statuses = dict(s.execute(text("SELECT status, count(*) FROM instances GROUP BY status")).all())
    assert statuses == {"completed": count}, statuses
    after = _on_disk(core)

    samples = [_instance_bytes(core, i) for i in ids]
    core.db.dispose()
    first = samples[0]
    tables = [k for k, v in first.items() if isinstance(v, dict)]
    per_table = {name: {"rows": sum(s[name]["rows"] for s in samples) / count,
                        "bytes": sum(s[name]["bytes"] for s in samples) / count} for name in tables}
    state = sum(s["state"] for s in samples) / count
    other = sum(s["instance_row_other"] for s in samples) / count
    total = state + other + sum(v["bytes"] for v in per_table.values())
    out = {"db": db, "instances": count, "state_bytes_running": running_state, "state_bytes": state,
           "instance_row_other_bytes": other, "tables": per_table, "logical_bytes": total,
           "on_disk_bytes_per_instance": (after - before) / count}
    if not core.db.is_sqlite:
        out["state_stored_bytes_pg"] = sum(s["state_stored_pg"] for s in samples) / count
    return out


def report(results: list[dict]) -> None:
    rows = []
    for r in results:
        rows.append([r["db"], "state JSON (completed)", "1", r["state_bytes"]])
        rows.append([r["db"], "state JSON (just started)", "1", r["state_bytes_running"]])
        if "state_stored_bytes_pg" in r:
            rows.append([r["db"], "state as stored (pg_column_size, TOAST-compressed)", "1", r["state_stored_bytes_pg"]])
        rows.append([r["db"], "instance row, other columns", "1", r["instance_row_other_bytes"]])
        for name, v in r["tables"].items():
            rows.append([r["db"], name, f"{v['rows']:.1f}", v["bytes"]])
        rows.append([r["db"], "total (logical)", "", r["logical_bytes"]])
        rows.append([r["db"], "on disk per instance (tables+indexes)", "", r["on_disk_bytes_per_instance"]])
    say(table(["db", "per completed placement", "rows", "bytes"], rows))
