"""A child's child-protection file (R81): where every answer to a form field marked restricted is kept, instead of
the process data everyone on the placement can read. Reading the file is a use case (apflow.services.safeguarding),
which checks entitlement and writes the read log."""
from __future__ import annotations

from .common import now
from .models import CpRecord, Placement, Pupil


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
    return record
