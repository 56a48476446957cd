"""Moving running instances to another version of their process, each in its own locked step; an instance
that cannot move safely is refused with the reasons (the rule itself is apflow.engine.migration)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from apflow.engine.migration import move_problems, restore_on
from apflow.errors import Invalid, NotFound
from apflow.store.db import locked_instance
from apflow.store.models import Instance, ProcessVersion, User

from . import instances, processes
from .changes import change_note, record_change, require_manager
from .core import Core


@dataclass
class MoveCheck:
    instance_id: int
    from_version: int
    status: str
    pupil_name: str | None
    at: list[str] = field(default_factory=list)       # where it is now, by task name
    reasons: list[str] = field(default_factory=list)  # why it cannot move; empty when it can

    @property
    def can_move(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict:
        return {"instance_id": self.instance_id, "from_version": self.from_version, "status": self.status,
                "pupil_name": self.pupil_name, "at": self.at, "can_move": self.can_move, "reasons": self.reasons}


def _check_instance(core: Core, instance: Instance, target: ProcessVersion) -> tuple[MoveCheck, object]:
    old_bundle, new_bundle = core.bundle(instance.version), core.bundle(target)
    result = MoveCheck(instance.id, instance.version.version, instance.status, None)
    workflow = None
    try:
        old = core.host.load(instance.state, old_bundle)
        result.at = [t.name for t in core.host.ready_human_tasks(old)] + [f"waiting: {t.name}" for t in core.host.waiting_timers(old)]
        result.pupil_name = core.host.current_data(old).get("pupil_name")
    except Exception as err:  # noqa: BLE001 - an unreadable instance cannot move, and says why
        result.reasons.append(f"Its state could not be read on its own version: {instances.explain(err)}")
        return result, None
    result.reasons = move_problems(old_bundle, new_bundle, instance.state, target.version)
    if result.reasons:
        return result, None
    try:
        workflow = restore_on(core.host, instance.state, new_bundle)
        before_ready = sorted(t.id for t in core.host.ready_human_tasks(old))
        after_ready = sorted(t.id for t in core.host.ready_human_tasks(workflow))
        before_waiting = sorted((t.task_id, t.due_at) for t in core.host.waiting_timers(old))
        after_waiting = sorted((t.task_id, t.due_at) for t in core.host.waiting_timers(workflow))
        if before_ready != after_ready or before_waiting != after_waiting:
            result.reasons.append(f"On version {target.version} it would not be waiting for the same tasks and timers.")
            workflow = None
    except Exception as err:  # noqa: BLE001 - the engine's own refusal is the reason
        result.reasons.append(f"The engine could not restore it on version {target.version}: {instances.explain(err)}")
        workflow = None
    return result, workflow


def _target(session, process_id: str, to_version) -> ProcessVersion:
    if to_version in (None, "", "latest"):
        target = processes.latest(session, process_id)
        if target is None:
            raise NotFound(f"Process '{process_id}' has no deployed version.")
        return target
    try:
        return processes.version_number(session, process_id, int(to_version))
    except (TypeError, ValueError):
        raise Invalid("`to` must be a version number.", {"to": ["A version number."]}) from None


def migration_preview(core: Core, user: User, process_id: str, to_version=None) -> dict:
    """Each unfinished instance on another version: can it move to the target version safely, and if not, why."""
    require_manager(user)
    with core.db.session(readonly=True) as session:
        target = _target(session, process_id, to_version)
        rows = list(session.scalars(select(Instance).where(Instance.process_id == process_id, Instance.status != "completed",
                                                           Instance.process_version_id != target.id).order_by(Instance.id)))
        checks_ = [_check_instance(core, row, target)[0] for row in rows]
    return {"process_id": process_id, "to_version": target.version, "instances": [c.as_dict() for c in checks_],
            "can_move": sum(c.can_move for c in checks_), "cannot_move": sum(not c.can_move for c in checks_)}


def move_instances(core: Core, user: User, process_id: str, to_version, instance_ids, note: str = "") -> dict:
    """Move the given instances to the target version, each in its own locked step; unsafe ones are refused."""
    require_manager(user)
    if not isinstance(instance_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in instance_ids):
        raise Invalid("Send `instance_ids`, a list of instance ids.", {"instance_ids": ["A list of whole numbers."]})
    note = change_note(note)
    with core.db.session(readonly=True) as session:
        processes.require_editable(session, user, process_id)  # only the owning organisation's managers (issue 17)
        target = _target(session, process_id, to_version)
        target_id = target.id
    actor = instances.Actor.of(user)
    moved, refused, due = [], {}, []
    for instance_id in dict.fromkeys(instance_ids):
        with core.db.session() as session:
            instance = locked_instance(session, instance_id)
            if instance is None:
                refused[instance_id] = ["There is no such instance."]
                continue
            target = session.get(ProcessVersion, target_id)
            if instance.process_id != process_id:
                refused[instance_id] = [f"It is not an instance of '{process_id}'."]
                continue
            if instance.status == "completed":
                refused[instance_id] = ["It has finished."]
                continue
            if instance.process_version_id == target.id:
                refused[instance_id] = [f"It is already on version {target.version}."]
                continue
            result, workflow = _check_instance(core, instance, target)
            if workflow is None:
                refused[instance_id] = result.reasons
                continue
            from_version = instance.version.version
            kept_error = (instance.status, instance.error_message, instance.error_at, instance.error_action)
            instance.process_version_id = target.id
            instance.version = target
            data = core.host.current_data(workflow)
            due += instances.persist(core, session, instance, workflow, actor, before=data).due
            if kept_error[0] == "error":  # a failed step stays failed (and retryable) on the new version
                instance.status, instance.error_message, instance.error_at, instance.error_action = kept_error
            instances.add_event(session, instance, actor, "instance_migrated",
                             detail={"from_version": from_version, "to_version": target.version, "to": f"version {target.version}",
                                     "message": note or None})
            moved.append(instance_id)
    with core.db.session() as session:
        record_change(session, user, "migrated", process_id=process_id, note=note, version=target.version,
                detail={"moved": moved, "refused": {str(k): v for k, v in refused.items()}})
    core.timers_scheduled(due)
    return {"process_id": process_id, "to_version": target.version, "moved": moved,
            "refused": {str(k): v for k, v in refused.items()}}
