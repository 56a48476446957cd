"""Deadlines of human tasks: due-soon reminders, escalation when overdue, and a second level if ignored.

A task's due time comes from its `dueIn` property or from a boundary timer on it. When the
diagram itself models what happens at the deadline (a boundary timer on the task), the diagram
is in charge and nothing here fires. Otherwise these defaults apply:
- at 75% of the allowed time, a reminder to the assignee (or everyone in the task's role);
- when overdue, an escalation in the managers' inbox naming the task, who held it and since when;
- if no manager acknowledges it within the grace period, a second escalation to the headteacher.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, false, func, or_, select, update

from apflow.clock import UK, clock, uk_time
from apflow.errors import Conflict, Forbidden, NotFound
from apflow.roles import role_title
from apflow.school_calendar import NoCalendar
from apflow.store import outbox
from apflow.store.db import locked_instance
from apflow.store.models import DeadlineAlert, Escalation, HumanTask, Instance, User

from . import permissions
from .core import Core
from .users import display_names, usernames

DUE_SOON_FRACTION = 0.75
LEVEL_ROLES = {1: "manager", 2: "headteacher"}


def due_soon_at(created_at: datetime, due_at: datetime | None) -> datetime | None:
    if due_at is None:
        return None
    return created_at + (due_at - created_at) * DUE_SOON_FRACTION


def deadline_state(task: HumanTask, now: datetime) -> str | None:
    if task.due_at is None:
        return None
    if now > task.due_at:
        return "overdue"
    if task.due_soon_at is not None and now >= task.due_soon_at:
        return "due_soon"
    return "on_time"


def plan(session, task: HumanTask) -> None:
    """Alerts for a task that has just become ready (none when the diagram models its own deadline)."""
    if task.due_at is None or task.deadline_by_diagram:
        return
    if task.due_soon_at is not None and task.due_soon_at < task.due_at:
        session.add(DeadlineAlert(human_task_id=task.id, instance_id=task.instance_id, kind="reminder", due_at=task.due_soon_at, state="pending"))
    session.add(DeadlineAlert(human_task_id=task.id, instance_id=task.instance_id, kind="escalation", due_at=task.due_at, state="pending"))


def close(session, tasks: list[HumanTask]) -> None:
    """The tasks are done or gone: cancel their pending alerts and resolve their escalations."""
    # Only tasks planned above can have alerts or escalations; most steps close none of them.
    task_ids = [t.id for t in tasks if t.due_at is not None and not t.deadline_by_diagram]
    if not task_ids:
        return
    session.execute(update(DeadlineAlert).where(DeadlineAlert.human_task_id.in_(task_ids), DeadlineAlert.state == "pending")
                    .values(state="cancelled").execution_options(synchronize_session=False))
    session.execute(update(Escalation).where(Escalation.human_task_id.in_(task_ids), Escalation.state != "resolved")
                    .values(state="resolved").execution_options(synchronize_session=False))


def next_due_at(core: Core) -> datetime | None:
    with core.db.session(readonly=True) as session:
        return session.scalar(select(func.min(DeadlineAlert.due_at)).where(DeadlineAlert.state == "pending"))


def fire_due_alerts(core: Core, limit: int = 1000) -> int:
    fired = 0
    for _ in range(limit):
        if not _fire_next(core):
            break
        fired += 1
    return fired


def _fire_next(core: Core) -> bool:
    with core.db.session() as session:
        now = clock.now()
        query = select(DeadlineAlert).where(DeadlineAlert.state == "pending", DeadlineAlert.due_at <= now).order_by(DeadlineAlert.due_at).limit(1)
        if core.db.is_sqlite:
            candidate = session.scalar(query)
            if candidate is None:
                return False
            locked_instance(session, candidate.instance_id)  # serialise with work on the same placement
            alert = session.get(DeadlineAlert, candidate.id, populate_existing=True)
            if alert.state != "pending":
                return True
        else:
            alert = session.scalar(query.with_for_update(skip_locked=True))
            if alert is None:
                return False
        task = session.get(HumanTask, alert.human_task_id)
        alert.state, alert.fired_at = "done", now
        if task is None or task.state != "ready":
            return True
        {"reminder": _remind, "escalation": _escalate, "second_escalation": _escalate_again}[alert.kind](core, session, task, now)
    return True


def _describe(task: HumanTask) -> str:
    who = f" for {task.pupil_name}" if task.pupil_name else ""
    return f"'{task.name}'{who} (placement #{task.instance_id})"


def _holder(session, task: HumanTask) -> str:
    if task.assignee_id:
        user = session.get(User, task.assignee_id)
        return user.display_name if user else "its assignee"
    return f"the {role_title(task.role)} role" if task.role else "nobody (no role)"


def _task_people(session, task: HumanTask) -> list[User]:
    if task.assignee_id:
        user = session.get(User, task.assignee_id)
        return [user] if user else []
    return outbox.role_members(session, task.role, _organisations(session, task)) if task.role else []


def _organisations(session, task: HumanTask) -> list[int]:
    """Reminders and escalations go only to people of the organisations working on the placement."""
    instance = session.get(Instance, task.instance_id)
    return outbox.instance_organisations(instance) if instance is not None else []


def _email(task: HumanTask, what: str) -> str:
    """E-mail text for a deadline: the task, never the pupil's name (e-mail leaves the product)."""
    return f"{what}: '{task.name}' (placement #{task.instance_id}). Open the task:"


