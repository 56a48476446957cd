"""The one permission check. Every page, API endpoint and CLI action asks here."""
from __future__ import annotations

from sqlalchemy import exists, or_, select

from apflow.roles import role_for_lane, role_title
from apflow.store.models import HumanTask, Instance, ProcessVersion, User

from .errors import Forbidden

MANAGER = "manager"


def is_manager(user: User) -> bool:
    return MANAGER in user.role_names


def start_role(version: ProcessVersion) -> str | None:
    return role_for_lane(version.start_lane)


def can(user: User, action: str, target=None, session=None) -> bool:
    roles = user.role_names
    if action == "process.list":
        return True
    if action in {"process.deploy", "instance.retry", "calendar.edit", "dashboard.view"}:
        return MANAGER in roles
    if action == "instance.start":
        role = start_role(target)
        return (role in roles) if role else (MANAGER in roles or "coordinator" in roles)
    if action == "task.view":
        return MANAGER in roles or target.assignee_id == user.id or target.role in roles or target.completed_by == user.id
    if action == "task.complete":
        if target.assignee_id is not None:
            return target.assignee_id == user.id
        return target.role is not None and target.role in roles
    if action == "instance.view":
        if MANAGER in roles or target.started_by == user.id:
            return True
        return bool(session.scalar(select(exists().where(
            HumanTask.instance_id == target.id,
            or_(HumanTask.role.in_(roles), HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id),
        ))))
    raise ValueError(f"unknown action {action}")


def require(user: User, action: str, target=None, session=None) -> None:
    if can(user, action, target, session):
        return
    raise Forbidden(_refusal(user, action, target))


def _refusal(user: User, action: str, target) -> str:
    if action == "task.complete":
        if target.assignee_id is not None:
            return "This task is assigned to someone else; ask them or a manager to reassign it to you."
        return f"Only members of the {role_title(target.role or '?')} role can complete this task."
    if action == "instance.start":
        role = start_role(target)
        return f"Only the {role_title(role)} role can start this process." if role else "Only managers and AP Coordinators can start this process."
    if action in {"process.deploy", "instance.retry", "calendar.edit", "dashboard.view"}:
        return "Only managers can do this."
    return "You do not have access to this."


def visible_task_filter(user: User):
    """SQL condition selecting the human tasks this user may see."""
    roles = list(user.role_names)
    if MANAGER in roles:
        return True
    return or_(HumanTask.role.in_(roles), HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id)


def visible_instance_filter(user: User):
    if is_manager(user):
        return True
    roles = list(user.role_names)
    return or_(Instance.started_by == user.id, exists().where(
        HumanTask.instance_id == Instance.id,
        or_(HumanTask.role.in_(roles), HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id),
    ))
