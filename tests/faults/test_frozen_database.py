"""A database that stops answering (frozen server, held lock, no free connection) keeps no request waiting longer
than the configured bounds: the request ends as a 503 and the instance is left exactly as it was.

The bounds are set short here (tests/faults/conftest.py); each test only checks that an error comes back, with a
generous guard of its own against a hang, never how long it took.
"""
import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from apflow.errors import Unavailable
from apflow.services import instances
from apflow.store.db import Database
from apflow.store.models import Event, HumanTask, Instance
from apflow.web import create_app
from tests.faults.conftest import SHORT_WAIT, answer_within_guard
from tests.support import browser

ANSWERS = {"decision": "accept", "rationale": "Attendance has fallen below 50% this term"}


def started_task(core, people):
    referral = {"pupil_name": "Jordan T.", "reasons": ["attendance"]}
    started = instances.start_instance(core, people["coordinator"], "referral_triage", referral)
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    return started["id"], task["id"]


def assert_untouched(core, instance_id, task_id):
    with core.db.session(readonly=True) as s:
        instance = s.get(Instance, instance_id)
        assert (instance.status, instance.error_message) == ("running", None)
        assert s.get(HumanTask, task_id).state == "ready"
        assert "error" not in [e.kind for e in s.scalars(select(Event).where(Event.instance_id == instance_id))]


POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@POSTGRES_ONLY  # a frozen server is a PostgreSQL fault; SQLite's is the held write lock (next test)
def test_a_frozen_server_gives_503_instead_of_a_hang_and_work_resumes_when_it_thaws(core, people, triage, proxy):
    instance_id, task_id = started_task(core, people)
    app = create_app(core=core, run_scheduler=False)
    client = browser(app, "coord")
    proxy.pause()  # every connection, open or new, now goes unanswered
    try:
        response = answer_within_guard(lambda: client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": ANSWERS},
                                                            headers={"X-CSRF-Token": client.csrf}))
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"
        assert "Retry-After" in response.headers
    finally:
        proxy.resume()
    assert_untouched(core, instance_id, task_id)
    done = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": ANSWERS}, headers={"X-CSRF-Token": client.csrf})
    assert done.status_code == 200 and done.get_json()["instance"]["status"] == "completed"


def test_a_held_lock_ends_the_step_with_503_after_the_statement_timeout(core, people, triage, database_url):
    """PostgreSQL: another transaction holds the instance's row lock (statement_timeout cancels the wait).
    SQLite: another process holds the write lock (the busy timeout ends the wait)."""
    instance_id, task_id = started_task(core, people)
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        release = lambda: (holder.execute("ROLLBACK"), holder.close())  # noqa: E731
    else:
        other = Database(database_url)
        connection = other.engine.connect()
        connection.execute(text("SELECT id FROM instances WHERE id = :id FOR UPDATE"), {"id": instance_id})
        release = lambda: (connection.rollback(), connection.close(), other.dispose())  # noqa: E731
    try:
        with pytest.raises(Unavailable):
            answer_within_guard(lambda: instances.complete_task(core, people["coordinator"], task_id, ANSWERS))
    finally:
        release()
    assert_untouched(core, instance_id, task_id)
    assert instances.complete_task(core, people["coordinator"], task_id, ANSWERS)["instance"]["status"] == "completed"


def test_no_free_connection_is_a_503_after_the_pool_timeout(database_url):
    """Every connection of the pool is busy: the next unit of work waits pool_timeout, then gives up."""
    db = Database(database_url, pool_timeout=SHORT_WAIT, statement_timeout=SHORT_WAIT, pool_size=1, max_overflow=0)
    try:
        with db.session(readonly=True) as busy:
            busy.execute(text("SELECT 1"))  # holds the pool's only connection
            with pytest.raises(Unavailable):
                answer_within_guard(lambda: _one_query(db))
        assert _one_query(db) == 1
    finally:
        db.dispose()


def _one_query(db):
    with db.session(readonly=True) as session:
        return session.scalar(text("SELECT 1"))


@POSTGRES_ONLY  # connecting is a PostgreSQL step; a SQLite file opens at once
def test_a_server_that_never_answers_a_new_connection_is_a_503_after_the_connect_timeout(database_url, proxy):
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    db = Database(url, connect_timeout=SHORT_WAIT, statement_timeout=SHORT_WAIT)
    proxy.pause()
    try:
        with pytest.raises(Unavailable) as err:
            answer_within_guard(lambda: _one_query(db))
        assert "timeout" in err.value.cause.lower()
    finally:
        proxy.resume()
        db.dispose()
