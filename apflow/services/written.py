"""What this web process last wrote of each placement it stepped (Core.written): the state it committed and, read off
the engine's answer, what the next completion needs from a restore of that state.

A completion reads its instance's state in its transaction. When that state is, value for value, the one this process
committed last (the same version, lock version and state), the step takes the ready task's data and properties, the
process data and the waiting timers from here instead of restoring the workflow (instances._step_once); and a
completion may send its diagram code to a worker before its transaction begins, to run while the transaction locks and
reads (instances._complete_early). Nothing here is believed without reading: a copy that no longer matches what the
database holds is simply not used.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from apflow.engine.forms import Form
from apflow.engine.runtime import StepOutcome, WaitingTimer


@dataclass(frozen=True)
class KeptTask:
    """A ready human task as the step that made it ready left it."""
    data: dict
    properties: dict
    spec_id: str
    role: str | None
    assignee_id: int | None
    form: Form | None


@dataclass(frozen=True)
class Written:
    instance_id: int
    version_id: int
    version_key: str          # "process_id:content_hash", how the engine's workers know the version
    lock_version: int
    state: dict
    data: dict                # the process data after the step
    waiting: list[WaitingTimer]
    tasks: dict[str, KeptTask]  # the instance's ready human tasks, by id

    def matches(self, instance) -> bool:
        """Whether the instance as just read holds exactly what this step wrote."""
        return (self.version_id == instance.process_version_id and self.lock_version == instance.lock_version
                and self.state == instance.state)


class WrittenSteps:
    """The last step this process committed on each of the placements it stepped most recently, bounded."""

    SIZE = 128  # placements; a kept step holds its state and data (tens of kB each for a long placement)

    def __init__(self):
        self.kept: OrderedDict[int, Written] = OrderedDict()
        self.by_task: dict[str, int] = {}
        # (version id, task spec id) of the tasks whose record handlers changed the answers they were given, so a
        # completion's early run would be refused: not sent again (instances._complete_early)
        self.answers_changed: set[tuple[int, str]] = set()
        self.lock = threading.Lock()

    def keep(self, instance, version_key: str, outcome, ready_rows, forms: dict | None) -> None:
        """After a step's commit: its instance (as written), the engine's answer, the instance's ready task rows and
        their forms by task id (None: keep nothing of this step)."""
        if forms is None or not isinstance(outcome, StepOutcome) or outcome.state is None or outcome.task_data is None:
            self.drop(instance.id)
            return
        tasks = {row.id: KeptTask(outcome.task_data[row.id], outcome.task_properties[row.id], row.spec_id, row.role,
                                  row.assignee_id, forms[row.id])
                 for row in ready_rows if row.id in outcome.task_data}
        written = Written(instance.id, instance.process_version_id, version_key, instance.lock_version, outcome.state,
                          outcome.data, list(outcome.waiting), tasks)
        with self.lock:
            self._forget(instance.id)
            self.kept[instance.id] = written
            self.by_task.update(dict.fromkeys(tasks, instance.id))
            while len(self.kept) > self.SIZE:
                self._forget(next(iter(self.kept)))

    def drop(self, instance_id: int) -> None:
        with self.lock:
            self._forget(instance_id)

    def _forget(self, instance_id: int) -> None:
        old = self.kept.pop(instance_id, None)
        if old is not None:
            for task_id in old.tasks:
                self.by_task.pop(task_id, None)

    def of_task(self, task_id: str) -> Written | None:
        """The last step written on the placement whose ready task this is, if this process wrote it."""
        with self.lock:
            instance_id = self.by_task.get(task_id)
            return self.kept.get(instance_id) if instance_id is not None else None

    def matching(self, instance) -> Written | None:
        """The step this process wrote last on the instance, if the instance as just read holds exactly that."""
        with self.lock:
            written = self.kept.get(instance.id)
        return written if written is not None and written.matches(instance) else None
