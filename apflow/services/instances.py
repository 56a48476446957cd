"""Running placements: start an instance, complete a task, fire timers, retry after an error.

Each action is one transaction: lock the instance, restore the workflow, act, run engine steps,
then write the new state with its derived rows (ready human tasks, pending timers, events).
If anything fails, nothing of the step is kept and the error is recorded on the instance.
"""
from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, or_, select, text, union, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import DetachedInstanceError, StaleDataError

from apflow.clock import clock
from apflow.engine import payloads
from apflow.engine.diagrams import record_kinds
from apflow.engine.forms import SCHEMA_PROPERTY, UI_PROPERTY, Form
from apflow.engine.interop import INITIATOR_PROPERTY
from apflow.engine.runtime import StepOutcome, TaskNotReady
from apflow.errors import Conflict, Invalid, NotFound, ServiceError, Unavailable, WorkflowFailed
from apflow.placements import cp_file
from apflow.placements.models import Pupil, PupilContact
from apflow.roles import role_for_lane
from apflow.store import outbox
from apflow.store.db import append_row, database_failure, insert_row, instance_params, instance_where, is_sqlite, locked_instance, save_row
from apflow.store.models import NO_DUE_DATE, Event, HumanTask, Instance, Organisation, PendingTimer, ProcessVersion, TaskDraft, User

from . import deadlines, disclosure, documents, faults, form_options, operations, organisations, permissions, records
from . import roles as custom_roles
from .core import Core
from .processes import latest_version
from .users import display_names, usernames

log = logging.getLogger(__name__)
TIMER_RETRY_BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
TIMER_CHANNEL = "apflow_timers"


@dataclass
class Actor:
    """Who acts: a person, or the scheduler (user None)."""
    user: User | None
    name: str

    @classmethod
    def of(cls, user: User | None) -> "Actor":
        return cls(user, user.username if user else "scheduler")

    @property
    def id(self):
        return self.user.id if self.user else None


# -- reading ---------------------------------------------------------------------------------

def task_dict(task: HumanTask, users: dict[int, str] | None = None) -> dict:
    users = users or {}
    return {
        "id": task.id,
        "name": task.name,
        "lane": task.lane,
        "role": task.role,
        "state": task.state,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "assignee": users.get(task.assignee_id) if task.assignee_id else None,
        "instance_id": task.instance_id,
        "process_id": task.process_id,
        "created_at": task.created_at.isoformat(),
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
        "completed_by": users.get(task.completed_by) if task.completed_by else None,
        "documentation": task.documentation,
        "due_soon_at": task.due_soon_at.isoformat() if task.due_soon_at else None,
        "deadline": _deadline(task),
        "pupil_name": task.pupil_name,
        "pupil_ref": task.pupil_ref,
        "provider_name": task.provider_name,
    }


def _deadline(task: HumanTask) -> str | None:
    return deadlines.deadline_state(task, clock.now()) if task.state == "ready" else None


READY_ORDER = (HumanTask.sort_due, HumanTask.created_at, HumanTask.id)


def ready_page_query(user: User, limit: int, offset: int = 0):
    """SQL: the ids of one page of the ready tasks the user may see, soonest due first.

    Each way of seeing a task (assigned, delegated, by role, as a manager) gives its first offset+limit
    tasks from an index walked in due order; the page is cut from their union. The cost follows the
    page, not the number of open placements."""
    columns = [c.label(c.key) for c in READY_ORDER]
    branches = [select(*columns).where(HumanTask.state == "ready", branch).order_by(*READY_ORDER).limit(offset + limit).subquery()
                for branch in permissions.visible_ready_task_branches(user)]
    merged = union(*(select(*branch.c) for branch in branches)).subquery()
    return select(merged.c.id).order_by(merged.c.sort_due, merged.c.created_at, merged.c.id).offset(offset).limit(limit)


def list_ready_tasks(core: Core, user: User, instance_id: int | None = None, limit: int | None = None, offset: int = 0) -> list[dict]:
    """The ready tasks the user may see, soonest due first: all of them, an instance's, or a page."""
    with core.db.session(readonly=True) as session:
        if instance_id is None and limit is not None:
            page = list(session.scalars(ready_page_query(user, limit, offset)))
            found = {t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.id.in_(page)))} if page else {}
            tasks = [found[task_id] for task_id in page if task_id in found]
        else:
            query = select(HumanTask).where(HumanTask.state == "ready", permissions.visible_task_filter(user))
            if instance_id is not None:
                query = query.where(HumanTask.instance_id == instance_id)
            query = query.order_by(*READY_ORDER).offset(offset)
            tasks = list(session.scalars(query if limit is None else query.limit(limit)))
        names = usernames(session, [t.assignee_id for t in tasks] + [t.completed_by for t in tasks])
        return [task_dict(t, names) for t in tasks]


def _visible_task(session, user: User, task_id: str) -> HumanTask:
    task = session.get(HumanTask, str(task_id))
    if task is None or not permissions.can(user, "task.view", task, session):
        raise NotFound(f"There is no task {task_id} that you can see.")
    return task


def get_task(core: Core, user: User, task_id: str) -> dict:
    with core.db.session(readonly=True) as session:
        task = _visible_task(session, user, task_id)
        instance = session.get(Instance, task.instance_id)
        form = _form(core, instance.version, task)
        result = task_dict(task, usernames(session, [task.assignee_id, task.completed_by]))
        result["assignee_name"] = display_names(session, [task.assignee_id]).get(task.assignee_id)
        data = {}
        if task.state == "ready":
            workflow = core.host.load(instance.state, core.bundle(instance.version))
            data = core.host.task_data(workflow, task.id)
        if form is not None:
            schema, ui_schema = form_options.resolve(session, form.schema, form.ui_schema)
            result["form"] = {"schema": schema, "ui_schema": ui_schema}
        else:
            result["form"] = None
        result["data"] = form.prefill(data) if form else {}
        return result


def _form(core: Core, version: ProcessVersion, task: HumanTask) -> Form | None:
    return core.form(version, task.form_schema, task.form_ui_schema)


def _kept_forms(core: Core, version: ProcessVersion, rows: list[HumanTask]) -> dict | None:
    """The forms of a step's ready tasks, for what this process keeps of the step (Core.written); None when the steps
    run in this process, whose answers share values with the workflow they came from, so none is kept."""
    return {row.id: _form(core, version, row) for row in rows} if core.steps.isolated else None


def instance_dict(core: Core, session, instance: Instance, workflow=None, viewer: User | None = None) -> dict:
    """The instance as `viewer` may read it (disclosure decides); without a viewer, whole (for the engine's callers)."""
    if workflow is None:
        workflow = core.host.load(instance.state, core.bundle(instance.version))
    seen = disclosure.view(core, session, viewer, instance) if viewer is not None else None
    data = workflow.data if isinstance(workflow, StepOutcome) else core.host.current_data(workflow)
    result = {
        "id": instance.id,
        "process_id": instance.process_id,
        "process_name": instance.version.name,
        "version": instance.version.version,
        "status": instance.status,
        "created_at": instance.created_at.isoformat(),
        "updated_at": instance.updated_at.isoformat(),
        "started_by": instance.started_by_name,
        "data": seen.data(data) if seen else data,
        "error": None if instance.error_message is None or (seen and not seen.shows_errors()) else {
            "message": instance.error_message, "at": instance.error_at.isoformat(),
            "action": (instance.error_action or {}).get("kind"),
        },
        "audience": seen.audience if seen else None,
    }
    return result


