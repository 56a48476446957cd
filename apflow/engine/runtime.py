"""Run workflows: start, restore, complete tasks, fire timers, and describe what is waiting.

Every workflow this module hands out carries the sandboxed script engine, including after a
restore: SpiffWorkflow does not serialize the script engine and would otherwise fall back to
plain eval/exec.
"""
from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
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
from .interop import assignee_of
from .prune import cut_finished_rounds, drop_finished_subprocesses
from .sandbox import SandboxedScriptEngine, SandboxLimitExceeded
from .service_tasks import effects_of, reset_effects

DUE_IN_PROPERTY = "dueIn"
ASSIGN_TO_PROPERTY = "assignTo"
ALERT_PROPERTY = "alert"
ESCALATE_TO_PROPERTY = "escalateTo"
# Scripts, gateways, events and calls one action may run before the process waits for a person or a timer:
# a process that calls itself, or goes round a circle of automatic steps, is stopped here whatever its code.
MAX_AUTOMATIC_STEPS = 10_000
MAX_CALL_DEPTH = 25  # processes started by call activities inside each other (each level makes the next slower)


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
    assignee: str | None = None  # a username the diagram names (`assignee`, Camunda's assignee or one candidate user)
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


@dataclass
class StepOutcome:
    """What one action on an instance left behind, as plain data: everything the services write down after it.

    Made by WorkflowHost.run_step, in the web process or in a worker process (apflow.engine.workers)."""
    state: dict | None            # the instance's state to store (None: nothing changed)
    completed: bool
    data: dict                    # the process data after the action
    ready: list[ReadyHumanTask]
    waiting: list[WaitingTimer]
    due: dict[str, datetime]      # due time (from its dueIn) of each ready task that was not ready before
    before: dict = field(default_factory=dict)                     # the process data before the action
    timers_before: list[WaitingTimer] = field(default_factory=list)
    fired: list[FiredTimer] = field(default_factory=list)
    caught: bool = True           # a signal: whether anything was waiting for it
    effects: list[dict] = field(default_factory=list)  # operations its service tasks asked for (engine/service_tasks.py)
    # Each ready human task's data and properties, as a restore of `state` would give them (the web process's copy of
    # the step it wrote: services/written.py); None when some value would not come back the same (a worker's answer
    # turned a date into text).
    task_data: dict[str, dict] | None = None
    task_properties: dict[str, dict] | None = None


class _Meter:
    """Counts the automatic steps of one action and shows each task about to run to the host's observer."""

    def __init__(self, observer, limit: int = MAX_AUTOMATIC_STEPS):
        self.observer, self.limit, self.count = observer, limit, 0

    def __call__(self, task) -> None:
        self.count += 1
        if self.observer is not None:
            self.observer(task)
        if getattr(task.workflow, "depth", 0) > MAX_CALL_DEPTH:
            caller = task.workflow.top_workflow.get_task_from_id(task.workflow.parent_task_id)  # the call activity
            raise WorkflowTaskException(
                f"processes were started inside each other more than {MAX_CALL_DEPTH} deep and were stopped; check for a "
                "process that calls itself, directly or through others", task=caller or task,
                exception=SandboxLimitExceeded(f"step limit reached: calls nested more than {MAX_CALL_DEPTH} deep"))
        if self.count > self.limit:
            raise WorkflowTaskException(
                f"the process ran {self.limit:,} automatic steps (scripts, gateways, events, calls) without waiting "
                "for anyone and was stopped; check for a process that calls itself or a circle that never ends", task=task,
                exception=SandboxLimitExceeded(f"step limit reached: more than {self.limit:,} automatic steps in one go"))


_CLASS_PREFIX = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception|Exceeded|Violation):\s*")
_SPIFF_WRAPPER = re.compile(r"^Error (evaluating expression|executing)")


