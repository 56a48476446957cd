"""The placement file (R110): everything recorded on one placement, in order, as its forms label it.

Each completed task keeps what was answered (human_tasks.answers, child-protection fields already removed: R81);
the file shows those answers through apflow.services.disclosure, so each person reads exactly the fields they
may read anywhere else: school staff all of them, providers and families what is shared with them and their
own tasks' answers. What the placement waits for (open tasks, timers) closes the file.
"""
from __future__ import annotations

from sqlalchemy import select

from apflow.store.models import Event, HumanTask, PendingTimer, User

from . import disclosure, permissions
from .core import Core
from .instances import _visible_instance
from .users import display_names

RECORDED_BY_OTHERS = "the school"


def placement_file(core: Core, user: User, instance_id: int) -> dict:
    """{"entries": [...], "waiting": {...}, "documents": [...]}: one entry per completed task with answers this
    person may read, oldest first."""
    with core.db.session(readonly=True) as session:
        instance = _visible_instance(session, user, instance_id)
        seen = disclosure.view(core, session, user, instance)
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)
                                     .order_by(HumanTask.created_at, HumanTask.id)))
        done_in_order = {task_id: n for n, task_id in enumerate(session.scalars(select(Event.task_id).where(
            Event.instance_id == instance_id, Event.kind == "task_completed").order_by(Event.id)))}
        tasks.sort(key=lambda t: done_in_order.get(t.id, len(done_in_order)))
        people = {t.completed_by for t in tasks} | {t.assignee_id for t in tasks}
        names = display_names(session, people)
        entries = []
        for task in tasks:
            if task.state != "completed":
                continue
            form = core.form(instance.version, task.form_schema, task.form_ui_schema)
            own = seen.task_ids is None or task.id in seen.task_ids
            answers = form.readable({k: v for k, v in (task.answers or {}).items() if seen.keys is None or k in seen.keys}) if form else []
            if not own and not answers:
                continue  # someone else's task that shares nothing with this person
            entries.append({
                "task_id": task.id, "name": task.name, "lane": task.lane,
                "completed_at": task.completed_at.isoformat() if task.completed_at else None,
                "completed_by": names.get(task.completed_by, "") if own else RECORDED_BY_OTHERS,
                "answers": answers,
                "child_protection": bool(form is not None and form.restricted) and own,
            })
        open_tasks = [t for t in tasks if t.state == "ready" and (seen.task_ids is None or permissions.can(user, "task.view", t, session))]
        timers = (list(session.scalars(select(PendingTimer).where(PendingTimer.instance_id == instance_id).order_by(PendingTimer.due_at)))
                  if seen.audience == disclosure.SCHOOL else [])
        waiting = {
            "tasks": [{"id": t.id, "name": t.name, "lane": t.lane, "holder": names.get(t.assignee_id),
                       "due_at": t.due_at.isoformat() if t.due_at else None} for t in open_tasks],
            "timers": [{"name": t.name, "due_at": t.due_at.isoformat(), "watches": t.attached_to is not None} for t in timers],
        }
        pupil_ref = next((t.pupil_ref for t in tasks if t.pupil_ref), None)
        return {"instance_id": instance_id, "pupil_ref": pupil_ref, "finished": instance.status == "completed", "entries": entries, "waiting": waiting,
                "documents": disclosure.documents(core, session, user, instance, seen)}