def _visible_instance(session, user: User, instance_id: int) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None or not permissions.can(user, "instance.view", instance, session):
        raise NotFound(f"There is no instance {instance_id} that you can see.")
    return instance


def get_instance(core: Core, user: User, instance_id: int) -> dict:
    with core.db.session(readonly=True) as session:
        return instance_dict(core, session, _visible_instance(session, user, instance_id), viewer=user)


def list_events(core: Core, user: User, instance_id: int) -> list[dict]:
    with core.db.session(readonly=True) as session:
        instance = _visible_instance(session, user, instance_id)
        events = session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.id))
        return disclosure.view(core, session, user, instance).events(
            [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "task_id": e.task_id,
              "task_name": e.task_name, "detail": e.detail} for e in events])


def instance_overview(core: Core, user: User, instance_id: int) -> dict:
    """What the placement page shows beside the instance: its open tasks, documents and pupil reference."""
    with core.db.session(readonly=True) as session:
        instance = _visible_instance(session, user, instance_id)
        seen = disclosure.view(core, session, user, instance)
        open_tasks = [task_dict(t, usernames(session, [t.assignee_id])) for t in session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "ready").order_by(HumanTask.due_at))
            if seen.task_ids is None or permissions.can(user, "task.view", t, session)]
        pupil_ref = session.scalar(select(HumanTask.pupil_ref).where(HumanTask.instance_id == instance_id,
                                                                     HumanTask.pupil_ref.is_not(None)).limit(1))
        return {"open_tasks": open_tasks, "documents": disclosure.documents(core, session, user, instance, seen), "pupil_ref": pupil_ref}


def pupil_instances(core: Core, user: User, pupil_ref: str) -> tuple[str | None, list[int]]:
    """A pupil's name and the ids of the instances about them that this person may see."""
    with core.db.session(readonly=True) as session:
        ids = session.scalars(select(HumanTask.instance_id).where(HumanTask.pupil_ref == pupil_ref).distinct())
        visible = sorted(i for i in ids if permissions.can(user, "instance.view", session.get(Instance, i), session))
        name = session.scalar(select(HumanTask.pupil_name).where(HumanTask.pupil_ref == pupil_ref,
                                                                 HumanTask.pupil_name.is_not(None)).limit(1))
    return name, visible


# -- acting ----------------------------------------------------------------------------------

def start_instance(core: Core, user: User, process_id: str, data: dict | None) -> dict:
    """Start a process as this person: they must hold its start lane's role; it belongs to their organisation."""
    return start_for(core, user, process_id, data, None, check_start_lane=True)


def start_for(core: Core, user: User | None, process_id: str, data: dict | None, organisation_id: int | None,
              check_start_lane: bool = False) -> dict:
    """Start a process for a use case that decided itself who may (e.g. a concern anyone working with the pupil
    may raise starts the DSL's process): no start-lane check unless asked; the instance belongs to `organisation_id`
    (None: the starter's own organisation, or the installation's own when nobody in particular starts it; issue 17)."""
    ahead = _start_early(core, user, process_id, data, check_start_lane)
    try:
        for attempt in range(STEP_ATTEMPTS):
            try:
                return _start_once(core, user, process_id, data, organisation_id, ahead, last=attempt == STEP_ATTEMPTS - 1,
                                   check_start_lane=check_start_lane)
            except _RunAhead as plan:
                ahead = _RunAhead.instead(ahead, plan)
            ahead = _run_ahead(core, Actor.of(user), {"kind": "start", "process_id": process_id}, ahead)  # rolled back: no lock held
        raise AssertionError("the last attempt runs under the lock")
    finally:
        if ahead is not None:
            ahead.settle()


@dataclass(frozen=True)
class _Newest:
    """What this process last read of a process's newest version, as plain values (core.newest_versions)."""
    id: int
    process_id: str
    content_hash: str
    start_lane: str | None
    organisation_id: int | None
    bundle: object

    @classmethod
    def of(cls, core: Core, version: ProcessVersion) -> "_Newest":
        return cls(version.id, version.process_id, version.content_hash, version.start_lane, version.organisation_id,
                   core.bundle(version))


def _start_early(core: Core, user: User | None, process_id: str, data, check_start_lane: bool) -> "_RunAhead | None":
    """Send a start's diagram code to a worker before the start's transaction begins, so that the worker runs it while
    this thread takes the lock, reads the version and checks who may start it: the version is the newest this process
    has seen started. The transaction takes the answer only if the version it reads is that one and the start data it
    works out is the same (_run_in_step); else the step runs as usual and the early answer is dropped. Not when the
    start event records something first (its handlers may change the data), when the steps run in this process, or
    when this person may not start that version."""
    newest = core.newest_versions.get(process_id)
    if newest is None or not core.steps.isolated or (data is not None and not isinstance(data, dict)):
        return None
    if check_start_lane and (user is None or newest.organisation_id not in user.organisation_ids
                             or not permissions.can(user, "instance.start", newest)):
        return None  # (a process shared by the installation's own organisation is checked in the transaction only)
    try:
        _refuse_unsafe_data(data or {})
    except ServiceError:
        return None
    engine_data, start = _start_data(core, newest.bundle, user, data)
    if record_kinds(start):
        return None
    action = {"kind": "start", "data": engine_data}
    try:
        pending = core.steps.submit(_version_key(newest), lambda: _version_spec(core, newest.id), {}, action)
    except Exception:  # noqa: BLE001 - e.g. the pool shutting down: the step itself meets it and says so
        log.debug("a start's code was not sent early", exc_info=True)
        return None
    return _RunAhead.sent(newest.id, action, pending)


def _start_data(core: Core, bundle, user: User | None, data: dict | None) -> tuple[dict, dict]:
    """The data a start hands the engine, and the start event's properties."""
    data = dict(data or {})
    start = core.host.start_properties(bundle)
    if start.get(INITIATOR_PROPERTY) and user is not None:  # camunda:initiator: the starter's username, for `${field}` assignees
        data[str(start[INITIATOR_PROPERTY])] = user.username
    return data, start


def _version_key(version) -> str:
    """How the engine's workers know a deployed version (a ProcessVersion, or _Newest): its process and content."""
    return f"{version.process_id}:{version.content_hash}"


def _version_spec(core: Core, version_id: int) -> dict:
    """A deployed version's spec (a deferred column), read in a read of its own."""
    with core.db.session(readonly=True) as session:
        return session.get(ProcessVersion, version_id).spec


