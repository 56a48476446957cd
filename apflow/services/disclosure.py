"""Who may read which part of a placement's workflow: the one place that decides (R81).

permissions.py decides whether someone may open an instance at all; this module decides what of it they read.
Child-protection answers never reach process data (fields marked restricted go to the child's file, see
apflow.placements.cp_file), so what is decided here is how much of the rest each audience sees:

- school: staff of the commissioning school or LA (and managers): all process data, the whole timeline.
- provider: staff of the provider delivering the placement: the basics, their own lane's answers, and fields the
  commissioner's forms share with providers ("x-apflow-audience": ["provider"]); the timeline of their tasks.
- family: parents and pupils: the basics, the answers of their own tasks, and fields shared with families
  ("x-apflow-audience": ["family"]: the plan, the timetable, reports); the timeline of their own tasks.
- assigned: anyone else who holds or completed a task on the instance (e.g. another organisation's officer):
  the basics and their own tasks' answers and timeline.
Documents marked restricted (child-protection attachments) only reach people entitled to the child's file.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from apflow.placements.models import CpRecord
from apflow.roles import SAFEGUARDING_ROLES
from apflow.store.models import Document, HumanTask, Instance, User

from . import permissions
from .core import Core

SCHOOL, PROVIDER, FAMILY, ASSIGNED = "school", "provider", "family", "assigned"
BASICS = frozenset({"pupil_name", "pupil_ref", "provider_name", "start_date", "placement_id", "pupil_id"})
PUBLIC_EVENTS = frozenset({"instance_started", "instance_completed"})


def audience(user: User, instance: Instance) -> str:
    staff = permissions.staff_roles(user)
    if not staff:
        return FAMILY if user.role_names & permissions.EXTERNAL_ROLES else ASSIGNED
    orgs = user.organisation_ids
    commissioning = instance.organisation_id in orgs
    if staff == {"provider"} or (not commissioning and instance.provider_organisation_id in orgs):
        return PROVIDER
    return SCHOOL if commissioning else ASSIGNED


@dataclass
class View:
    """What one person reads of one instance."""
    audience: str
    keys: frozenset[str] | None      # process-data keys they read; None = all
    task_ids: frozenset[str] | None  # tasks whose timeline they read; None = all

    def data(self, data: dict) -> dict:
        return dict(data) if self.keys is None else {k: v for k, v in data.items() if k in self.keys}

    def events(self, events: list[dict]) -> list[dict]:
        if self.task_ids is None:
            return events
        return [{**e, "detail": {}} for e in events if e["task_id"] in self.task_ids or (e["task_id"] is None and e["kind"] in PUBLIC_EVENTS)]

    def shows_errors(self) -> bool:
        return self.audience == SCHOOL


def view(core: Core, session, user: User, instance: Instance) -> View:
    who = audience(user, instance)
    if who == SCHOOL:
        return View(who, None, None)
    keys, task_ids = set(BASICS), set()
    for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)):
        mine = user.id in (task.assignee_id, task.completed_by, task.owner_id) or (who == PROVIDER and task.role == "provider")
        form = core.form(instance.version, task.form_schema, task.form_ui_schema)
        if mine:
            task_ids.add(task.id)
            if form is not None:
                keys.update(set(form.fields) - form.restricted)
        if form is not None and who in (PROVIDER, FAMILY):
            keys.update(form.shared_with(who))
    return View(who, frozenset(keys), frozenset(task_ids))


def documents(core: Core, session, user: User, instance: Instance, seen: View | None = None) -> list[dict]:
    """The instance's documents this person may open: the school all (child-protection attachments only if
    entitled); everyone else those of their own tasks or uploaded by them."""
    seen = seen or view(core, session, user, instance)
    rows = session.scalars(select(Document).where(Document.instance_id == instance.id).order_by(Document.id))
    return [{"id": d.id, "filename": d.filename, "size": d.size, "content_type": d.content_type, "uploaded_at": d.uploaded_at,
             "task_id": d.task_id, "restricted": d.restricted} for d in rows if may_open(session, user, d, seen)]


def may_open(session, user: User, document: Document, seen: View) -> bool:
    if seen.task_ids is not None and document.uploaded_by != user.id and document.task_id not in seen.task_ids:
        return False
    return may_read_document(session, user, document)


def may_read_document(session, user: User, document: Document) -> bool:
    """Child-protection attachments only for those entitled to the child's file; other documents for anyone
    who may open the instance (checked by the caller)."""
    if not document.restricted:
        return True
    pupil_id = session.scalar(select(CpRecord.pupil_id).where(CpRecord.document_id == document.id).limit(1))
    if pupil_id is None:
        return bool(user.role_names & SAFEGUARDING_ROLES) and permissions.in_scope(user, session.get(Instance, document.instance_id))
    return permissions.can(user, "cp.view", pupil_id, session)
