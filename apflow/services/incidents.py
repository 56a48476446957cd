"""Incidents of any kind on a placement, and reviews asked for outside the cycle (R73, R76, R82).

An incident (behaviour, injury, attendance, property, safeguarding, other) is logged by staff or the provider, and the
running placement reviews its risk assessment and plan at once. A safeguarding incident is also a concern: the page
sends the person on to raise it, so the DSL hears of it the same way as any other concern.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from apflow.errors import Forbidden, Invalid
from apflow.placements.common import UK, now
from apflow.placements.models import Incident, LogEntry
from apflow.store.models import User

from . import instances, permissions
from .core import Core
from .placements import request_review, visible_placement

KINDS = {"behaviour": "Behaviour", "injury": "Injury or accident", "attendance": "Attendance or going missing",
         "property": "Damage to property", "safeguarding": "Safeguarding", "other": "Other"}
SIGNAL = "incident"


def record_incident(core: Core, user: User, placement_id: int, kind: str, occurred_at: str, summary: str, action_taken: str = "") -> dict:
    """Log an incident and start the review of the risk assessment and plan it calls for."""
    summary, action_taken = (summary or "").strip(), (action_taken or "").strip()
    with core.db.session() as session:
        placement = visible_placement(session, user, placement_id)
        if not permissions.staff_roles(user):
            raise Forbidden("Incidents are logged by school and provider staff; if you are worried about your child, tell the school.")
        errors = {}
        if kind not in KINDS:
            errors["kind"] = ["Choose what kind of incident it was."]
        if len(summary) < 10:
            errors["summary"] = ["Say what happened (at least 10 characters)."]
        try:
            when = datetime.fromisoformat(occurred_at).replace(tzinfo=UK) if occurred_at else now()
        except ValueError:
            errors["occurred_at"] = ["Give the date and time, like 2026-03-02T10:30."]
        if errors:
            raise Invalid("Some details of the incident need correcting.", {"fields": errors})
        incident = Incident(pupil_id=placement.pupil_id, placement_id=placement.id, occurred_at=when, kind=kind, summary=summary,
                            action_taken=action_taken, recorded_at=now(), recorded_by=user.id, recorded_by_name=user.display_name)
        session.add(incident)
        session.flush()
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                             actor_id=user.id, actor=user.username, kind="incident", record="incidents", record_id=incident.id,
                             summary=f"Incident ({KINDS[kind].lower()}) logged by {user.display_name}: {summary}"))
        incident_id, instance_id = incident.id, placement.instance_id
    opened = bool(instance_id) and instances.send_signal(core, user, instance_id, SIGNAL, {"incident_id": incident_id})["caught"]
    if opened:
        with core.db.session() as session:
            session.get(Incident, incident_id).review_opened = True
    return {"incident_id": incident_id, "review_opened": opened}


def list_incidents(core: Core, user: User, placement_id: int) -> list[dict]:
    with core.db.session(readonly=True) as session:
        visible_placement(session, user, placement_id)
        if not permissions.staff_roles(user):
            return []
        rows = session.scalars(select(Incident).where(Incident.placement_id == placement_id).order_by(Incident.occurred_at.desc()))
        return [{"id": i.id, "kind": KINDS.get(i.kind, i.kind), "occurred_at": i.occurred_at.isoformat(), "summary": i.summary,
                 "action_taken": i.action_taken, "recorded_by": i.recorded_by_name, "review_opened": i.review_opened} for i in rows]


def ask_for_review(core: Core, user: User, placement_id: int, reason: str) -> dict:
    """A parent, the pupil or staff ask for a placement and plan review (R73); says plainly when none can open now."""
    result = request_review(core, user, placement_id, reason)
    if not result["caught"]:
        raise Invalid("A review cannot start now: the placement is not running, or a review is already under way. "
                      "Your request is recorded on the placement and the coordinator will see it.")
    return {"review_opened": True}