def _start_once(core: Core, user: User | None, process_id: str, data: dict | None, organisation_id: int | None,
                ahead: "_RunAhead | None", last: bool, check_start_lane: bool) -> dict:
    if data is not None and not isinstance(data, dict):
        raise Invalid("`data` must be a JSON object.", {"data": ["Send an object of names to values."]})
    _refuse_unsafe_data(data or {})
    actor = Actor.of(user)
    after: list = []
    with core.db.session() as session:
        version = latest_version(session, process_id)
        if check_start_lane:  # the version the instance will run is the one whose start lane is checked
            permissions.require(user, "instance.start", version, session)
        bundle = core.bundle(version)
        now = clock.now()
        if organisation_id is None:  # every instance belongs to an organisation (issue 17)
            organisation_id = organisations.home_organisation_id(session, user)
        instance = Instance(process_version_id=version.id, process_id=process_id, status="running", state={},
                            started_by=actor.id, created_at=now, updated_at=now, organisation_id=organisation_id)
        instance.version = version
        instance.started_by_name = actor.name
        if (newest := core.newest_versions.get(process_id)) is None or newest.id != version.id:
            core.newest_versions[process_id] = _Newest.of(core, version)
        _check_start_form(core, version, bundle, dict(data or {}))
        data, start = _start_data(core, bundle, user, data)
        if record_kinds(start):  # what starting records refers to the instance: its row is written first
            insert_row(session, instance)
            data.update(records.apply(core, session, instance, actor, None, start, data, data, after))
        try:
            workflow = _run_in_step(core, instance, {"kind": "start", "data": data}, None, ahead, last,
                                    lambda message: f"The process could not start: {message}")
            written = instance.id is None
            if written:  # its row is written once, with what the start left
                instance.state, instance.status = workflow.state, "completed" if workflow.completed else "running"
                insert_row(session, instance)
            add_event(session, instance, actor, "instance_started", detail={"version": version.version, "keys_after": sorted(data or {})})
            persisted = persist(core, session, instance, workflow, actor, before={}, ready_rows={}, timers_before=[], written=written)
            ready = persisted.ready
        except (ServiceError, Unavailable):
            raise
        except Exception as err:  # the diagram failed before the instance existed: nothing is kept
            _raise_if_database_failed(err)
            raise WorkflowFailed(f"The process could not start: {explain(err)}", {"process_id": process_id}) from err
        result = instance_dict(core, session, instance, workflow)
        forms = _kept_forms(core, version, ready)
    core.written.keep(instance, _version_key(version), workflow, ready, forms)
    core.timers_scheduled(persisted.due)
    _signal_after(core, actor, after)
    return result


def _signal_after(core: Core, actor: Actor, after: list) -> None:
    """The signals a committed step's handlers queued for other instances (RecordContext.signal_after), each its
    own step; one that fails is recorded on its instance and does not stop the others."""
    for instance_id, name, detail in after:
        try:
            send_signal(core, actor.user, instance_id, name, detail)
        except ServiceError as err:
            log.warning("signal %s to instance %s after a step failed: %s", name, instance_id, err.message)
        except Unavailable as err:  # the step itself was committed: its answer stands
            log.error("signal %s to instance %s after a step was not sent: the database did not answer (%s)", name, instance_id, err)


def complete_task(core: Core, user: User, task_id: str, data) -> dict:
    if not isinstance(data, dict):
        raise Invalid("`data` must be a JSON object of form fields.", {"data": ["Send an object of field names to values."]})
    return _step(core, Actor.of(user), {"kind": "complete", "task_id": str(task_id), "data": data, "user_id": user.id},
                 viewer=user, ahead=_complete_early(core, user, str(task_id), data))


def _complete_early(core: Core, user: User, task_id: str, data: dict) -> "_RunAhead | None":
    """Send a completion's diagram code to a worker before the step's transaction begins, so that the worker runs it
    while the transaction locks the instance, reads it and checks who may complete the task: on the state this process
    committed last on the placement (Core.written), with the answers worked out from the task's data as it left it.
    The transaction takes the answer only if the instance it reads holds exactly that state and the engine's action it
    works out is the same (_run_in_step): a task that records something is sent with the answers as submitted, and
    taken only if its handlers changed none of them. Else the step runs as usual and the early answer is dropped. Not
    for a task whose handlers have changed its answers before (WrittenSteps.answers_changed), when the steps run in
    this process, or when the task is plainly not this person's (held by someone else, or for a role they do not hold;
    the rest is checked in the transaction)."""
    written = core.written.of_task(task_id) if core.steps.isolated else None
    task = written.tasks.get(task_id) if written is not None else None
    if task is None or (written.version_id, task.spec_id) in core.written.answers_changed:
        return None
    if task.assignee_id != user.id and (task.assignee_id is not None or task.role not in permissions.staff_roles(user)):
        return None
    try:
        _refuse_unsafe_data(data)
        answers = _checked_answers(task.form, dict(task.data), data)
    except Exception:  # noqa: BLE001 - refused, or worse: the step itself meets it and says so
        return None
    restricted = task.form.restricted if task.form else frozenset()
    action = {"kind": "complete", "task_id": task_id, "data": {k: v for k, v in answers.items() if k not in restricted},
              "known_ready": sorted(written.tasks)}
    try:
        pending = core.steps.submit(written.version_key, lambda: _version_spec(core, written.version_id), written.state, action)
    except Exception:  # noqa: BLE001 - e.g. the pool shutting down: the step itself meets it and says so
        log.debug("a completion's code was not sent early", exc_info=True)
        return None
    return _RunAhead.sent(written.version_id, action, pending, written)


def retry(core: Core, user: User, instance_id: int) -> dict:
    """Run again the action that failed on this instance (a manager's call, e.g. after a fix)."""
    with core.db.session() as session:
        instance = session.get(Instance, instance_id)
        if instance is None or not permissions.can(user, "instance.view", instance, session):
            raise NotFound(f"There is no instance {instance_id}.")
        permissions.require(user, "instance.retry", instance)
        action = instance.error_action
        if not action:
            raise Conflict("This instance has no failed action to retry.")
    if action["kind"] == "timer":
        with core.db.session() as session:
            locked_instance(session, instance_id)
            for timer in session.scalars(select(PendingTimer).where(PendingTimer.instance_id == instance_id)):
                timer.retry_at = None
                timer.attempts = 0
        fired = fire_instance_timers(core, instance_id, retried_by=user.username)
        if not fired:
            raise Conflict("No timer of this instance is due any more, so there was nothing to retry.")
        return get_instance(core, user, instance_id)
    if action["kind"] == "signal":  # a signal (e.g. a safeguarding concern) that failed: send it again
        send_signal(core, user, instance_id, action["name"], {"retried_by": user.username})
        return get_instance(core, user, instance_id)
    with core.db.session() as session:
        original = session.get(User, action.get("user_id")) if action.get("user_id") else None
    return _step(core, Actor.of(original), dict(action), instance_id=instance_id, retried_by=user.username)["instance"]


