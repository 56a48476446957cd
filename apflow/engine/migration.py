"""Whether a running workflow can move to another version of its process, and moving it: every task it has
reached must still exist as the same kind of step, and the ones it is on now must keep their lane, form,
timer and signal; what the engine had only predicted is rebuilt from the new version."""
from __future__ import annotations

import copy
import re

from SpiffWorkflow.util.task import TaskState

from .diagrams import task_properties
from .forms import SCHEMA_PROPERTY, UI_PROPERTY
from .runtime import DUE_IN_PROPERTY

# Tasks the engine has only predicted (not reached); they are rebuilt from the new version on a move.
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE


FINISHED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR


ACTIVE = TaskState.READY | TaskState.STARTED


def _label(task_spec, name: str) -> str:
    if task_spec is None:
        return name
    base = getattr(task_spec, "bpmn_name", None) or getattr(task_spec, "bpmn_id", None)
    if base:
        return base
    for suffix, words in ((".BoundaryEventSplit", "the events on "), (".BoundaryEventJoin", "the events on "), (".EndJoin", "the end of ")):
        if name.endswith(suffix):
            return words + name[:-len(suffix)]
    return name


def _kind(task_spec) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(task_spec).__name__).lower().strip("_ ")
    return words


def _event_summary(task_spec) -> str | None:
    """What an event waits for, in words: 'timer P2D', 'signal concern_raised'."""
    event = getattr(task_spec, "event_definition", None)
    if event is None:
        return None
    expression = getattr(event, "expression", None)
    if isinstance(expression, str):
        if expression.startswith("as_duration(") and expression.endswith(")"):
            expression = expression[len("as_duration("):-1]
        return f"timer {expression.strip(chr(39) + chr(34))}"
    kind = type(event).__name__.replace("EventDefinition", "").lower() or "event"
    return f"{kind} {getattr(event, 'name', None) or ''}".strip()


def _form_of(task_spec) -> tuple:
    props = task_properties(task_spec)
    return props.get(SCHEMA_PROPERTY), props.get(UI_PROPERTY)


def _trees(state: dict, process_id: str) -> list[tuple[str, dict]]:
    """(spec name, tasks) for the instance's own task tree and each subprocess's."""
    trees = [(process_id, state.get("tasks", {}))]
    for sub in (state.get("subprocesses") or {}).values():
        trees.append((sub.get("spec"), sub.get("tasks", {})))
    return trees


def _is_prediction(task: dict, tasks: dict) -> bool:
    """A task the engine only expects to reach: predicted, under a task that is not finished yet."""
    if not task["state"] & PREDICTED:
        return False
    parent = tasks.get(task.get("parent")) if task.get("parent") else None
    return parent is not None and not parent["state"] & FINISHED


def move_problems(old_bundle, new_bundle, state: dict, new_version: int) -> list[str]:
    """Why an instance in `state` cannot move from old_bundle to new_bundle, in words; [] when it can.

    The rule: every task it has reached (done, doing, waiting) must still exist with the same
    kind of step, and the ones it is on now must keep their lane, form, timer and signal.
    """
    old_specs = {old_bundle.spec.name: old_bundle.spec, **old_bundle.subprocess_specs}
    new_specs = {new_bundle.spec.name: new_bundle.spec, **new_bundle.subprocess_specs}
    reasons: list[str] = []
    for spec_name, tasks in _trees(state, old_bundle.spec.name):
        old_spec, new_spec = old_specs.get(spec_name), new_specs.get(spec_name)
        if new_spec is None:
            reasons.append(f"It is inside the subprocess '{spec_name}', which version {new_version} no longer has.")
            continue
        for task in tasks.values():
            if _is_prediction(task, tasks):
                continue
            name = task["task_spec"]
            before = old_spec.task_specs.get(name) if old_spec else None
            after = new_spec.task_specs.get(name)
            label = _label(before, name)
            state_bits = task["state"]
            doing = "is on" if state_bits & ACTIVE else "is waiting at" if state_bits & TaskState.WAITING else "has passed"
            if after is None:
                reasons.append(f"It {doing} '{label}', which version {new_version} no longer has.")
                continue
            if before is not None and type(before) is not type(after):
                reasons.append(f"It {doing} '{label}', which changed from a {_kind(before)} to a {_kind(after)}.")
                continue
            if before is None or not state_bits & (ACTIVE | TaskState.WAITING):
                continue
            if (before.lane or None) != (after.lane or None):
                reasons.append(f"It {doing} '{label}', whose lane changed from '{before.lane}' to '{after.lane}': "
                               "the task would move to other people mid-way.")
            if _form_of(before) != _form_of(after):
                reasons.append(f"It {doing} '{label}', whose form changed: answers in progress could not be kept.")
            if task_properties(before).get(DUE_IN_PROPERTY) != task_properties(after).get(DUE_IN_PROPERTY) and state_bits & ACTIVE:
                reasons.append(f"It {doing} '{label}', whose dueIn changed: its current due time would not follow the new rule.")
            if _event_summary(before) != _event_summary(after):
                reasons.append(f"It {doing} '{label}', which changed from '{_event_summary(before)}' to '{_event_summary(after)}': "
                               "what it waits for now was set by the old version.")
    return reasons


def _prune_predictions(tasks: dict) -> None:
    drop = {tid for tid, task in tasks.items() if _is_prediction(task, tasks)}
    changed = True
    while changed:  # and everything below a dropped task
        changed = False
        for tid, task in tasks.items():
            if tid not in drop and task.get("parent") in drop:
                drop.add(tid)
                changed = True
    for tid in drop:
        tasks.pop(tid, None)
    for task in tasks.values():
        task["children"] = [c for c in task.get("children", []) if c not in drop]


def restore_on(host, state: dict, bundle):
    """The instance's workflow on another version: reached tasks kept, predictions rebuilt from the new spec."""
    state = copy.deepcopy(state)
    _prune_predictions(state["tasks"])
    for sub in (state.get("subprocesses") or {}).values():
        _prune_predictions(sub["tasks"])
    workflow = host.load(state, bundle)
    workflow._predict()
    for sub in workflow.subprocesses.values():
        sub._predict()
    return workflow
