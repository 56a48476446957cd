"""The store's write helpers and the completion path built on them, on SQLite and PostgreSQL."""
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from apflow.clock import clock
from apflow.errors import NotFound
from apflow.services import instances
from apflow.store.db import append_row, locked_instance, save_row
from apflow.store.models import Event, HumanTask, Instance, TaskDraft

ANSWERS = {"decision": "decline", "rationale": "Needs can be met in school"}


def started(core, people):
    instance = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, people["coordinator"], instance["id"])
    return instance["id"], task["id"]


def test_save_row_writes_advances_the_version_and_refuses_a_stale_copy(core, people, triage):
    instance_id, _ = started(core, people)
    with core.db.session() as s:
        old_copy = s.get(Instance, instance_id)
        version = old_copy.lock_version
    with core.db.session() as s:
        instance = s.get(Instance, instance_id)
        save_row(s, instance, {"status": "error", "error_message": "test"})
        assert instance.lock_version == version + 1
        assert not s.dirty  # recorded as saved: nothing left for the flush to write again
    with core.db.session() as s:
        again = s.get(Instance, instance_id)
        assert (again.status, again.error_message, again.lock_version) == ("error", "test", version + 1)
    with pytest.raises(StaleDataError):
        with core.db.session() as s:
            s.add(old_copy)  # read before the save above: its lock_version is behind
            save_row(s, old_copy, {"status": "running"})
    with core.db.session() as s:
        assert s.get(Instance, instance_id).status == "error"


def test_save_row_on_a_table_without_a_version_column(core, people, triage):
    _, task_id = started(core, people)
    with core.db.session() as s:
        save_row(s, s.get(HumanTask, task_id), {"pupil_name": "Sam"})
    with core.db.session() as s:
        assert s.get(HumanTask, task_id).pupil_name == "Sam"


def test_appended_rows_are_written_at_commit_and_dropped_on_rollback(core, people, triage):
    instance_id, _ = started(core, people)

    def count(kind):
        with core.db.session(readonly=True) as s:
            return s.scalar(select(func.count()).select_from(Event).where(Event.kind == kind))

    row = dict(instance_id=instance_id, at=clock.now(), actor_id=None, actor="test", kind="note", task_id=None, task_name=None, detail={})
    with pytest.raises(RuntimeError):
        with core.db.session() as s:
            append_row(s, Event, row)
            raise RuntimeError("the unit of work fails")
    assert count("note") == 0
    with core.db.session() as s:
        append_row(s, Event, row)
        append_row(s, Event, {**row, "detail": {"n": 2}})
        assert count("note") == 0  # not before the commit
    assert count("note") == 2


def test_locked_instance_finds_the_instance_of_a_task_or_nothing(core, people, triage):
    instance_id, task_id = started(core, people)
    with core.db.session() as s:
        assert locked_instance(s, task_id=task_id).id == instance_id
        assert locked_instance(s, instance_id=instance_id).id == instance_id
    with core.db.session() as s:
        assert locked_instance(s, task_id="no-such-task") is None
        assert locked_instance(s, instance_id=instance_id + 1000) is None


def test_completing_an_unknown_task_is_not_found_and_writes_nothing(core, people, triage):
    instance_id, _ = started(core, people)
    with pytest.raises(NotFound, match="There is no task"):
        instances.complete_task(core, people["coordinator"], "00000000-0000-0000-0000-000000000000", ANSWERS)
    with core.db.session(readonly=True) as s:
        assert s.get(Instance, instance_id).error_message is None


def test_completing_removes_the_drafts_of_the_task_and_only_those(core, people, triage):
    first_id, first_task = started(core, people)
    _, second_task = started(core, people)
    coordinator = people["coordinator"]
    with core.db.session() as s:
        for task_id in (first_task, second_task):
            s.add(TaskDraft(task_id=task_id, user_id=coordinator.id, data={"rationale": "half"}, saved_at=clock.now()))
    result = instances.complete_task(core, coordinator, first_task, ANSWERS)
    assert result["task"]["state"] == "completed" and result["task"]["completed_by"] == "coord"
    with core.db.session(readonly=True) as s:
        assert {d.task_id for d in s.scalars(select(TaskDraft))} == {second_task}
        row = s.get(HumanTask, first_task)
        assert (row.state, row.completed_by) == ("completed", coordinator.id)
        assert s.get(Instance, first_id).status == "completed"