@dataclass
class _Tasks:
    rows: dict[str, HumanTask]  # the task an action names and the instance's ready tasks, by id
    drafted: bool               # whether anyone saved a draft of the named task


def _lock_and_read(session, instance_id: int | None, task_id: str | None) -> tuple[Instance | None, _Tasks | None]:
    """Lock the instance (given, or the named task's) and read it; with task_id, also its tasks as _Tasks.

    SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE), so one query reads it all.
    PostgreSQL: the tasks must be read by a statement after the one that takes the row lock, or a
    concurrent step's changes to them would not be seen.
    """
    if task_id is None:
        return locked_instance(session, instance_id), None
    params = {**instance_params(instance_id, task_id), "task_id": task_id}
    if is_sqlite(session):
        found = session.execute(_instance_with_tasks(instance_id is None), params).all()
        instance = found[0][0] if found else None
    else:
        instance = locked_instance(session, instance_id, task_id)
        found = session.execute(_tasks_of_instance(), {"instance_id": instance.id, "task_id": task_id}).all() if instance else []
    tasks = _Tasks({}, False)
    for *_, row, drafted in found:
        if row is not None:
            tasks.rows[row.id], tasks.drafted = row, tasks.drafted or drafted
    return instance, tasks


# The statements every completion runs, built once: building and keying a statement per call costs
# more than SQLite takes to run it.
def _has_draft():
    return select(TaskDraft.task_id).where(TaskDraft.task_id == bindparam("task_id")).exists().label("has_draft")


def _named_or_ready():
    return or_(HumanTask.state == "ready", HumanTask.id == bindparam("task_id"))


@functools.lru_cache(maxsize=2)
def _instance_with_tasks(by_task: bool):
    return (select(Instance, HumanTask, _has_draft())
            .outerjoin(HumanTask, and_(HumanTask.instance_id == Instance.id, _named_or_ready()))
            .where(instance_where(by_task)).execution_options(populate_existing=True))


