"""The task inbox: what a person sees and does with tasks before completing them.

Tabs: "mine" (assigned to me), "available" (my roles' unassigned tasks), "all" (managers).
Actions: claim, unclaim, assign to a colleague, delegate and take back, bulk claim and bulk
reassign (managers), save a draft, keep named filters.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import and_, exists, false, func, or_, select, update

from apflow.clock import clock
from apflow.errors import Conflict, Forbidden, Invalid, NotFound
from apflow.roles import ROLES, role_title, with_cover
from apflow.store.models import CustomRole, Event, HumanTask, Instance, Organisation, ProcessVersion, SavedFilter, TaskDraft, User, UserRole

from . import disclosure, permissions
from .core import Core
from .deadlines import deadline_state
from .users import display_names, usernames

TABS = ("mine", "available", "all")
SORTS = ("due", "created", "pupil", "task")
PAGE_SIZE = 50
COUNT_CAP = 100


@dataclass
class InboxQuery:
    tab: str = ""  # "" = the tab where this person's work is (see inbox())
    role: str = ""
    process: str = ""
    provider: str = ""
    search: str = ""
    overdue: bool = False
    sort: str = "due"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "InboxQuery":
        query = cls()
        query.tab = args.get("tab") if args.get("tab") in TABS else ""
        query.role = (args.get("role") or "")[:40]
        query.process = (args.get("process") or "")[:200]
        query.provider = (args.get("provider") or "")[:200]
        query.search = (args.get("search") or "").strip()[:100]
        query.overdue = args.get("overdue") in {"1", "true", "on"}
        query.sort = args.get("sort") if args.get("sort") in SORTS else "due"
        page = args.get("page") or "1"
        query.page = max(1, min(int(page), 10_000)) if str(page).isdigit() else 1
        return query

    def to_querystring(self, **changes) -> str:
        values = {**asdict(self), **changes}
        kept = {k: ("1" if v is True else v) for k, v in values.items()
                if v not in ("", False, None) and not (k == "page" and v == 1)}
        return urlencode(kept)


def _row(task: HumanTask, names: dict[int, str], process_names: dict[str, str], now: datetime) -> dict:
    return {
        "id": task.id, "name": task.name, "instance_id": task.instance_id, "process_id": task.process_id,
        "process_name": process_names.get(task.process_id, task.process_id), "role": task.role,
        "role_title": role_title(task.role) if task.role else "", "pupil_name": task.pupil_name or "",
        "pupil_ref": task.pupil_ref or "", "provider_name": task.provider_name or "",
        "due_at": task.due_at, "deadline": deadline_state(task, now), "created_at": task.created_at,
        "assignee_id": task.assignee_id, "assignee": names.get(task.assignee_id) if task.assignee_id else None,
        "owner": names.get(task.owner_id) if task.owner_id else None,
    }


def _tab_conditions(user: User) -> dict:
    """Each tab's filter, written so the database can walk an index in due order (no OR across tabs)."""
    staff = permissions.staff_roles(user)
    available = (and_(HumanTask.assignee_id.is_(None), HumanTask.role.in_(staff), permissions.scope_clause(user))
                 if staff else false())
    tabs = {"mine": HumanTask.assignee_id == user.id}
    if staff:  # parents and pupils have no role tasks to claim: their work is assigned to them
        tabs["available"] = available
    if permissions.is_manager(user):
        tabs["all"] = permissions.scope_clause(user)
    return tabs


def _count(session, conditions) -> int:
    # Counting stops at COUNT_CAP so a large caseload does not make every page load slower.
    capped = select(HumanTask.id).where(*conditions).limit(COUNT_CAP).subquery()
    return session.scalar(select(func.count()).select_from(capped))