def describe_failure(err: BaseException) -> str:
    """One line for people about a step that failed: the diagram element where it failed and why, without
    Python's class names or SpiffWorkflow's repeated notes (a worker process sends this to the server)."""
    parts: list[str] = []
    seen: set[int] = set()
    current = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        task_spec = getattr(current, "task_spec", None) or getattr(getattr(current, "task", None), "task_spec", None)
        where = element_name(task_spec)
        if where and not parts:
            parts.append(f"at '{where}'")
        text = current.args[0] if len(current.args) == 1 and isinstance(current.args[0], str) else str(current)
        text = _CLASS_PREFIX.sub("", text.strip())[:500]
        if getattr(current, "exception", None) is not None and _SPIFF_WRAPPER.match(text):
            text = ""  # SpiffWorkflow's "Error evaluating expression '...'": the cause below says what went wrong
        if text and not any(text in part for part in parts):
            parts.append(text)
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return " - ".join(parts)[:2000] or "the step failed"


def element_name(task_spec) -> str | None:
    """The name people see on a diagram element (a loop or multi-instance wraps the task that carries it)."""
    if task_spec is None:
        return None
    inner = getattr(task_spec, "task_spec", None)
    inner_spec = getattr(getattr(task_spec, "_wf_spec", None), "task_specs", {}).get(inner) if isinstance(inner, str) else None
    return (getattr(task_spec, "bpmn_name", None) or getattr(inner_spec, "bpmn_name", None)
            or getattr(task_spec, "bpmn_id", None))


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
        self._observer = None

    @property
    def observer(self):
        """Called with each task before it runs or its diagram code is evaluated (a worker process shows it)."""
        return self._observer

    @observer.setter
    def observer(self, value) -> None:
        self._observer = value
        self.script_engine.observer = value

    def _engine_steps(self, workflow: BpmnWorkflow) -> None:
        workflow.do_engine_steps(will_complete_task=_Meter(self._observer))

    # -- specs -----------------------------------------------------------------------------
    def spec_to_dict(self, bundle: SpecBundle) -> dict:
        return {
            "process_id": bundle.process_id,
            "spec": self.registry.convert(bundle.spec),
            "subprocess_specs": {name: self.registry.convert(spec) for name, spec in bundle.subprocess_specs.items()},
        }

    def spec_from_dict(self, data: dict) -> SpecBundle:
        data = copy.deepcopy(data)  # SpiffWorkflow's converters take parts out of what they read
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
        self._engine_steps(workflow)
        return workflow

    def dump(self, workflow: BpmnWorkflow) -> dict:
        """The instance's own state, without the spec (stored once per deployed version) and without the subprocesses
        that have finished, nor the completed earlier rounds of its loops (engine/prune.py: a placement's reviews and
        absence follow-ups would otherwise pile up in it)."""
        cut_finished_rounds(workflow)
        state = drop_finished_subprocesses(self.serializer.to_dict(workflow))
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
        return [self._ready_human_task(task) for task in self._human_tasks_ready(workflow)]

    @staticmethod
    def _human_tasks_ready(workflow: BpmnWorkflow) -> list:
        return [task for task in workflow.get_tasks(state=TaskState.READY) if isinstance(task.task_spec, (UserTask, ManualTask))]

    @staticmethod
    def _ready_human_task(task) -> ReadyHumanTask:
        spec = task.task_spec
        properties = task_properties(spec)
        return ReadyHumanTask(
            id=str(task.id),
            spec_id=spec.bpmn_id or spec.name,
            name=spec.bpmn_name or spec.bpmn_id or spec.name,
            lane=spec.lane,
            form=form_ref(spec),
            due_in=properties.get(DUE_IN_PROPERTY) or None,
            documentation=spec.documentation,
            manual=isinstance(spec, ManualTask),
            process_id=task.workflow.spec.name,
            assign_to=properties.get(ASSIGN_TO_PROPERTY) or None,
            assignee=assignee_of(properties),
            alert=properties.get(ALERT_PROPERTY) or None,
            escalate_to=properties.get(ESCALATE_TO_PROPERTY) or None,
        )

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
        if not isinstance(value, str):
            kind = ("nothing" if value is None else "true or false" if isinstance(value, bool) else "a number"
                    if isinstance(value, (int, float)) else "a list" if isinstance(value, (list, tuple, set)) else "an object")
            raise WorkflowTaskException(f"its dueIn gave {kind}, not a duration or a date", task=task)
        try:
            parsed = TimerEventDefinition.parse_time_or_duration(value)
            if isinstance(parsed, datetime):
                return _aware(parsed)
            return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
        except (ValueError, TypeError, OverflowError) as err:
            raise WorkflowTaskException(f"its dueIn '{value[:40]}' is not a duration or a date", task=task, exception=err) from None

    # -- acting ----------------------------------------------------------------------------
    def complete(self, workflow: BpmnWorkflow, task_id: str, data: dict) -> None:
        task = self._task(workflow, task_id)
        if task.state != TaskState.READY or not isinstance(task.task_spec, (UserTask, ManualTask)):
            raise TaskNotReady(task_id)
        task.set_data(**data)
        if self._observer is not None:
            self._observer(task)
        task.run()
        self._engine_steps(workflow)

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
        self._engine_steps(workflow)
        return [FiredTimer(task_id, skipped.get(task_id, 0)) for task_id in sorted(due_before)]

    def signal(self, workflow: BpmnWorkflow, name: str) -> bool:
        """Send a named signal into the workflow; False (and nothing changes) when nothing is waiting for it."""
        definitions = (getattr(task.task_spec, "event_definition", None) for task in workflow.get_tasks(state=TaskState.WAITING))
        waiting = (d.name for d in definitions if type(d).__name__ == "SignalEventDefinition")
        if name not in waiting:
            return False
        workflow.send_event(BpmnEvent(SignalEventDefinition(name)))
        self._engine_steps(workflow)
        return True

    # -- one action, start to finish -------------------------------------------------------
    def run_step(self, bundle: SpecBundle, state: dict | None, action: dict, now: datetime | None = None,
                 workflow: BpmnWorkflow | None = None) -> StepOutcome:
        """One action on one instance, from its stored state to what must be stored after it.

        action: {"kind": "start", "data"}, {"kind": "complete", "task_id", "data"}, {"kind": "fire"} or
        {"kind": "signal", "name"}; "known_ready" may list the tasks the caller already has rows for (due
        times are worked out for the others). workflow: the instance already restored from state, if the caller
        has it. This runs the diagram's code: the services call it through apflow.engine.workers, in a worker
        process with limits, unless that is turned off.
        """
        now = now or clock.now()
        kind = action["kind"]
        before: dict = {}
        timers_before: list[WaitingTimer] = []
        if kind == "start":
            workflow = self.start(bundle, action.get("data"))
            known: set[str] = set()
        else:
            workflow = workflow if workflow is not None else self.load(state, bundle)
            reset_effects(workflow)
            before, timers_before = self.current_data(workflow), self.waiting_timers(workflow)
            known = set(action["known_ready"]) if action.get("known_ready") is not None else {
                t.id for t in self.ready_human_tasks(workflow)}
        fired: list[FiredTimer] = []
        if kind == "complete":
            self.complete(workflow, action["task_id"], action.get("data") or {})
        elif kind == "fire":
            fired = self.fire_timers(workflow, now)
        elif kind == "signal":
            if not self.signal(workflow, action["name"]):
                return StepOutcome(None, False, before, [], timers_before, {}, before, timers_before, caught=False)
        elif kind != "start":
            raise ValueError(f"unknown action {kind!r}")
        return self.outcome(workflow, now, known, before=before, timers_before=timers_before, fired=fired)

    def outcome(self, workflow: BpmnWorkflow, now: datetime, known_ready=(), **extra) -> StepOutcome:
        """The workflow as plain data to store, with the due time of each ready task not in known_ready."""
        tasks = {str(task.id): task for task in self._human_tasks_ready(workflow)}
        ready = [self._ready_human_task(task) for task in tasks.values()]
        due = {t.id: self.due_time(workflow, t.id, t.due_in, now) for t in ready if t.due_in and t.id not in known_ready}
        return StepOutcome(self.dump(workflow), self.is_completed(workflow), self.current_data(workflow), ready,
                           self.waiting_timers(workflow), due, effects=effects_of(workflow),
                           task_data={i: dict(t.data) for i, t in tasks.items()},
                           task_properties={i: task_properties(t.task_spec) for i, t in tasks.items()}, **extra)

    def _task(self, workflow: BpmnWorkflow, task_id: str):
        try:
            task = workflow.get_task_from_id(UUID(str(task_id)))
        except (ValueError, KeyError, TypeError):
            task = None
        if task is None:
            raise TaskNotReady(task_id)
        return task