@functools.lru_cache(maxsize=1)
def _delete_timers():
    table = PendingTimer.__table__
    return table.delete().where(table.c.id.in_(bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=1)
def _tasks_of_instance():
    return select(HumanTask, _has_draft()).where(HumanTask.instance_id == bindparam("instance_id"), _named_or_ready())


@contextmanager
def _locked_step(core: Core, actor: Actor, action: dict, failure, instance_id: int | None = None, task_id: str | None = None):
    """One step on one instance: its transaction starts with the instance lock and yields (session, instance,
    tasks). Without instance_id, the instance is the one of task_id, found by the lock itself; with task_id,
    tasks holds that task and the instance's ready tasks (else None).

    A concurrent change becomes a Conflict; a failure of the diagram rolls everything back, is recorded on
    the instance with the action (for a retry), and reaches the caller as WorkflowFailed. A failure of the
    database (lost connection, timeout, any driver error) also rolls everything back but is no fault of the
    diagram: nothing is recorded, and the caller gets Unavailable (503) to send the same request again.
    """
    try:
        with core.db.session() as session:
            instance, tasks = _lock_and_read(session, instance_id, task_id)
            if instance is None:
                raise NotFound(f"There is no task {task_id} that you can see." if instance_id is None
                               else f"There is no instance {instance_id}.")
            instance_id = instance.id
            yield session, instance, tasks
    except StaleDataError:
        raise Conflict("Someone else changed this placement at the same moment; reload and try again.") from None
    except (ServiceError, Unavailable):
        raise
    except Exception as err:
        _raise_if_database_failed(err)
        if instance_id is None:
            raise
        message = explain(err)
        _record_error(core, instance_id, actor, message, action)
        raise WorkflowFailed(failure(message), {"instance_id": instance_id}) from err


def _step(core: Core, actor: Actor, action: dict, instance_id: int | None = None, retried_by: str | None = None,
          viewer: User | None = None, ahead: "_RunAhead | None" = None) -> dict:
    """Complete the task the action names. viewer: the person asking, who must be able to see the task. ahead: the
    step's code sent before its transaction (_complete_early)."""
    try:
        for attempt in range(STEP_ATTEMPTS):
            try:
                return _step_once(core, actor, action, instance_id, retried_by, viewer, ahead, last=attempt == STEP_ATTEMPTS - 1)
            except _RunAhead as plan:
                ahead = _RunAhead.instead(ahead, plan)
            ahead = _run_ahead(core, actor, action, ahead)  # rolled back: no lock is held while the diagram's code runs
        raise AssertionError("the last attempt runs under the lock")
    finally:
        if ahead is not None:
            ahead.settle()


def _step_once(core: Core, actor: Actor, action: dict, instance_id: int | None, retried_by: str | None, viewer: User | None,
               ahead: "_RunAhead | None", last: bool) -> dict:
    def failure(message):
        return (f"The process could not move on: {message}. Nothing was changed and your answers were kept; "
                "a manager can see the error on the placement and retry it once the process is fixed.")

    task_id = action["task_id"]
    _refuse_unsafe_data(action["data"])  # before the lock: a refused submission holds up nobody
    with _locked_step(core, actor, action, failure, instance_id, task_id) as (session, instance, tasks):
        task = tasks.rows.get(task_id)
        if viewer is not None and (task is None or not permissions.can(viewer, "task.view", task, session)):
            raise NotFound(f"There is no task {task_id} that you can see.")
        _check_can_complete(session, actor, task, for_family=bool(action.get("on_behalf_of_family")))
        if tasks.drafted:  # first: nothing to autoflush yet
            session.execute(delete(TaskDraft).where(TaskDraft.task_id == task.id).execution_options(synchronize_session=False))
        version = instance.version
        written = core.written.matching(instance)
        kept = written.tasks.get(task.id) if written is not None else None
        if kept is not None:  # the state this process wrote last: what a restore would give is known already
            workflow, timers_before, before = None, written.waiting, dict(written.data)
            task_data, properties = dict(kept.data), kept.properties
        else:
            workflow = _reused(ahead, instance) or core.host.load(instance.state, core.bundle(version))
            timers_before, before = core.host.waiting_timers(workflow), core.host.current_data(workflow)
            task_data, properties = core.host.task_data(workflow, task.id), core.host.task_properties(workflow, task.id)
        form = _form(core, version, task)
        answers = _checked_answers(form, task_data, action["data"])
        _check_documents(session, form, answers, instance.id)
        after: list = []
        updates = records.apply(core, session, instance, actor, task, properties, answers, task_data, after)
        if any(k not in answers or answers[k] != v for k, v in updates.items()):  # a completion sent early is not taken
            core.written.answers_changed.add((instance.process_version_id, task.spec_id))
        answers.update(updates)
        restricted = form.restricted if form else frozenset()
        if restricted:  # child-protection answers go to the child's file, never into process data (R81)
            cp_file.keep_answers(session, instance, actor, task, form, {k: answers.pop(k) for k in list(answers) if k in restricted},
                                 {**before, **answers})
        try:
            workflow = _run_in_step(core, instance, {"kind": "complete", "task_id": task.id, "data": answers,
                                                     "known_ready": sorted(tasks.rows)}, workflow, ahead, last, failure, written)
        except TaskNotReady:
            raise Conflict("This task is no longer waiting for an answer: the process has moved on without it.") from None
        detail = {"retried_by": retried_by} if retried_by else {}
        if action.get("on_behalf_of_family"):  # the school recorded a family's answer given on paper (R40)
            detail["recorded_for_family"] = action["on_behalf_of_family"]
        add_event(session, instance, actor, "task_completed", task=task, detail=detail, before=before, after=answers)
        persisted = persist(core, session, instance, workflow, actor, before=before, completed_task=task.id,
                             ready_rows={i: r for i, r in tasks.rows.items() if r.state == "ready"}, timers_before=timers_before,
                             completed_answers=answers)
        result = {"task": task_dict(task, {actor.id: actor.name} if actor.id else {}),
                  "instance": instance_dict(core, session, instance, workflow, viewer=actor.user),
                  "next_tasks": [task_dict(t) for t in persisted.ready]}
        forms = _kept_forms(core, version, persisted.ready)
    core.written.keep(instance, _version_key(version), workflow, persisted.ready, forms)
    core.timers_scheduled(persisted.due)
    _signal_after(core, actor, after)
    return result


class _RunAhead(ServiceError):
    """Raised inside a step's transaction to roll it back and run the diagram's code with no transaction open."""

    def __init__(self, instance: Instance | None, action: dict, failure, workflow, pending, version_id: int | None = None):
        super().__init__("the step runs its diagram's code first")
        self.instance_id, self.lock_version = (instance.id, instance.lock_version) if instance is not None else (None, None)
        self.version_id = instance.process_version_id if instance is not None else version_id
        self.action, self.failure, self.workflow, self.pending = action, failure, workflow, pending
        self.outcome: StepOutcome | None = None
        self.early = False
        self.written = None  # a completion sent early: the step this process wrote last, whose state it ran on

    @classmethod
    def sent(cls, version_id: int, action: dict, pending, written=None) -> "_RunAhead":
        """A step's code sent before its transaction began (_start_early, _complete_early): its answer is awaited in the
        transaction. written: for a completion, what it ran on (services/written.py)."""
        plan = cls(None, action, None, None, pending, version_id)
        plan.early, plan.written = True, written
        if written is not None:
            plan.instance_id, plan.lock_version = written.instance_id, written.lock_version
        return plan

    @staticmethod
    def instead(ahead: "_RunAhead | None", plan: "_RunAhead") -> "_RunAhead":
        """The plan a rolled-back attempt raised, in place of the one before it (whose answer, if it was not the one
        awaited, is settled)."""
        if ahead is not None and ahead.pending is not plan.pending:
            ahead.settle()
        return plan

    def answers(self, instance: Instance, action: dict, written=None) -> bool:
        """Whether this run is the step's: the same action on the same version of the instance, unchanged since (for a
        completion sent early: on the state the instance holds, which the step found to be the one written here)."""
        return (self.version_id == instance.process_version_id and self.lock_version == instance.lock_version
                and self.action == action and (self.written is None or self.written is written))

    def settle(self) -> None:
        """Read an answer nobody took (an early start the transaction did not use), so its worker goes back to the pool
        instead of being stopped."""
        if self.pending is not None and self.pending.worker is not None:
            try:
                self.pending.result()
            except Exception:  # noqa: BLE001 - the answer is not used
                log.debug("an early start's answer was not used", exc_info=True)


def _reused(ahead: _RunAhead | None, instance: Instance):
    """The workflow as restored in the first attempt (it was only read), if the instance has not changed since."""
    return ahead.workflow if ahead is not None and instance.lock_version == ahead.lock_version else None


# On SQLite a step's transaction holds the one write lock of the whole database; its diagram code may keep it this
# long (seconds) before the step lets go of the lock and waits for the worker with no transaction open.
LOCK_GRACE_SECONDS = 0.1


def _run_in_step(core: Core, instance: Instance, action: dict, workflow, ahead: _RunAhead | None, last: bool, failure,
                 written=None) -> StepOutcome:
    """The engine's run for a step that holds the instance's lock.

    On SQLite a writing transaction holds the one write lock of the whole database, so the diagram's code may not
    run long inside it: a step whose worker has not answered within LOCK_GRACE_SECONDS is rolled back (_RunAhead),
    the worker's answer awaited with no transaction open, and the step done again, taking that answer if nothing
    changed meanwhile (the same state, and the same answers after the record handlers). Only a step that keeps
    changing under it runs its code under the lock, on the last attempt. On PostgreSQL the step's transaction holds
    only this placement's rows, and the code runs inside it.
    """
    if ahead is not None and ahead.answers(instance, action, written):
        if not ahead.early:
            return ahead.outcome
        ahead.early, pending = False, ahead.pending  # sent before this transaction began: awaited as if sent now
    elif core.steps.isolated and core.db.is_sqlite and not last:
        version = instance.version
        pending = core.steps.submit(_version_key(version), lambda: version.spec, instance.state, action)
    else:
        return _run(core, instance.version, instance.state, action, workflow)
    if not core.db.is_sqlite or last:
        return pending.result()
    outcome = pending.result(timeout=LOCK_GRACE_SECONDS)
    if outcome is not None:
        return outcome
    raise _RunAhead(instance, action, failure, workflow, pending)


def _run_ahead(core: Core, actor: Actor, step_action: dict, plan: _RunAhead) -> _RunAhead:
    """Wait for the plan's diagram code with no transaction open; a failure is recorded on the instance as in a step
    (a start's instance does not exist yet: nothing is recorded, and nothing is kept)."""
    try:
        plan.outcome = plan.pending.result()
    except TaskNotReady:
        raise Conflict("This task is no longer waiting for an answer: the process has moved on without it.") from None
    except (ServiceError, Unavailable):
        raise
    except Exception as err:
        _raise_if_database_failed(err)
        message = explain(err)
        if step_action["kind"] == "start":
            raise WorkflowFailed(plan.failure(message), {"process_id": step_action["process_id"]}) from err
        _record_error(core, plan.instance_id, actor, message, step_action)
        raise WorkflowFailed(plan.failure(message), {"instance_id": plan.instance_id}) from err
    return plan


def _run(core: Core, version: ProcessVersion, state: dict | None, action: dict, workflow=None) -> StepOutcome:
    """Run one action of the engine, the diagram's own code, where the settings say: a worker process with limits
    on processor time and memory (the default), or this process. workflow: the instance as already restored here.

    The version may come from a unit of work that has ended (timers and signals run the diagram's code with no
    transaction open): its spec, a deferred column, is then read in a read of its own, and only if needed."""
    def spec() -> dict:
        try:
            return version.spec
        except DetachedInstanceError:
            set_committed_value(version, "spec", _version_spec(core, version.id))
            return version.spec

    def bundle():
        try:
            return core.bundle(version)
        except DetachedInstanceError:
            spec()
            return core.bundle(version)

    return core.steps.run(_version_key(version), spec, bundle, state, action, workflow)


def _refuse_unsafe_data(data) -> None:
    """Everything from outside that becomes workflow data (answers, start data) passes here first: bounded in size
    and shape, and without the names SpiffWorkflow's serializer would read as its own objects (which would leave
    the instance unreadable for everyone)."""
    found = payloads.problems(data)
    if found:
        raise Invalid(f"{payloads.summary(found)} Nothing was changed.", {"fields": found})


def _check_start_form(core: Core, version: ProcessVersion, bundle, data: dict) -> None:
    """A start event that names a form (formJsonSchemaFilename) takes only start data that fits it."""
    properties = core.host.start_properties(bundle)
    form = core.form(version, properties.get(SCHEMA_PROPERTY), properties.get(UI_PROPERTY))
    errors = form.errors(data) if form is not None else {}
    if errors:
        raise Invalid("Some start details need correcting; nothing was started.", {"fields": errors})


def _checked_answers(form: Form | None, task_data: dict, submitted: dict) -> dict:
    """The answers to store: the form's fields as they stand, updated by what was submitted.

    Fields the caller leaves out keep their current value, so an API client may send only what it changes.
    """
    if form is None:
        if submitted:
            raise Invalid("This task has no form, so it takes no data.", {"fields": {k: ["This task has no form fields."] for k in submitted}})
        return {}
    answers = {**form.prefill(task_data), **submitted}
    errors = form.errors(answers)
    if errors:
        raise Invalid("Some answers need correcting; the task is still open.", {"fields": errors})
    return answers


def _check_documents(session, form: Form | None, answers: dict, instance_id: int) -> None:
    """File fields hold ids of documents uploaded on this placement; refuse anything else."""
    if form is None:
        return
    for key in form.fields:
        ui = form.ui_schema.get(key) if isinstance(form.ui_schema.get(key), dict) else {}
        if ui.get("ui:widget") == "file" and key in answers and not (
                isinstance(answers[key], int) and documents.belongs_to(session, answers[key], instance_id)):
            raise Invalid("An uploaded file is missing; upload it again.", {"fields": {key: ["Upload the file again."]}})


def _check_can_complete(session, actor: Actor, task: HumanTask | None, for_family: bool = False) -> None:
    if task is None:
        raise NotFound("There is no such task.")
    if task.state != "ready":
        who = usernames(session, [task.completed_by]).get(task.completed_by)
        when = task.completed_at.strftime("%d %b %Y %H:%M") if task.completed_at else None
        if task.state == "completed" and who:
            raise Conflict(f"This task was already completed by {who} at {when} UTC; your answers were not applied.")
        raise Conflict(f"This task is {task.state} and can no longer be completed.")
    if actor.user is not None:
        permissions.require(actor.user, "task.record_for_family" if for_family else "task.complete", task, session)


# -- signals (used by other use cases, e.g. safeguarding.raise_concern) -------------------------

def send_signal(core: Core, user: User, instance_id: int, name: str, detail: dict | None = None) -> dict:
    """Send a named BPMN signal into one instance as one step, e.g. a safeguarding concern that interrupts
    the running placement. Returns {"caught": False} and changes nothing when no part of it waits for the signal."""
    actor = Actor.of(user)
    action = {"kind": "signal", "name": name}

    def failure(message):
        return f"The signal '{name}' could not be handled: {message}."

    for _ in range(STEP_ATTEMPTS):
        seen = _read_for_step(core, instance_id)
        if seen is None:
            raise NotFound(f"There is no instance {instance_id}.")
        if seen.status == "completed":
            return {"caught": False}
        step = _run_unlocked(core, actor, action, failure, seen)
        if not step.caught:
            return {"caught": False}
        with _locked_step(core, actor, action, failure, instance_id) as (session, instance, _):
            if instance.lock_version != seen.lock_version:
                continue  # someone else moved it on while the diagram ran: run it again on what they left
            add_event(session, instance, actor, "signal", detail={"signal": name, **(detail or {})})
            due = persist(core, session, instance, step, actor, before=step.before, timers_before=step.timers_before).due
        core.timers_scheduled(due)
        return {"caught": True}
    raise Conflict("Someone else kept changing this placement; try again.")


# Signals and timers run the diagram's code with no transaction open (no lock is held while it computes): read,
# run, then lock and write only if nobody moved the instance on meanwhile (its lock_version), else again.
STEP_ATTEMPTS = 3


@dataclass
class _Seen:
    """An instance as read before a step runs its diagram's code outside any transaction."""
    instance_id: int
    lock_version: int
    status: str
    version: ProcessVersion
    state: dict
    ready: list[str]


def _read_for_step(core: Core, instance_id: int) -> _Seen | None:
    with core.db.session(readonly=True) as session:
        instance = session.get(Instance, instance_id)
        if instance is None:
            return None
        ready = list(session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.state == "ready")))
        return _Seen(instance.id, instance.lock_version, instance.status, instance.version, instance.state, ready)