def inbox(core: Core, user: User, query: InboxQuery) -> dict:
    now = clock.now()
    tabs = _tab_conditions(user)
    with core.db.session(readonly=True) as session:
        ready = HumanTask.state == "ready"
        counts = {tab: _count(session, [ready, condition]) for tab, condition in tabs.items()}
        if query.tab not in tabs:  # open where the work is: tasks assigned to them first, else their roles' tasks
            query.tab = "mine" if counts["mine"] or "available" not in tabs else "available"
        conditions = [ready, tabs[query.tab]]
        if query.role:
            conditions.append(HumanTask.role == query.role)
        if query.process:
            conditions.append(HumanTask.process_id == query.process)
        if query.provider:
            conditions.append(HumanTask.provider_name == query.provider)
        if query.overdue:
            conditions.append(HumanTask.due_at < now)
        if query.search:
            pattern = f"%{query.search.lower()}%"
            conditions.append(or_(func.lower(HumanTask.pupil_name).like(pattern), func.lower(HumanTask.pupil_ref).like(pattern)))
        order = {
            # Overdue first, then soonest due; tasks with no due date (sort_due far in the future) last.
            "due": [HumanTask.sort_due, HumanTask.created_at, HumanTask.id],
            "created": [HumanTask.created_at.desc()],
            "pupil": [HumanTask.pupil_name.is_(None), HumanTask.pupil_name, HumanTask.sort_due],
            "task": [HumanTask.name, HumanTask.sort_due],
        }[query.sort]
        total = _count(session, conditions)
        # One row more than a page tells whether there is a next page without counting everything.
        tasks = list(session.scalars(select(HumanTask).where(*conditions).order_by(*order)
                                     .offset((query.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
        has_next = len(tasks) > PAGE_SIZE
        tasks = tasks[:PAGE_SIZE]
        names = display_names(session, {t.assignee_id for t in tasks} | {t.owner_id for t in tasks})
        process_names = dict(session.execute(select(ProcessVersion.process_id, ProcessVersion.name)).all())
        providers = sorted(set(session.scalars(select(Organisation.name).where(Organisation.kind == "provider"))))
        if permissions.is_manager(user):  # every built-in role and the roles their own organisations defined
            roles = sorted(set(ROLES) | set(session.scalars(select(CustomRole.key).where(
                CustomRole.organisation_id.in_(user.organisation_ids)))))
        else:
            roles = sorted(permissions.staff_roles(user))
    return {
        "rows": [_row(t, names, process_names, now) for t in tasks], "total": total, "counts": counts,
        "count_cap": COUNT_CAP, "has_next": has_next, "query": query, "roles": roles,
        "processes": sorted(process_names.items(), key=lambda item: item[1]), "providers": providers,
    }


# -- holding tasks ---------------------------------------------------------------------------

def _task(session, user: User, task_id: str) -> HumanTask:
    task = session.get(HumanTask, str(task_id))
    if task is None or not permissions.can(user, "task.view", task, session):
        raise NotFound("There is no such task that you can see.")
    if task.state != "ready":
        raise Conflict(f"This task is already {task.state}.")
    return task


def _log(session, task: HumanTask, user: User, kind: str, **detail) -> None:
    session.add(Event(instance_id=task.instance_id, at=clock.now(), actor_id=user.id, actor=user.username, kind=kind,
                      task_id=task.id, task_name=task.name, detail=detail))


def _colleague(session, task: HumanTask, username: str) -> User:
    colleague = session.scalar(select(User).where(User.username == (username or "").strip(), User.active.is_(True)))
    if colleague is None:
        raise Invalid(f"There is no active user '{username}'.", {"assignee": ["Choose a colleague from the list."]})
    if task.role in permissions.EXTERNAL_ROLES or not permissions.staff_roles(colleague):
        raise Invalid("Tasks for a family go to the parent or pupil the placement names; they cannot be handed to anyone else.",
                      {"assignee": ["Choose a member of staff."]})
    if permissions.may_hold(session, colleague, task.role, session.get(Instance, task.instance_id)):
        raise Invalid(f"{colleague.display_name} cannot work this task: it needs the {role_title(task.role or '?')} role "
                      "in an organisation working on this placement.",
                      {"assignee": [f"Choose someone in the {role_title(task.role or '?')} role."]})
    return colleague


def claim(core: Core, user: User, task_id: str) -> None:
    with core.db.session() as session:
        task = _task(session, user, task_id)
        if task.assignee_id == user.id:
            return
        permissions.require(user, "task.claim", task, session)
        # Conditional update: two people claiming at once, exactly one gets it.
        done = session.execute(update(HumanTask).where(HumanTask.id == task.id, HumanTask.assignee_id.is_(None),
                                                       HumanTask.state == "ready").values(assignee_id=user.id)).rowcount
        if not done:
            holder = session.scalar(select(User.display_name).join(HumanTask, HumanTask.assignee_id == User.id).where(HumanTask.id == task.id))
            raise Conflict(f"{holder or 'Someone'} claimed this task a moment ago.")
        _log(session, task, user, "task_claimed")


def unclaim(core: Core, user: User, task_id: str) -> None:
    with core.db.session() as session:
        task = _task(session, user, task_id)
        permissions.require(user, "task.unclaim", task, session)
        _log(session, task, user, "task_unclaimed", previous=_name(session, task.assignee_id))
        task.assignee_id, task.owner_id = None, None


def assign(core: Core, user: User, task_id: str, username: str, delegate: bool = False) -> None:
    """Hand the task to a colleague. Delegating keeps you as its owner, so you can take it back."""
    with core.db.session() as session:
        task = _task(session, user, task_id)
        permissions.require(user, "task.assign", task, session)
        colleague = _colleague(session, task, username)
        if delegate:
            if task.assignee_id != user.id:
                raise Forbidden("Only the person holding a task can delegate it; claim it first.")
            task.owner_id = user.id
        elif task.owner_id is not None and not permissions.is_manager(user):
            task.owner_id = None
        _log(session, task, user, "task_delegated" if delegate else "task_assigned", to=colleague.username,
             previous=_name(session, task.assignee_id))
        task.assignee_id = colleague.id


def take_back(core: Core, user: User, task_id: str) -> None:
    with core.db.session() as session:
        task = _task(session, user, task_id)
        permissions.require(user, "task.take_back", task, session)
        _log(session, task, user, "task_taken_back", previous=_name(session, task.assignee_id))
        task.assignee_id, task.owner_id = user.id, None


def bulk(core: Core, user: User, task_ids: list[str], action: str, username: str = "") -> dict:
    """Managers: claim or reassign many tasks; each task succeeds or fails on its own."""
    permissions.require(user, "task.bulk")
    done, failed = [], {}
    for task_id in task_ids[:500]:
        try:
            if action == "claim":
                claim(core, user, task_id)
            elif action == "assign":
                assign(core, user, task_id, username)
            else:
                raise Invalid("Choose claim or assign.")
            done.append(task_id)
        except (Conflict, Forbidden, Invalid, NotFound) as err:
            failed[task_id] = err.message
    return {"done": done, "failed": failed}


def _name(session, user_id: int | None) -> str | None:
    return usernames(session, [user_id]).get(user_id)


def colleagues(core: Core, user: User, task_id: str) -> list[dict]:
    """People this task could be handed to: active staff in its role (or covering it) who work on the placement's
    organisations (permissions.may_hold, the rule assignTo follows too). Never a parent or pupil: a family's task is
    theirs alone."""
    with core.db.session(readonly=True) as session:
        task = _task(session, user, task_id)
        if task.role in permissions.EXTERNAL_ROLES or task.role is None:
            return []
        instance = session.get(Instance, task.instance_id)
        people = session.scalars(select(User).where(User.active.is_(True), exists().where(
            UserRole.user_id == User.id, or_(UserRole.role.in_(_holding(task.role)), UserRole.custom_role_id.is_not(None)))).order_by(User.display_name))
        return [{"username": p.username, "display_name": p.display_name} for p in people
                if p.id != task.assignee_id and not permissions.may_hold(session, p, task.role, instance)]


def _holding(role: str) -> set[str]:
    """The roles whose members work tasks of `role`: the role itself and any that cover it."""
    return {r for r in ROLES if role in with_cover({r})} | {role}  # a custom role's key: its holders (may_hold then checks)


# -- drafts and saved filters ----------------------------------------------------------------

def save_draft(core: Core, user: User, task_id: str, data: dict) -> None:
    with core.db.session() as session:
        task = _task(session, user, task_id)
        permissions.require(user, "task.complete", task, session)
        draft = session.get(TaskDraft, (task.id, user.id))
        if draft is None:
            session.add(TaskDraft(task_id=task.id, user_id=user.id, data=data, saved_at=clock.now()))
        else:
            draft.data, draft.saved_at = data, clock.now()


def get_draft(core: Core, user: User, task_id: str) -> TaskDraft | None:
    with core.db.session(readonly=True) as session:
        return session.get(TaskDraft, (str(task_id), user.id))


def save_filter(core: Core, user: User, name: str, query: InboxQuery) -> None:
    name = (name or "").strip()[:100]
    if not name:
        raise Invalid("Give the filter a name.", {"name": ["Required."]})
    with core.db.session() as session:
        existing = session.scalar(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.name == name))
        if existing is None:
            session.add(SavedFilter(user_id=user.id, name=name, query=query.to_querystring(page=1)))
        else:
            existing.query = query.to_querystring(page=1)


def delete_filter(core: Core, user: User, filter_id: int) -> None:
    with core.db.session() as session:
        found = session.get(SavedFilter, filter_id)
        if found is None or found.user_id != user.id:
            raise NotFound("No such saved filter.")
        session.delete(found)


def saved_filters(core: Core, user: User) -> list[dict]:
    with core.db.session(readonly=True) as session:
        return [{"id": f.id, "name": f.name, "query": f.query}
                for f in session.scalars(select(SavedFilter).where(SavedFilter.user_id == user.id).order_by(SavedFilter.name))]


def task_view(core: Core, user: User, task_id: str) -> dict:
    """What a task page shows beside the form: what this person may do with the task, its instance and documents."""
    with core.db.session(readonly=True) as session:
        row = session.get(HumanTask, task_id)
        if row is None or not permissions.can(user, "task.view", row, session):
            raise NotFound(f"There is no task {task_id} that you can see.")
        actions = {name: permissions.can(user, f"task.{name}", row, session)
                   for name in ("claim", "unclaim", "assign", "take_back", "complete")}
        # the school records a family's answer given on paper, when the parent has no account or asks for help (R40)
        actions["for_family"] = not actions["complete"] and permissions.can(user, "task.record_for_family", row, session)
        instance = session.get(Instance, row.instance_id)
        return {"actions": actions, "instance": instance, "documents": disclosure.documents(core, session, user, instance)}
