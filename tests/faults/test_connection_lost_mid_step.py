"""The database connection lost in the middle of a step (after the engine has moved the workflow on, while its rows
are written) is a database failure, not a workflow error: the step rolls back, the answer is a retryable 503 with no
SQL in it, the instance is not marked failed, and the same request sent again completes the step. A timer firing when
it happens is not marked failed either: it stays due and the next sweep fires it.

PostgreSQL: the proxy cuts every connection just before the step writes the instance row. SQLite: that write fails
as a disk failure would ("disk I/O error").
"""
import sqlite3
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from apflow.errors import Unavailable
from apflow.services import instances
from apflow.store.models import Event, HumanTask, Instance, PendingTimer
from apflow.web import create_app
from tests.support import browser

ANSWERS = {"decision": "accept", "rationale": "Attendance has fallen below 50% this term"}
REFERRAL = {"pupil_name": "Jordan T.", "reasons": ["attendance"]}


@contextmanager
def connection_lost_when_writing_the_instance(core, proxy):
    """Lose the connection at the first UPDATE of the instances table inside the block; yields how many were lost."""
    lost = []

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        if not lost and statement.lstrip().upper().startswith("UPDATE INSTANCES"):
            lost.append(statement)
            if proxy is not None:
                proxy.cut()
            else:
                raise sqlite3.OperationalError("disk I/O error")
        return statement, parameters

    event.listen(core.db.engine, "before_cursor_execute", before_execute, retval=True)
    try:
        yield lost
    finally:
        event.remove(core.db.engine, "before_cursor_execute", before_execute)


def snapshot(core, instance_id):
    with core.db.session(readonly=True) as s:
        instance = s.get(Instance, instance_id)
        return {"state": instance.state, "status": instance.status, "error": instance.error_message,
                "events": [e.kind for e in s.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.id))],
                "tasks": sorted((t.name, t.state) for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))),
                "timers": [(t.attempts, t.retry_at, t.last_error)
                           for t in s.scalars(select(PendingTimer).where(PendingTimer.instance_id == instance_id))]}


def test_a_connection_lost_while_completing_a_task_is_a_503_and_the_same_request_then_completes_it(core, people, triage, proxy):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", REFERRAL)
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    before = snapshot(core, started["id"])
    app = create_app(core=core, run_scheduler=False)
    client = browser(app, "coord")
    request = dict(json={"data": ANSWERS}, headers={"X-CSRF-Token": client.csrf})

    with connection_lost_when_writing_the_instance(core, proxy) as lost:
        response = client.post(f"/api/v1/tasks/{task['id']}/complete", **request)
    assert lost, "the fault was never injected"
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    error = response.get_json()["error"]
    assert error["code"] == "unavailable" and "UPDATE" not in error["message"] and "instances" not in error["message"]
    assert snapshot(core, started["id"]) == before  # rolled back whole; no error recorded, nothing to retry by hand

    again = client.post(f"/api/v1/tasks/{task['id']}/complete", **request)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json()["instance"]["status"] == "completed"


def test_a_connection_lost_while_firing_a_timer_leaves_it_due_and_not_failed(core, people, triage, proxy, frozen_clock):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", REFERRAL)
    frozen_clock.advance(timedelta(days=2, seconds=1))
    before = snapshot(core, started["id"])

    with connection_lost_when_writing_the_instance(core, proxy) as lost:
        with pytest.raises(Unavailable):
            instances.fire_due_timers(core)
    assert lost
    after = snapshot(core, started["id"])
    assert after == before and after["timers"] == [(0, None, None)]  # not failed, not backed off: still due

    assert instances.fire_due_timers(core) == 1  # the next sweep
    assert [t["name"] for t in instances.list_ready_tasks(core, people["headteacher"], started["id"])] == ["Chase late triage"]