def _run_unlocked(core: Core, actor: Actor, action: dict, failure, seen: _Seen) -> StepOutcome:
    """Run the action's diagram code with no transaction open; a failure is recorded on the instance as in a step."""
    try:
        return _run(core, seen.version, seen.state, {**action, "known_ready": seen.ready})
    except (ServiceError, Unavailable):
        raise
    except Exception as err:
        _raise_if_database_failed(err)
        message = explain(err)
        _record_error(core, seen.instance_id, actor, message, action)
        raise WorkflowFailed(failure(message), {"instance_id": seen.instance_id}) from err


# -- timers ----------------------------------------------------------------------------------

def next_due_at(core: Core) -> datetime | None:
    """The earliest moment anything (an engine timer or a deadline alert) falls due."""
    with core.db.session(readonly=True) as session:
        timer = session.scalar(select(func.min(_next_at())))
    alert = deadlines.next_due_at(core)
    return min([t for t in (timer, alert) if t is not None], default=None)


def fire_due_timers(core: Core, limit: int = 1000) -> int:
    """Fire every timer that is due, instance by instance; returns how many instances moved on."""
    fired = 0
    for _ in range(limit):
        outcome = _fire(core, None)  # None: nothing left that this scheduler can claim
        if outcome is None:
            break
        fired += outcome
    return fired


def _next_at():
    """When a pending timer is next to fire (its retry time after a failure); indexed (ix_pending_timers_next_at)."""
    return func.coalesce(PendingTimer.retry_at, PendingTimer.due_at)


def _due(now):
    return _next_at() <= now


def _claim_due(session, now) -> int | None:
    """An instance with due timers that no other scheduler is firing, or None."""
    if is_sqlite(session):
        # The unit of work holds SQLite's one write lock (BEGIN IMMEDIATE): whatever it finds is its own.
        return session.scalar(select(PendingTimer.instance_id).where(_due(now)).order_by(_next_at()).limit(1))
    return session.scalar(select(Instance.id).where(Instance.id.in_(
        select(PendingTimer.instance_id).where(_due(now)))).limit(1).with_for_update(skip_locked=True))


