"""Keep a long-running instance's stored state bounded: leave out of it the subprocesses that have finished.

SpiffWorkflow keeps every subprocess it ever ran in the workflow (each call activity's subworkflow, with every one of
its tasks and its own copy of the process data) and serializes them all. A placement runs the review call activity
every half term and on every request, so a placement a year in carried 14 finished review subprocesses of about 14 kB
each: 200 of its 339 kB (docs/performance.md, section 16), and every step loaded and wrote them again.

A subprocess whose call activity task has finished (completed or cancelled) is never consulted again: SpiffWorkflow
asks a subprocess for its state only while the call activity waits for it (SubWorkflowTask._update_hook), its task
iterators do not descend into a completed subprocess looking for work, and apflow reads the data of ready tasks only.
Restoring a state without them is what SpiffWorkflow does for any call activity that has no subprocess entry
(`subprocesses_from_dict` restores those it finds). The event log keeps the history of what they did.

Loops inside a running process add tasks too: each absence followed up adds three completed tasks (the merge gateway,
the signal caught, the follow-up) to the running `placement_in_progress`, for as long as the placement runs. Once a
later round of a loop has been completed, the rounds before it are cut out of the task tree (cut_finished_rounds):
the later round's first task is attached where the earlier round began. Only straight chains of completed, plain
tasks are cut (exclusive gateways, intermediate events, user, manual, script and plain tasks, call activities whose
subprocess has finished), never a task with two children, a join or split of any other kind, a boundary event, a
multi-instance or loop task, a task that is not completed, or the workflow's last task. SpiffWorkflow stores each
task's data as its changes from its parent's, and those are worked out when the state is written, after the cut, so
every remaining task keeps exactly its data. Joins that look up their ancestors (parallel and inclusive gateways,
boundary-event joins) never have a cut task as their parent, and what is above and below a cut keeps its ancestry.
"""
from __future__ import annotations

from collections import Counter

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import (
    CallActivityMixin,
    ExclusiveGatewayMixin,
    IntermediateCatchEventMixin,
    IntermediateThrowEventMixin,
    ManualTaskMixin,
    NoneTaskMixin,
    ScriptTaskMixin,
    UserTaskMixin,
)
from SpiffWorkflow.util.task import TaskState

FINISHED = frozenset({TaskState.COMPLETED, TaskState.CANCELLED})
PLAIN = (ExclusiveGatewayMixin, IntermediateCatchEventMixin, IntermediateThrowEventMixin, UserTaskMixin, ManualTaskMixin,
         ScriptTaskMixin, NoneTaskMixin, CallActivityMixin)
LONGEST_ROUND = 1000  # tasks in one round of a loop, at most, that a cut looks back over


def drop_finished_subprocesses(state: dict) -> dict:
    """The serialized workflow `state` (BpmnWorkflowSerializer.to_dict) without its finished subprocesses, and without
    the subprocesses started inside them. The dict is changed in place and returned."""
    subprocesses = state.get("subprocesses")
    if not subprocesses:
        return state
    task_state = {task_id: task.get("state") for task_id, task in state.get("tasks", {}).items()}
    for sub in subprocesses.values():
        task_state.update((task_id, task.get("state")) for task_id, task in sub.get("tasks", {}).items())
    # a subprocess is keyed by the id of its call activity task
    gone = {key for key, sub in subprocesses.items() if sub.get("completed") and task_state.get(key) in FINISHED}
    inside = {task_id for key in gone for task_id in subprocesses[key].get("tasks", {})}
    while inside:  # subprocesses started by a task of one that is gone
        nested = {key for key in subprocesses if key in inside and key not in gone}
        gone |= nested
        inside = {task_id for key in nested for task_id in subprocesses[key].get("tasks", {})}
    for key in gone:
        del subprocesses[key]
    return state


def cut_finished_rounds(workflow: BpmnWorkflow) -> int:
    """Cut the completed earlier rounds of loops out of the task trees of `workflow` (a BpmnWorkflow, changed in place)
    and its subprocesses; returns how many tasks went. Call it just before serializing."""
    removed = 0
    for flow in [workflow, *list(workflow.subprocesses.values())]:
        if flow is workflow or workflow.subprocesses.get(flow.parent_task_id) is flow:  # not cut away with an earlier round
            removed += _cut(workflow, flow)
    return removed


def _plain(top, flow, task) -> bool:
    """Whether a task may be cut out: completed, one child, a plain kind, not the workflow's last task."""
    if (task.state != TaskState.COMPLETED or len(task._children) != 1 or task.parent is None
            or task is flow.last_task or task is top.last_task):
        return False
    spec = task.task_spec
    if not isinstance(spec, PLAIN):
        return False
    if isinstance(spec, CallActivityMixin):
        sub = top.subprocesses.get(task.id)
        return sub is None or sub.completed
    return True


def _cut(top, flow) -> int:
    removed = 0
    seen = Counter(task.task_spec for task in flow.tasks.values())  # a step met once has no earlier round to look for
    for later in list(flow.tasks.values()):
        if (later.id not in flow.tasks or later.state != TaskState.COMPLETED or seen[later.task_spec] < 2
                or not isinstance(later.task_spec, PLAIN)):
            continue
        rounds, cursor = [], later.parent
        while cursor is not None and len(rounds) < LONGEST_ROUND and _plain(top, flow, cursor):
            rounds.append(cursor)
            if cursor.task_spec is later.task_spec:  # the same step one round earlier: cut that round out
                break
            cursor = cursor.parent
        if not rounds or rounds[-1].task_spec is not later.task_spec:
            continue
        first, before = rounds[-1], rounds[-1].parent
        later._parent = before.id
        before._children = [later.id if child == first.id else child for child in before._children]
        for task in rounds:
            if task.id in top.subprocesses:
                top.delete_subprocess(task)
            del flow.tasks[task.id]
        removed += len(rounds)
    return removed