def _remind(core: Core, session, task: HumanTask, now: datetime) -> None:
    message = f"Reminder: {_describe(task)} is due by {uk_time(task.due_at)}."
    outbox.notify(session, _task_people(session, task), "reminder", message, task.instance_id,
                  email=_email(task, f"Due by {uk_time(task.due_at)}"), link=f"/tasks/{task.id}")


def _escalate(core: Core, session, task: HumanTask, now: datetime) -> None:
    if task.escalate_to:
        return _escalate_to_roles(core, session, task, now, level=1)
    escalation = Escalation(instance_id=task.instance_id, human_task_id=task.id, level=1, role=LEVEL_ROLES[1], task_name=task.name,
                            missed_by=_holder(session, task), overdue_since=task.due_at, created_at=now, state="open", note="")
    session.add(escalation)
    message = f"Overdue: {_describe(task)} held by {escalation.missed_by} was due {uk_time(task.due_at)}."
    outbox.notify(session, outbox.role_members(session, LEVEL_ROLES[1], _organisations(session, task)), "escalation", message,
                  task.instance_id, email=_email(task, "Overdue"), link=f"/tasks/{task.id}")
    grace = timedelta(hours=core.settings.escalation_grace_hours)
    session.add(DeadlineAlert(human_task_id=task.id, instance_id=task.instance_id, kind="second_escalation", due_at=now + grace, state="pending"))


def _escalate_to_roles(core: Core, session, task: HumanTask, now: datetime, level: int) -> None:
    """A task naming its escalation roles (`escalateTo`, e.g. a safeguarding concern: deputy DSLs, then the
    headteacher): each level tells the next role in the placement's organisations at once, in the app and by
    e-mail (no pupil name), and the next level follows after the same time again, while the task is still open."""
    roles = task.escalate_to.split(",")
    role = roles[min(level, len(roles)) - 1]
    escalation = Escalation(instance_id=task.instance_id, human_task_id=task.id, level=level, role=role, task_name=task.name,
                            missed_by=_holder(session, task), overdue_since=task.due_at, created_at=now, state="open", note="")
    session.add(escalation)
    people = [p for r in roles[:level] for p in outbox.role_members(session, r, _organisations(session, task))]
    message = f"Not answered in time: {_describe(task)}, held by {escalation.missed_by}, was due {uk_time(task.due_at)}. Act on it now."
    outbox.notify(session, people, "escalation", message, task.instance_id, subject=f"Not answered in time: {task.name}"[:120],
                  email=_email(task, "Not answered in time"), link=f"/tasks/{task.id}")
    if level < len(roles):
        session.add(DeadlineAlert(human_task_id=task.id, instance_id=task.instance_id, kind="second_escalation",
                                  due_at=now + (task.due_at - task.created_at), state="pending"))


def _escalate_again(core: Core, session, task: HumanTask, now: datetime) -> None:
    if task.escalate_to:
        level = 1 + len(list(session.scalars(select(Escalation.id).where(Escalation.human_task_id == task.id))))
        return _escalate_to_roles(core, session, task, now, level)
    first = session.scalar(select(Escalation).where(Escalation.human_task_id == task.id, Escalation.level == 1).order_by(Escalation.id.desc()))
    if first is None or first.state != "open":
        return  # a manager took it on
    escalation = Escalation(instance_id=task.instance_id, human_task_id=task.id, level=2, role=LEVEL_ROLES[2], task_name=task.name,
                            missed_by=first.missed_by, overdue_since=task.due_at, created_at=now, state="open", note="")
    session.add(escalation)
    message = (f"Still overdue and not taken on by a manager: {_describe(task)} held by {first.missed_by}, "
               f"overdue since {uk_time(task.due_at)}.")
    orgs = _organisations(session, task)
    people = outbox.role_members(session, LEVEL_ROLES[2], orgs) + outbox.role_members(session, LEVEL_ROLES[1], orgs)
    outbox.notify(session, people, "second_escalation", message, task.instance_id, email=_email(task, "Still overdue"),
                  link=f"/tasks/{task.id}")


# -- managers' side -------------------------------------------------------------------------

def escalation_dict(e: Escalation, now: datetime) -> dict:
    return {"id": e.id, "level": e.level, "role": e.role, "task_id": e.human_task_id, "task_name": e.task_name,
            "instance_id": e.instance_id, "missed_by": e.missed_by, "overdue_since": e.overdue_since.isoformat(),
            "late_hours": round((now - e.overdue_since).total_seconds() / 3600, 1), "state": e.state,
            "created_at": e.created_at.isoformat(), "note": e.note}