def fire_instance_timers(core: Core, instance_id: int, retried_by: str | None = None) -> bool:
    """Fire the due timers of one instance; False when none is due any more (another scheduler fired them)."""
    return bool(_fire(core, instance_id, retried_by))


def _fire(core: Core, instance_id: int | None, retried_by: str | None = None) -> bool | None:
    actor = Actor(None, "scheduler")
    try:
        now, ahead = clock.now(), None
        for attempt in range(STEP_ATTEMPTS):
            try:
                with core.db.session() as session:
                    if instance_id is None:
                        instance_id = _claim_due(session, now)
                        if instance_id is None:
                            return None
                    instance = locked_instance(session, instance_id)
                    if instance is None:
                        return False
                    due = list(session.scalars(select(PendingTimer).where(PendingTimer.instance_id == instance_id, _due(now))))
                    if not due:
                        return False
                    # The diagram's code (timer expressions, what follows the timer) as for a completion: see _run_in_step.
                    step = _run_in_step(core, instance, {"kind": "fire"}, None, ahead, attempt == STEP_ATTEMPTS - 1, None)
                    skipped = {f.task_id: f.skipped for f in step.fired}
                    for timer in due:
                        detail = {"timer": timer.spec_id, "name": timer.name, "due_at": timer.due_at.isoformat(),
                                  "late_seconds": round((now - timer.due_at).total_seconds(), 3)}
                        if skipped.get(timer.id):
                            detail["skipped_cycles"] = skipped[timer.id]
                        if retried_by:
                            detail["retried_by"] = retried_by
                        add_event(session, instance, actor, "timer_fired", detail=detail)
                    scheduled = persist(core, session, instance, step, actor, before=step.before, timers_before=step.timers_before).due
                break
            except _RunAhead as plan:
                ahead = plan
            ahead.outcome = ahead.pending.result()  # rolled back: no lock is held while the diagram's code runs
        else:
            return False
    except Unavailable:  # nothing was recorded: the timers stay due and the next sweep fires them
        raise
    except Exception as err:
        _raise_if_database_failed(err)
        if instance_id is None:
            raise
        message = explain(err)
        _record_error(core, instance_id, actor, message, {"kind": "timer"}, timer_failed=True)
        log.error("timer of instance %s failed: %s", instance_id, message)
        return False
    core.timers_scheduled(scheduled)
    return True


# -- writing the derived rows ----------------------------------------------------------------

@dataclass
class Persisted:
    due: list[datetime]       # due times of timers and alerts this step scheduled (for the scheduler)
    ready: list[HumanTask]    # the instance's ready human tasks after the step


def persist(core: Core, session, instance: Instance, workflow, actor: Actor, before: dict, completed_task: str | None = None,
             ready_rows: dict[str, HumanTask] | None = None, timers_before: list | None = None,
             completed_answers: dict | None = None, written: bool = False) -> Persisted:
    """Write state and every row derived from it.

    written: the instance's row was inserted with what the step left (a start), so only the rows derived from it are
    written here.
    ready_rows: the instance's ready human_tasks rows, if the caller has read them already; timers_before:
    the workflow's waiting timers as last stored (the pending_timers rows mirror them), if the caller
    knows them. Either is read from the database otherwise.
    """
    now = clock.now()
    if ready_rows is None:
        ready_rows = {t.id: t for t in session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.state == "ready"))}
    # What the step left behind, as data: from the engine's run (a worker process's answer), or, for a workflow
    # changed here without running its code (a migration), read off it now.
    step = workflow if isinstance(workflow, StepOutcome) else core.host.outcome(workflow, now, known_ready=set(ready_rows))
    if not written:
        save_row(session, instance, {"state": step.state, "status": "completed" if step.completed else "running",
                                     "updated_at": now, "error_message": None, "error_at": None, "error_action": None})

    ready = {t.id: t for t in step.ready}
    waiting = {t.task_id: t for t in step.waiting}
    closed = []
    for task_id, row in ready_rows.items():
        if task_id in ready:
            continue
        done = task_id == completed_task
        save_row(session, row, {"state": "completed" if done else "cancelled", "completed_at": now,
                                "completed_by": actor.id if done else None, "answers": completed_answers if done else None})
        closed.append(row)
        if not done:
            add_event(session, instance, actor, "task_cancelled", task=row)
    deadlines.close(session, closed)
    data = step.data
    if instance.provider_organisation_id is None or data.get("provider_name") != before.get("provider_name"):
        _link_provider(session, instance, data)
    still_ready = [row for task_id, row in ready_rows.items() if task_id in ready]
    new_rows = []
    for task_id, task in ready.items():
        if task_id in ready_rows:
            continue
        watching = [t.due_at for t in waiting.values() if t.attached_to == task_id]
        due_at = step.due.get(task_id) if task.due_in else (min(watching) if watching else None)
        row = HumanTask(id=task_id, instance_id=instance.id, process_id=task.process_id, spec_id=task.spec_id,
                        name=task.name, lane=task.lane, role=custom_roles.lane_role(session, task.lane), form_schema=task.form.schema_file,
                        form_ui_schema=task.form.ui_file, documentation=task.documentation, state="ready",
                        created_at=now, due_at=due_at, sort_due=due_at or NO_DUE_DATE, due_soon_at=deadlines.due_soon_at(now, due_at),
                        deadline_by_diagram=bool(watching), pupil_name=_text(data.get("pupil_name")),
                        pupil_ref=_text(data.get("pupil_ref")), provider_name=_text(data.get("provider_name")),
                        assignee_id=_assignee_from(session, task, data, instance, actor), escalate_to=escalation_roles(task.escalate_to, session))
        insert_row(session, row)
        new_rows.append(row)
        deadlines.plan(session, row)
        if task.alert:
            _alert(session, instance, row, task.alert)
        add_event(session, instance, actor, "task_ready", task=row, detail={"role": row.role, "due_at": due_at.isoformat() if due_at else None})

    if timers_before is None:
        stored = {t.id: t.due_at for t in session.scalars(select(PendingTimer).where(PendingTimer.instance_id == instance.id))}
    else:
        stored = {t.task_id: t.due_at for t in timers_before}
    gone = [timer_id for timer_id in stored if timer_id not in waiting]
    if gone:
        session.connection().execute(_delete_timers(), {"ids": gone})
    changed_due = []
    for timer_id, timer in waiting.items():
        if timer_id not in stored:
            append_row(session, PendingTimer, dict(id=timer_id, instance_id=instance.id, spec_id=timer.spec_id, name=timer.name, kind=timer.kind,
                                                   due_at=timer.due_at, attempts=0, retry_at=None, last_error=None, attached_to=timer.attached_to))
        elif stored[timer_id] != timer.due_at:
            session.execute(update(PendingTimer).where(PendingTimer.id == timer_id)
                            .values(due_at=timer.due_at, attempts=0, retry_at=None, last_error=None)
                            .execution_options(synchronize_session=False))
        else:
            continue
        changed_due.append(timer.due_at)
    changed_due += [r.due_soon_at or r.due_at for r in new_rows if r.due_at and not r.deadline_by_diagram]
    if changed_due and not core.db.is_sqlite:
        # Other processes' schedulers LISTEN for this; PostgreSQL delivers it only if we commit.
        session.execute(text("SELECT pg_notify(:channel, :due)"), {"channel": TIMER_CHANNEL, "due": min(changed_due).isoformat()})

    if step.effects:  # what the step's service tasks asked for, in this transaction (services/operations.py)
        signals = operations.apply(core, session, instance, actor, step.effects,
                                   lambda kind, detail: add_event(session, instance, actor, kind, detail=detail), data)
        if signals:  # what a record it wrote signals to other placements: each a step of its own, once this one is committed
            sa_event.listen(session, "after_commit", lambda _session: _signal_after(core, actor, signals), once=True)
    if instance.status == "completed":
        add_event(session, instance, actor, "instance_completed", before=before, after=data)
    return Persisted(changed_due, still_ready + new_rows)


