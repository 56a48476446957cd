"""A child's child-protection file (R81): where every answer to a form field marked restricted is kept, instead of
the process data everyone on the placement can read. Reading the file is a use case (apflow.services.safeguarding),
which checks entitlement and writes the read log."""
from __future__ import annotations

from sqlalchemy import select

from apflow.store.models import Document

from .common import now
from .models import CpRead, CpRecord, Placement, Pupil


def pupil_of(session, data: dict) -> Pupil | None:
    """The pupil a process is about: its `pupil_id`, else its placement's pupil."""
    if data.get("pupil_id"):
        return session.get(Pupil, data["pupil_id"])
    placement = session.get(Placement, data["placement_id"]) if data.get("placement_id") else None
    return session.get(Pupil, placement.pupil_id) if placement is not None else None


def keep_answers(session, instance, actor, task, form, kept: dict, data: dict) -> CpRecord | None:
    """Write one step's restricted answers to the child's file, with the form's labels."""
    if not kept:
        return None
    pupil = pupil_of(session, data)
    properties = form.schema.get("properties", {})
    fields = {key: {"title": properties.get(key, {}).get("title", key), "value": value} for key, value in kept.items()}
    record = CpRecord(pupil_id=pupil.id if pupil else None,
                      organisation_id=(pupil.organisation_id if pupil and pupil.organisation_id else instance.organisation_id),
                      concern_id=data.get("concern_id") if isinstance(data.get("concern_id"), int) else None,
                      placement_id=data.get("placement_id") if isinstance(data.get("placement_id"), int) else None,
                      instance_id=instance.id, at=now(), actor_id=actor.id, actor=actor.name, kind="answers",
                      task_name=getattr(task, "name", None), summary=getattr(task, "name", None) or "Answers",
                      content={"fields": fields})
    session.add(record)
    session.flush()
    for key, value in kept.items():  # an uploaded file among them is a child-protection attachment
        ui = form.ui_schema.get(key) if isinstance(form.ui_schema.get(key), dict) else {}
        if ui.get("ui:widget") == "file" and isinstance(value, int):
            document = session.get(Document, value)
            if document is not None and document.instance_id == instance.id:
                document.restricted = True
                session.add(CpRecord(pupil_id=record.pupil_id, organisation_id=record.organisation_id, concern_id=record.concern_id,
                                     placement_id=record.placement_id, instance_id=instance.id, at=record.at, actor_id=actor.id,
                                     actor=actor.name, kind="document", task_name=record.task_name, summary=document.filename,
                                     content={}, document_id=document.id))
    return record


def log_read(session, pupil_id: int, user, what: str) -> None:
    """One line of the read log the DSL sees (R111): who opened which part of the child's file, and when."""
    session.add(CpRead(pupil_id=pupil_id, user_id=user.id, username=user.username, at=now(), what=what[:300]))


def log_document_read(session, user, document) -> None:
    pupil_id = session.scalar(select(CpRecord.pupil_id).where(CpRecord.document_id == document.id).limit(1))
    if pupil_id is not None:
        log_read(session, pupil_id, user, f"Document: {document.filename}")
