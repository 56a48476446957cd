"""Run workflows: start, restore, complete tasks, fire timers, and describe what is waiting.

Every workflow this module hands out carries the sandboxed script engine, including after a
restore: SpiffWorkflow does not serialize the script engine and would otherwise fall back to
plain eval/exec.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimeDateEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import ManualTask, UserTask
from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition
from SpiffWorkflow.util.task import TaskState

from apflow.clock import clock
from apflow.logs import SPIFF_LOGGERS

from .diagrams import SpecBundle, as_duration, normalise_timer_expression, task_properties
from .forms import FormRef, form_ref
from .sandbox import SandboxedScriptEngine

DUE_IN_PROPERTY = "dueIn"
ASSIGN_TO_PROPERTY = "assignTo"
ALERT_PROPERTY = "alert"
ESCALATE_TO_PROPERTY = "escalateTo"


class TaskNotReady(Exception):
    """The task is not waiting for a person (already done, cancelled, or not reached yet)."""


@dataclass(frozen=True)
class ReadyHumanTask:
    id: str
    spec_id: str
    name: str
    lane: str | None
    form: FormRef
    due_in: str | None
    documentation: str | None
    manual: bool
    process_id: str
    assign_to: str | None = None
    alert: str | None = None  # the task property `alert`: tell the lane's people at once when the task is ready
    escalate_to: str | None = None  # the task property `escalateTo`: roles told in turn when it is overdue


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    spec_id: str
    name: str
    due_at: datetime
    kind: str
    attached_to: str | None = None  # the id of the task a boundary timer watches


@dataclass(frozen=True)
class FiredTimer:
    task_id: str
    skipped: int  # missed cycles of a cycle timer that were not fired one by one


def _attached_task_id(task) -> str | None:
    """For a boundary event: the id of the activity it is attached to (its sibling under the split)."""
    if not isinstance(task.task_spec, BoundaryEvent) or task.parent is None:
        return None
    for sibling in task.parent.children:
        if sibling is not task and not isinstance(sibling.task_spec, BoundaryEvent):
            return str(sibling.id)
    return None


def _aware(value: datetime) -> datetime:
    """A plain, timezone-aware UTC datetime (SpiffWorkflow may hand back the clock's subclass)."""
    plain = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                     value.microsecond, value.tzinfo or timezone.utc)
    return plain.astimezone(timezone.utc)


class _ClockDatetime(datetime):
    """datetime whose now() reads apflow's clock; handed to SpiffWorkflow's timer module."""

    @classmethod
    def now(cls, tz=None):
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)


def use_apflow_clock() -> None:
    """SpiffWorkflow's timer events call datetime.now() themselves: point them at apflow's clock so engine
    timers and apflow agree on what time it is (and tests can move it). Done by every WorkflowHost."""
    timer_module.datetime = _ClockDatetime


# SpiffWorkflow gathers extra detail for each task state change whenever its loggers' own level is below
# INFO, which it is until someone sets it (about a third of a step's time). apflow.logs sets these levels
# for the `apflow` command; a host made anywhere else (another WSGI server, a script) gets WARNING unless
# the embedding program chose a level itself.
def quiet_spiff_logging() -> None:
    for name in SPIFF_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