def escalation_roles(value: str | None, session=None) -> str | None:
    """The roles an `escalateTo` property names (titles or keys), as keys: 'Deputy DSL, Headteacher' -> 'deputy_dsl,headteacher'."""
    roles = [custom_roles.lane_role(session, part) if session is not None else role_for_lane(part)
             for part in (value or "").split(",") if part.strip()]
    return ",".join(r for r in roles if r) or None


def _alert(session, instance: Instance, row: HumanTask, text: str) -> None:
    """A task marked `alert` tells its lane's people in the instance's organisation at once: in the app with the
    pupil's name, by e-mail with only the alert and a link (an e-mail leaves the product)."""
    if not row.role:
        return
    who = f": {row.pupil_name} ({row.pupil_ref})" if row.pupil_name else ""
    outbox.notify(session, outbox.role_members(session, row.role, instance.organisation_id), "task_alert", f"{text}{who}",
                  instance_id=instance.id, subject=text[:120], email=f"{text}. Open the task:", link=f"/tasks/{row.id}")


def _link_provider(session, instance: Instance, data: dict) -> None:
    """Placements name their provider in `provider_name`; link the provider's organisation so its staff see it."""
    name = data.get("provider_name")
    if not name:
        return
    org_id = session.scalar(select(Organisation.id).where(Organisation.name == str(name), Organisation.kind == "provider"))
    if org_id is not None and instance.provider_organisation_id != org_id:
        instance.provider_organisation_id = org_id


def _assignee_from(session, task, data: dict, instance: Instance, actor: Actor) -> int | None:
    """A task with property assignTo=KEY goes straight to the user named in data[KEY] (e.g. the pupil's parent) if they may
    hold it (permissions.may_hold: the task's role, the placement's organisations, a parent linked to the pupil); naming
    anyone else is recorded as an event and the task waits for its role. A parent's task that names nobody who may
    hold it goes to the parent the school linked to the pupil, if any."""
    key = task.assign_to
    username = getattr(task, "assignee", None) or (str(data[key]) if key and data.get(key) else None)  # assignee: a username in the diagram
    person = session.scalar(select(User).where(User.username == username, User.active.is_(True))) if username else None
    refused = permissions.may_hold(session, person, custom_roles.lane_role(session, task.lane), instance, data.get("pupil_ref")) if person else None
    if refused:
        add_event(session, instance, actor, "assignment_refused", detail={"named": person.username, "task_name": task.name, "message":
                  f"{person.display_name} was named to do '{task.name}' but {refused}, so it was not given to them."})
    named = person.id if person is not None and not refused else None
    if named is None and key and role_for_lane(task.lane) == "parent" and data.get("pupil_ref"):
        return session.scalar(select(PupilContact.user_id).join(Pupil, Pupil.id == PupilContact.pupil_id)
                              .join(User, User.id == PupilContact.user_id)
                              .where(Pupil.ref == str(data["pupil_ref"]), PupilContact.removed_at.is_(None),
                                     PupilContact.parental_responsibility.is_(True), User.active.is_(True))
                              .order_by(PupilContact.id).limit(1))
    return named


def _text(value) -> str | None:
    return str(value)[:200] if value not in (None, "") else None


def add_event(session, instance: Instance, actor: Actor, kind: str, task: HumanTask | None = None,
           detail: dict | None = None, before: dict | None = None, after: dict | None = None) -> None:
    detail = dict(detail or {})
    if before is not None and after is not None:
        detail["keys_before"] = sorted(before)
        detail["keys_after"] = sorted(set(before) | set(after))
        detail["changed"] = sorted(k for k in after if k not in before or before[k] != after[k])
    append_row(session, Event, dict(instance_id=instance.id, at=clock.now(), actor_id=actor.id, actor=actor.name, kind=kind,
                                    task_id=task.id if task else None, task_name=task.name if task else None, detail=detail))


def _raise_if_database_failed(err: Exception) -> None:
    """A step that failed because of the database (not the diagram) records nothing on the instance: a value the
    database cannot store is the request's fault (Invalid), anything else ends as Unavailable, to be sent again."""
    refusal = faults.refusal_for(err)
    if refusal is not None:
        raise refusal from err
    failure = database_failure(err)
    if failure is not None:
        log.warning("a step was rolled back because the database failed: %s", failure)
        raise failure from err


def _record_error(core: Core, instance_id: int, actor: Actor, message: str, action: dict, timer_failed: bool = False) -> None:
    """Note the failure on the instance in a transaction of its own; the failed step left nothing behind."""
    try:
        with core.db.session() as session:
            instance = locked_instance(session, instance_id)
            if instance is None:
                return
            now = clock.now()
            instance.error_message, instance.error_at, instance.error_action = message, now, action
            instance.status = "error"
            if timer_failed:
                for timer in session.scalars(select(PendingTimer).where(PendingTimer.instance_id == instance_id, _due(now))):
                    backoff = TIMER_RETRY_BACKOFF[min(timer.attempts, len(TIMER_RETRY_BACKOFF) - 1)]
                    timer.attempts += 1
                    timer.retry_at = now + backoff
                    timer.last_error = message
            add_event(session, instance, actor, "error", detail={"message": message, "action": action.get("kind"),
                                                            "task_id": action.get("task_id")})
    except Exception:  # the original error matters more than a failure to record it
        log.exception("could not record the error on instance %s", instance_id)


def explain(err: BaseException) -> str:
    """A one-line account of an engine failure, naming the diagram element where SpiffWorkflow says."""
    parts = []
    seen = set()
    current = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip()
        task_spec = getattr(current, "task_spec", None) or getattr(getattr(current, "task", None), "task_spec", None)
        where = getattr(task_spec, "bpmn_name", None) or getattr(task_spec, "bpmn_id", None)
        if where and f"'{where}'" not in " ".join(parts):
            parts.append(f"at '{where}'")
        if text and text not in parts:
            parts.append(text)
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return " - ".join(parts) or err.__class__.__name__