def _in_scope(user: User):
    """SQL: the placement is one of the person's organisations' (commissioned by it or with it as provider); none
    for someone in no organisation (issue 17)."""
    orgs = user.organisation_ids
    if not orgs:
        return false()
    return exists().where(Instance.id == Escalation.instance_id,
                          or_(Instance.organisation_id.in_(orgs), Instance.provider_organisation_id.in_(orgs)))


def list_escalations(core: Core, user: User, include_closed: bool = False) -> list[dict]:
    """Escalations to the person's roles about their own organisations' placements."""
    roles = user.role_names
    with core.db.session(readonly=True) as session:
        query = select(Escalation).where(Escalation.role.in_(roles), _in_scope(user))
        if not include_closed:
            query = query.where(Escalation.state == "open")
        now = clock.now()
        return [escalation_dict(e, now) for e in session.scalars(query.order_by(Escalation.overdue_since))]


def acknowledge(core: Core, user: User, escalation_id: int, note: str) -> dict:
    with core.db.session() as session:
        escalation = session.scalar(select(Escalation).where(Escalation.id == escalation_id, _in_scope(user)))
        if escalation is None or escalation.role not in user.role_names:
            raise NotFound(f"There is no escalation {escalation_id} for your roles.")
        locked_instance(session, escalation.instance_id)
        session.refresh(escalation)
        if escalation.state != "open":
            raise Conflict(f"This escalation is already {escalation.state}.")
        escalation.state, escalation.acknowledged_by, escalation.acknowledged_at = "acknowledged", user.id, clock.now()
        escalation.note = (note or "").strip()[:4000]
        return escalation_dict(escalation, clock.now())


def _school_days_late(core: Core, now: datetime):
    """How many school days late something due at a moment is now (weekdays, if no term dates are set up yet)."""
    try:
        calendar = core.calendar()
    except NoCalendar:
        today = now.astimezone(UK).date()
        return lambda due: sum(1 for n in range(1, (today - due.astimezone(UK).date()).days + 1)
                               if (due.astimezone(UK).date() + timedelta(days=n)).weekday() < 5)
    today = now.astimezone(calendar.zone).date()
    return lambda due: calendar.school_days_between(due.astimezone(calendar.zone).date(), today)


def dashboard(core: Core, user: User) -> dict:
    """Everything overdue or due within 7 days, for managers: by role, provider and pupil, with how late."""
    if not permissions.can(user, "dashboard.view"):
        raise Forbidden("Only managers, headteachers and AP coordinators can see the deadlines dashboard.")
    now = clock.now()
    late_by = _school_days_late(core, now)
    with core.db.session(readonly=True) as session:
        query = select(HumanTask).where(HumanTask.state == "ready", HumanTask.due_at.is_not(None), HumanTask.due_at <= now + timedelta(days=7))
        # only their own organisations' placements (and those with their provider); none for someone in no organisation
        query = query.join(Instance, Instance.id == HumanTask.instance_id).where(or_(
            Instance.organisation_id.in_(user.organisation_ids), Instance.provider_organisation_id.in_(user.organisation_ids)))
        rows = list(session.scalars(query.order_by(HumanTask.due_at)))
        names = usernames(session, [r.assignee_id for r in rows])
        shown = display_names(session, [r.assignee_id for r in rows])
        escalations = {e.human_task_id: e.level for e in session.scalars(select(Escalation).where(Escalation.state == "open"))}
    items = []
    for row in rows:
        late = (now - row.due_at).total_seconds()
        late_days = late_by(row.due_at) if late > 0 else 0
        items.append({"task_id": row.id, "task_name": row.name, "instance_id": row.instance_id, "role": row.role,
                      "role_title": role_title(row.role) if row.role else "", "assignee": names.get(row.assignee_id),
                      "assignee_name": shown.get(row.assignee_id),
                      "pupil": row.pupil_name or "", "pupil_ref": row.pupil_ref or "", "provider": row.provider_name or "",
                      "due_at": row.due_at.isoformat(), "overdue": late > 0, "late_hours": round(max(late, 0) / 3600, 1),
                      "late_school_days": late_days,
                      "due_in_hours": round(max(-late, 0) / 3600, 1), "escalation_level": escalations.get(row.id)})

    def grouped(key):
        groups: dict[str, dict] = {}
        for item in items:
            group = groups.setdefault(item[key] or "(none)", {"name": item[key] or "(none)", "overdue": 0, "due_this_week": 0,
                                                              "max_late_hours": 0.0, "max_late_school_days": 0})
            if item["overdue"]:
                group["overdue"] += 1
                group["max_late_hours"] = max(group["max_late_hours"], item["late_hours"])
                group["max_late_school_days"] = max(group["max_late_school_days"], item["late_school_days"])
            else:
                group["due_this_week"] += 1
        return sorted(groups.values(), key=lambda g: (-g["overdue"], -g["max_late_hours"], g["name"]))

    return {"now": now.isoformat(), "items": items, "by_role": grouped("role_title"), "by_provider": grouped("provider"), "by_pupil": grouped("pupil")}