class WorkflowHost:
    """Creates, restores and drives SpiffWorkflow workflows for apflow."""

    def __init__(self, helpers: dict | None = None, script_seconds: float = 1.0):
        use_apflow_clock()
        quiet_spiff_logging()
        self.script_engine = SandboxedScriptEngine(helpers={"as_duration": as_duration, **(helpers or {})}, max_seconds=script_seconds)
        self.registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
        self.serializer = BpmnWorkflowSerializer(self.registry)
        self._workflow_converter = self.registry.convert_from_dict[self.registry.typenames[BpmnWorkflow]].args[0].__self__

    # -- specs -----------------------------------------------------------------------------
    def spec_to_dict(self, bundle: SpecBundle) -> dict:
        return {
            "process_id": bundle.process_id,
            "spec": self.registry.convert(bundle.spec),
            "subprocess_specs": {name: self.registry.convert(spec) for name, spec in bundle.subprocess_specs.items()},
        }

    def spec_from_dict(self, data: dict) -> SpecBundle:
        return SpecBundle(
            data["process_id"],
            self.registry.restore(data["spec"]),
            {name: self.registry.restore(spec) for name, spec in data["subprocess_specs"].items()},
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, bundle: SpecBundle, data: dict | None = None) -> BpmnWorkflow:
        workflow = BpmnWorkflow(bundle.spec, bundle.subprocess_specs, script_engine=self.script_engine)
        start = workflow.task_tree
        start.data.update(data or {})
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data or {})
        workflow.data.update(data or {})
        workflow.do_engine_steps()
        return workflow

    def dump(self, workflow: BpmnWorkflow) -> dict:
        """The instance's own state, without the spec (stored once per deployed version)."""
        state = self.serializer.to_dict(workflow)
        state.pop("spec", None)
        state.pop("subprocess_specs", None)
        state[self.serializer.VERSION_KEY] = self.serializer.VERSION
        return state

    def load(self, state: dict, bundle: SpecBundle) -> BpmnWorkflow:
        state = dict(state)
        state.pop(self.serializer.VERSION_KEY, None)
        converter = self._workflow_converter
        workflow = BpmnWorkflow(bundle.spec, bundle.subprocess_specs, script_engine=self.script_engine, deserializing=True)
        workflow.tasks = converter.mapping_from_dict(state["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(state["root"]))
        converter.set_default_attributes(workflow, state)
        converter.subprocesses_from_dict(dict(state.get("subprocesses", {})), workflow)
        workflow.bpmn_events = self.registry.restore(state.get("bpmn_events", []))
        workflow.script_engine = self.script_engine
        # Subprocesses (call activities, embedded subprocesses) read the script engine from the top
        # workflow: BpmnSubWorkflow.script_engine is a read-only property delegating to it.
        return workflow

    # -- reading ---------------------------------------------------------------------------
    def ready_human_tasks(self, workflow: BpmnWorkflow) -> list[ReadyHumanTask]:
        tasks = []
        for task in workflow.get_tasks(state=TaskState.READY):
            spec = task.task_spec
            if not isinstance(spec, (UserTask, ManualTask)):
                continue
            tasks.append(ReadyHumanTask(
                id=str(task.id),
                spec_id=spec.bpmn_id or spec.name,
                name=spec.bpmn_name or spec.bpmn_id or spec.name,
                lane=spec.lane,
                form=form_ref(spec),
                due_in=task_properties(spec).get(DUE_IN_PROPERTY) or None,
                documentation=spec.documentation,
                manual=isinstance(spec, ManualTask),
                process_id=task.workflow.spec.name,
                assign_to=task_properties(spec).get(ASSIGN_TO_PROPERTY) or None,
                alert=task_properties(spec).get(ALERT_PROPERTY) or None,
                escalate_to=task_properties(spec).get(ESCALATE_TO_PROPERTY) or None,
            ))
        return tasks

    def waiting_timers(self, workflow: BpmnWorkflow) -> list[WaitingTimer]:
        timers = []
        for task in workflow.get_tasks(state=TaskState.WAITING):
            spec = task.task_spec
            event = getattr(spec, "event_definition", None)
            if not isinstance(spec, CatchingEvent) or not isinstance(event, TimerEventDefinition):
                continue
            value = task._get_internal_data("event_value")
            if value is None:
                continue
            if isinstance(event, CycleTimerEventDefinition):
                if value.get("cycles") == 0:
                    continue
                due, kind = datetime.fromisoformat(value["next"]), "cycle"
            elif isinstance(event, TimeDateEventDefinition):
                due, kind = TimerEventDefinition.parse_time_or_duration(value), "date"
            else:
                due, kind = TimerEventDefinition.get_datetime(value), "duration"
            timers.append(WaitingTimer(str(task.id), spec.bpmn_id or spec.name, spec.bpmn_name or spec.bpmn_id or spec.name,
                                       _aware(due), kind, _attached_task_id(task)))
        return timers

    def task_data(self, workflow: BpmnWorkflow, task_id: str) -> dict:
        return dict(self._task(workflow, task_id).data)

    def task_properties(self, workflow: BpmnWorkflow, task_id: str) -> dict:
        return task_properties(self._task(workflow, task_id).task_spec)

    def start_properties(self, bundle: SpecBundle) -> dict:
        """Properties of the process's start event (where a diagram names what starting records)."""
        for spec in bundle.spec.task_specs.values():
            if type(spec).__name__ == "StartEvent" and getattr(spec, "bpmn_id", None):
                return task_properties(spec)
        return {}

    def current_data(self, workflow: BpmnWorkflow) -> dict:
        """The process data as it stands: the finished workflow's data, else the latest task's."""
        if workflow.completed:
            return dict(workflow.data)
        task = workflow.last_task or workflow.task_tree
        return dict(task.data)

    def is_completed(self, workflow: BpmnWorkflow) -> bool:
        return bool(workflow.completed)

    def due_time(self, workflow: BpmnWorkflow, task_id: str, due_in: str, start: datetime) -> datetime:
        """When a task with a dueIn property is due: an ISO duration from `start`, or a date."""
        task = self._task(workflow, task_id)
        value = self.script_engine.evaluate(task, normalise_timer_expression(due_in))
        if isinstance(value, datetime):
            return _aware(value)
        parsed = TimerEventDefinition.parse_time_or_duration(str(value))
        if isinstance(parsed, datetime):
            return _aware(parsed)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)

    # -- acting ----------------------------------------------------------------------------
    def complete(self, workflow: BpmnWorkflow, task_id: str, data: dict) -> None:
        task = self._task(workflow, task_id)
        if task.state != TaskState.READY or not isinstance(task.task_spec, (UserTask, ManualTask)):
            raise TaskNotReady(task_id)
        task.set_data(**data)
        task.run()
        workflow.do_engine_steps()

    def fire_timers(self, workflow: BpmnWorkflow, now: datetime) -> list[FiredTimer]:
        """Fire what is due. A cycle timer that missed several cycles (downtime) fires once, not once per cycle."""
        skipped = {}
        for task in workflow.get_tasks(state=TaskState.WAITING):
            event = getattr(task.task_spec, "event_definition", None)
            value = task._get_internal_data("event_value")
            if not isinstance(event, CycleTimerEventDefinition) or not isinstance(value, dict) or value.get("cycles") == 0:
                continue
            next_at, period = datetime.fromisoformat(value["next"]), value["duration"]
            missed = int((now - _aware(next_at)).total_seconds() // period) if period > 0 and next_at < now else 0
            if value["cycles"] > 0:
                missed = min(missed, value["cycles"] - 1)
            if missed > 0:
                value["next"] = (next_at + timedelta(seconds=missed * period)).isoformat()
                if value["cycles"] > 0:
                    value["cycles"] -= missed
                skipped[str(task.id)] = missed
        due_before = {t.task_id for t in self.waiting_timers(workflow) if t.due_at <= now}
        workflow.refresh_timers()
        workflow.do_engine_steps()
        return [FiredTimer(task_id, skipped.get(task_id, 0)) for task_id in sorted(due_before)]

    def signal(self, workflow: BpmnWorkflow, name: str) -> bool:
        """Send a named signal into the workflow; False (and nothing changes) when nothing is waiting for it."""
        definitions = (getattr(task.task_spec, "event_definition", None) for task in workflow.get_tasks(state=TaskState.WAITING))
        waiting = (d.name for d in definitions if type(d).__name__ == "SignalEventDefinition")
        if name not in waiting:
            return False
        workflow.send_event(BpmnEvent(SignalEventDefinition(name)))
        workflow.do_engine_steps()
        return True

    def _task(self, workflow: BpmnWorkflow, task_id: str):
        try:
            task = workflow.get_task_from_id(UUID(str(task_id)))
        except (ValueError, KeyError, TypeError):
            task = None
        if task is None:
            raise TaskNotReady(task_id)
        return task
