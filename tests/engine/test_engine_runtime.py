"""The engine on its own: no Flask, no database."""
from datetime import timedelta

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from apflow.config import ROOT
from apflow.engine.diagrams import parse_sources
from apflow.engine.runtime import TaskNotReady, WorkflowHost
from apflow.engine.sandbox import SandboxedScriptEngine
from tests.bpmn_builder import flow_diagram


@pytest.fixture
def host():
    return WorkflowHost()


@pytest.fixture
def triage_bundle():
    source = (ROOT / "bpmn" / "referral_triage.bpmn").read_bytes()
    return parse_sources({"referral_triage.bpmn": source}).bundle("referral_triage")


def test_start_offers_the_first_human_task_with_its_lane_form_and_due_property(host, triage_bundle):
    workflow = host.start(triage_bundle, {"reasons": ["attendance"]})
    [task] = host.ready_human_tasks(workflow)
    assert (task.name, task.lane, task.due_in) == ("Triage referral", "AP Coordinator", "P3D")
    assert task.form.schema_file == "triage_referral.schema.json"
    assert task.form.ui_file == "triage_referral.uischema.json"


def test_plain_iso_boundary_timer_is_pending_with_its_due_time(host, triage_bundle, frozen_clock):
    workflow = host.start(triage_bundle, {"reasons": ["attendance"]})
    [timer] = host.waiting_timers(workflow)
    assert timer.spec_id == "Timer_triage_late"
    assert timer.due_at == frozen_clock.now() + timedelta(days=2)


def test_state_round_trip_keeps_tasks_and_timers_without_storing_the_spec(host, triage_bundle):
    workflow = host.start(triage_bundle, {"reasons": ["attendance"]})
    state = host.dump(workflow)
    assert "spec" not in state and "subprocess_specs" not in state
    restored = host.load(state, triage_bundle)
    assert [t.id for t in host.ready_human_tasks(restored)] == [t.id for t in host.ready_human_tasks(workflow)]
    assert host.waiting_timers(restored) == host.waiting_timers(workflow)


def test_sandbox_is_reattached_after_every_restore(host, triage_bundle):
    workflow = host.load(host.dump(host.start(triage_bundle, {"reasons": []})), triage_bundle)
    assert isinstance(workflow.script_engine, SandboxedScriptEngine)


def test_restored_workflow_refuses_a_malicious_script(host):
    parsed = parse_sources({"bad.bpmn": flow_diagram(script="import os\nos.system('touch /tmp/apflow-pwned')").encode()})
    bundle = parsed.bundle("checked")
    workflow = host.load(host.dump(host.start(bundle, {})), bundle)
    [task] = host.ready_human_tasks(workflow)
    with pytest.raises(WorkflowTaskException):
        host.complete(workflow, task.id, {"outcome": "ok"})


def test_completing_runs_script_and_gateway_to_the_end(host, triage_bundle):
    workflow = host.start(triage_bundle, {"reasons": ["attendance", "medical"]})
    [task] = host.ready_human_tasks(workflow)
    host.complete(workflow, task.id, {"decision": "accept", "rationale": "Attendance below 50%"})
    assert host.is_completed(workflow)
    data = host.current_data(workflow)
    assert data["status"] == "accepted" and data["priority"] == "high"


def test_boundary_timer_fires_when_the_clock_passes_it(host, triage_bundle, frozen_clock):
    workflow = host.start(triage_bundle, {"reasons": ["attendance"]})
    frozen_clock.advance(timedelta(days=1))
    host.fire_timers(workflow, frozen_clock.now())
    assert [t.name for t in host.ready_human_tasks(workflow)] == ["Triage referral"]
    frozen_clock.advance(timedelta(days=1, seconds=1))
    host.fire_timers(workflow, frozen_clock.now())
    names = sorted(t.name for t in host.ready_human_tasks(workflow))
    assert names == ["Chase late triage", "Triage referral"]
    assert host.waiting_timers(workflow) == []


def test_completing_a_task_twice_is_refused(host, triage_bundle):
    workflow = host.start(triage_bundle, {"reasons": ["attendance"]})
    [task] = host.ready_human_tasks(workflow)
    host.complete(workflow, task.id, {"decision": "decline", "rationale": "Needs met in school"})
    with pytest.raises(TaskNotReady):
        host.complete(workflow, task.id, {"decision": "decline", "rationale": "Needs met in school"})


def test_due_time_from_due_in_property(host, triage_bundle, frozen_clock):
    workflow = host.start(triage_bundle, {"reasons": ["attendance"]})
    [task] = host.ready_human_tasks(workflow)
    assert host.due_time(workflow, task.id, task.due_in, frozen_clock.now()) == frozen_clock.now() + timedelta(days=3)


@pytest.mark.parametrize("expression", ["P2D", "'P2D'", '"P2D"'])
def test_timer_accepts_plain_and_quoted_iso(host, expression, frozen_clock):
    bundle = parse_sources({"t.bpmn": flow_diagram(timer=expression).encode()}).bundle("checked")
    [timer] = host.waiting_timers(host.start(bundle, {}))
    assert timer.due_at == frozen_clock.now() + timedelta(days=2)


def test_spec_serialises_and_restores_for_storage_per_version(host, triage_bundle):
    restored = host.spec_from_dict(host.spec_to_dict(triage_bundle))
    workflow = host.start(restored, {"reasons": ["attendance"]})
    assert [t.name for t in host.ready_human_tasks(workflow)] == ["Triage referral"]
