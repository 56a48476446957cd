"""Instances through the services, on SQLite and PostgreSQL: state, derived rows, events, errors."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from apflow.engine.workers import Engine
from apflow.errors import Conflict, Forbidden, Invalid, NotFound, WorkflowFailed
from apflow.services import instances, processes
from apflow.store.models import Event, HumanTask, Instance, PendingTimer, ProcessVersion
from tests.bpmn_builder import flow_diagram

ANSWERS = {"decision": "accept", "rationale": "Attendance has fallen below 50% this term"}


def start(core, user, data=None):
    return instances.start_instance(core, user, "referral_triage", data or {"pupil_name": "Jordan T.", "reasons": ["attendance", "medical"]})


def test_start_writes_state_ready_task_row_pending_timer_and_events(core, people, triage, frozen_clock):
    started = start(core, people["coordinator"])
    assert started["status"] == "running" and started["version"] == 1
    with core.db.session() as s:
        [task] = s.scalars(select(HumanTask)).all()
        assert (task.name, task.role, task.state) == ("Triage referral", "coordinator", "ready")
        assert task.due_at == frozen_clock.now() + timedelta(days=3)
        [timer] = s.scalars(select(PendingTimer)).all()
        assert timer.due_at == frozen_clock.now() + timedelta(days=2)
        kinds = [e.kind for e in s.scalars(select(Event).order_by(Event.id))]
        assert kinds == ["instance_started", "task_ready"]
        instance = s.get(Instance, started["id"])
        assert "spec" not in instance.state


def test_spec_is_stored_once_per_version_not_per_instance(core, people, triage):
    for _ in range(3):
        start(core, people["coordinator"])
    with core.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessVersion)) == 1
        for instance in s.scalars(select(Instance)):
            assert "spec" not in instance.state and "subprocess_specs" not in instance.state


def test_completing_moves_the_workflow_on_and_logs_who_changed_which_keys(core, people, triage):
    started = start(core, people["coordinator"])
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    result = instances.complete_task(core, people["coordinator"], task["id"], ANSWERS)
    assert result["instance"]["status"] == "completed"
    assert result["instance"]["data"]["status"] == "accepted"
    events = instances.list_events(core, people["coordinator"], started["id"])
    done = next(e for e in events if e["kind"] == "task_completed")
    assert done["actor"] == "coord" and done["task_name"] == "Triage referral"
    assert done["detail"]["changed"] == ["decision", "rationale"]
    assert "reasons" in done["detail"]["keys_before"]
    assert events[-1]["kind"] == "instance_completed"
    with core.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PendingTimer)) == 0  # boundary timer went with its task


def test_invalid_answers_get_per_field_errors_and_the_task_stays_ready(core, people, triage):
    started = start(core, people["coordinator"])
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    with pytest.raises(Invalid) as err:
        instances.complete_task(core, people["coordinator"], task["id"], {"decision": "perhaps", "rationale": "x"})
    assert set(err.value.details["fields"]) == {"decision", "rationale"}
    assert [t["id"] for t in instances.list_ready_tasks(core, people["coordinator"], started["id"])] == [task["id"]]


def test_second_completion_gets_a_conflict_naming_who_did_it(core, people, triage):
    started = start(core, people["coordinator"])
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    instances.complete_task(core, people["coordinator"], task["id"], ANSWERS)
    with pytest.raises(Conflict) as err:
        instances.complete_task(core, people["coordinator2"], task["id"], ANSWERS)
    assert "already completed by coord" in err.value.message


def test_only_the_lane_role_may_complete_and_others_do_not_see_the_task(core, people, triage):
    started = start(core, people["coordinator"])
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    assert instances.list_ready_tasks(core, people["parent"]) == []
    with pytest.raises(NotFound):
        instances.complete_task(core, people["parent"], task["id"], ANSWERS)
    with pytest.raises(Forbidden):  # the manager sees every task but is not in the coordinator role
        instances.complete_task(core, people["manager"], task["id"], ANSWERS)
    with pytest.raises(NotFound):
        instances.get_instance(core, people["parent"], started["id"])


def test_start_is_limited_to_the_start_lane_role(core, people, triage):
    with pytest.raises(Forbidden) as err:
        start(core, people["headteacher"])
    assert "AP Coordinator" in err.value.message
    with core.db.session() as s:  # refused inside the start's own transaction, before anything is written
        assert s.scalar(select(func.count()).select_from(Instance)) == 0
        assert s.scalar(select(func.count()).select_from(Event)) == 0


def test_timer_fires_once_when_the_clock_passes_it_and_opens_the_escalation(core, people, triage, frozen_clock):
    started = start(core, people["coordinator"])
    assert instances.fire_due_timers(core) == 0
    frozen_clock.advance(timedelta(days=2, seconds=1))
    assert instances.fire_due_timers(core) == 1
    assert instances.fire_due_timers(core) == 0
    tasks = instances.list_ready_tasks(core, people["headteacher"], started["id"])
    assert [t["name"] for t in tasks] == ["Chase late triage"]
    fired = [e for e in instances.list_events(core, people["manager"], started["id"]) if e["kind"] == "timer_fired"]
    assert len(fired) == 1 and fired[0]["detail"]["late_seconds"] == 1.0


def test_instances_stay_on_the_version_they_started_on(core, people, triage, tmp_path):
    old = start(core, people["coordinator"])
    changed = (tmp_path / "referral_triage.bpmn")
    changed.write_text(flow_diagram(pid="referral_triage", form="chase_triage.schema.json"))
    [deployed] = processes.deploy_paths(core, [changed], by="test", note="simpler triage")
    assert deployed.version == 2 and deployed.created
    new = start(core, people["coordinator"])
    assert (old["version"], new["version"]) == (1, 2)
    [old_task] = instances.list_ready_tasks(core, people["coordinator"], old["id"])
    assert old_task["name"] == "Triage referral"
    [new_task] = instances.list_ready_tasks(core, people["coordinator"], new["id"])
    assert new_task["name"] == "Check"
    instances.complete_task(core, people["coordinator"], old_task["id"], ANSWERS)
    assert instances.get_instance(core, people["coordinator"], old["id"])["data"]["status"] == "accepted"


def test_deploying_an_unchanged_file_makes_no_new_version(core, triage):
    from apflow.config import ROOT

    [again] = processes.deploy_paths(core, [ROOT / "bpmn" / "referral_triage.bpmn"], by="test")
    assert (again.version, again.created) == (1, False)


def test_a_failing_step_changes_nothing_records_the_error_and_can_be_retried(core, people, tmp_path):
    diagram = tmp_path / "fragile.bpmn"
    diagram.write_text(flow_diagram(pid="fragile", script="result = 10 / divisor"))
    processes.deploy_paths(core, [diagram], by="test")
    started = instances.start_instance(core, people["coordinator"], "fragile", {"divisor": 0})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    with core.db.session() as s:
        before = s.get(Instance, started["id"]).state
    with pytest.raises(WorkflowFailed) as err:
        instances.complete_task(core, people["coordinator"], task["id"], {"outcome": "checked"})
    assert "Work" in err.value.message and "division by zero" in err.value.message
    with core.db.session() as s:
        instance = s.get(Instance, started["id"])
        assert instance.state == before
        assert instance.status == "error" and "division by zero" in instance.error_message
        assert instance.error_action["data"] == {"outcome": "checked"}  # the answers are kept for the retry
        assert s.get(HumanTask, task["id"]).state == "ready"
    assert instances.list_events(core, people["manager"], started["id"])[-1]["kind"] == "error"
    with pytest.raises(WorkflowFailed):
        instances.retry(core, people["manager"], started["id"])
    with pytest.raises(Forbidden):
        instances.retry(core, people["coordinator"], started["id"])


def test_crash_in_the_middle_of_writing_a_step_rolls_back_whole_and_retry_finishes_it(core, people, triage, monkeypatch):
    started = start(core, people["coordinator"])
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    with core.db.session() as s:
        before = s.get(Instance, started["id"]).state
        events_before = s.scalar(select(func.count()).select_from(Event))
    real_persist = instances.persist

    def crash_after_writing_half(app, session, instance, workflow, actor, **kwargs):
        real_persist(app, session, instance, workflow, actor, **kwargs)  # rows are written in the session...
        raise RuntimeError("power cut")  # ...and then the process dies before commit

    monkeypatch.setattr(instances, "persist", crash_after_writing_half)
    with pytest.raises(WorkflowFailed) as err:
        instances.complete_task(core, people["coordinator"], task["id"], ANSWERS)
    assert "power cut" in err.value.message
    with core.db.session() as s:
        instance = s.get(Instance, started["id"])
        assert instance.state == before and instance.status == "error"
        assert s.get(HumanTask, task["id"]).state == "ready"
        assert s.scalar(select(func.count()).select_from(Event)) == events_before + 1  # only the error note
    monkeypatch.setattr(instances, "persist", real_persist)
    retried = instances.retry(core, people["manager"], started["id"])
    assert retried["status"] == "completed" and retried["error"] is None
    done = [e for e in instances.list_events(core, people["manager"], started["id"]) if e["kind"] == "task_completed"]
    assert done[0]["actor"] == "coord" and done[0]["detail"]["retried_by"] == "boss"


def test_a_failing_timer_is_recorded_backs_off_and_fires_later(core, people, triage, frozen_clock, monkeypatch):
    started = start(core, people["coordinator"])
    frozen_clock.advance(timedelta(days=2, seconds=1))

    def broken(workflow, now):
        raise RuntimeError("disk full")

    monkeypatch.setattr(core, "steps", Engine(core.host))  # the engine in this process, where the patch below reaches
    monkeypatch.setattr(core.host, "fire_timers", broken)
    assert instances.fire_due_timers(core) == 0
    with core.db.session() as s:
        instance = s.get(Instance, started["id"])
        assert instance.status == "error" and instance.error_action == {"kind": "timer"}
        [timer] = s.scalars(select(PendingTimer)).all()
        assert timer.attempts == 1 and timer.retry_at == frozen_clock.now() + timedelta(minutes=1)
    assert instances.fire_due_timers(core) == 0  # backing off, not spinning
    monkeypatch.undo()
    frozen_clock.advance(timedelta(minutes=1))
    assert instances.fire_due_timers(core) == 1
    assert instances.get_instance(core, people["manager"], started["id"])["status"] == "running"
    assert [t["name"] for t in instances.list_ready_tasks(core, people["headteacher"], started["id"])] == ["Chase late triage"]


def test_a_completion_sends_its_code_early_and_takes_the_answer_only_on_the_state_it_reads(core, people, triage, monkeypatch):
    """A completion's diagram code goes to a worker before its transaction begins, on the state this process wrote last
    on the placement (services/written.py); the transaction takes that answer only if the instance it reads still holds
    exactly that state, else runs the step again on what it read. Nobody's code runs early for a task that is plainly
    not theirs, or for answers the form refuses."""
    sent, plans = [], []
    submit, run, complete_early = core.steps.submit, core.steps.run, instances._complete_early
    monkeypatch.setattr(core.steps, "submit", lambda key, *args: sent.append("submit") or submit(key, *args))
    monkeypatch.setattr(core.steps, "run", lambda key, *args: sent.append("run") or run(key, *args))
    monkeypatch.setattr(instances, "_complete_early", lambda *args: plans.append(complete_early(*args)) or plans[-1])
    stopped = core.steps.pool.stopped
    coordinator = people["coordinator"]

    def ready(instance_id):
        [task] = instances.list_ready_tasks(core, coordinator, instance_id)
        sent.clear()
        return task["id"]

    started = start(core, coordinator)
    done = instances.complete_task(core, coordinator, ready(started["id"]), ANSWERS)
    assert done["instance"]["data"]["status"] == "accepted" and sent == ["submit"]
    assert plans[-1] is not None and not plans[-1].early  # sent early, and that answer taken

    # Another process writes the placement (its lock version moves on, the state stays): the early answer is not taken.
    started = start(core, coordinator)
    task_id = ready(started["id"])
    with core.db.session() as s:
        instance = s.get(Instance, started["id"])
        instance.updated_at += timedelta(seconds=1)
    done = instances.complete_task(core, coordinator, task_id, {**ANSWERS, "decision": "decline"})
    assert done["instance"]["data"]["decision"] == "decline" and "status" not in done["instance"]["data"]
    assert len(sent) == 2 and plans[-1].early
    assert core.steps.pool.stopped == stopped  # the answer nobody took was read: its worker went back to the pool

    # Nothing runs for someone who may not complete the task, nor for answers the form refuses.
    started = start(core, coordinator)
    task_id = ready(started["id"])
    with pytest.raises(NotFound):  # a coordinator's task: the headteacher does not even see it
        instances.complete_task(core, people["headteacher"], task_id, ANSWERS)
    with pytest.raises(Invalid):
        instances.complete_task(core, coordinator, task_id, {"decision": "maybe"})
    assert sent == [] and plans[-2:] == [None, None]


def test_a_start_sends_its_code_early_and_takes_the_answer_only_for_the_version_it_reads(core, people, triage, tmp_path, monkeypatch):
    """A start's diagram code goes to a worker before its transaction begins, on the newest version this process has
    seen started; the transaction takes that answer only if it reads the same version, else runs the step again on the
    version it read. The early answer nobody takes is read, so its worker goes back to the pool (not stopped)."""
    assert core.steps.isolated
    sent = []  # the version each run went to a worker for (sent early, or run in the step)
    submit, run = core.steps.submit, core.steps.run
    monkeypatch.setattr(core.steps, "submit", lambda key, *args: sent.append(key) or submit(key, *args))
    monkeypatch.setattr(core.steps, "run", lambda key, *args: sent.append(key) or run(key, *args))
    stopped = core.steps.pool.stopped

    start(core, people["coordinator"])  # the first start of the process here: nothing seen to send early
    assert [key.split(":")[0] for key in sent] == ["referral_triage"]
    sent.clear()
    second = start(core, people["coordinator"])
    assert len(sent) == 1 and second["version"] == 1  # sent early, and that answer taken

    changed = tmp_path / "referral_triage.bpmn"
    changed.write_text(flow_diagram(pid="referral_triage", form="chase_triage.schema.json"))
    [deployed] = processes.deploy_paths(core, [changed], by="test")
    sent.clear()
    third = start(core, people["coordinator"])
    assert third["version"] == 2 and len(sent) == 2 and sent[0] != sent[1]  # sent early on version 1, run again on 2
    [task] = instances.list_ready_tasks(core, people["coordinator"], third["id"])
    assert task["name"] == "Check"  # version 2's first task, not version 1's "Triage referral"
    assert core.steps.pool.stopped == stopped
    sent.clear()
    start(core, people["coordinator"])
    assert len(sent) == 1  # version 2 is now the one sent early
