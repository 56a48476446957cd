"""Safeguarding use cases (R80, R81): raise a concern, which tells the DSL at once and interrupts the running
placement through a BPMN signal; read a placement's concerns, child-protection detail only for the DSL and the
people the DSL grants, every reading logged; grant and revoke that access."""
from __future__ import annotations

from sqlalchemy import select

from apflow.errors import Invalid, NotFound, ServiceError
from apflow.placements.common import now
from apflow.placements.concerns import SIGNAL
from apflow.placements.models import Concern, CpAccessGrant, CpRecord, LogEntry, Pupil
from apflow.store.models import Instance, User

from . import instances, permissions
from .core import Core
from .placements import visible_placement


def raise_concern(core: Core, user: User, placement_id: int, summary: str, detail: str = "", child_protection: bool = False) -> dict:
    """Record a safeguarding concern and put it in front of the pupil's DSLs at once, at any stage (R80).

    The concern is committed on its own first, so it is never lost even if a workflow step that follows fails.
    A running placement is interrupted by the concern (its monitoring stops while the DSL responds); at any other
    stage (planning, not started, exiting, finished) the DSL's response runs as a process of its own. Either way the
    DSL gets the response task, alerted in the app and by an e-mail that names nobody.
    `summary` is seen by the school's staff; `detail` only by the DSLs and those they grant (R81).
    """
    summary = (summary or "").strip()
    if len(summary) < 5:
        raise Invalid("Say briefly what the concern is about (at least 5 characters); put the details in 'detail'.",
                      {"fields": {"summary": ["Write a short summary."]}})
    with core.db.session() as session:
        placement = visible_placement(session, user, placement_id)
        pupil = session.get(Pupil, placement.pupil_id)
        instance = session.get(Instance, placement.instance_id) if placement.instance_id else None
        organisation_id = pupil.organisation_id or (instance.organisation_id if instance else None)
        concern = Concern(placement_id=placement.id, pupil_id=pupil.id, raised_at=now(), raised_by=user.id, raised_by_name=user.display_name,
                          summary=summary, cp_detail=detail or "", child_protection=bool(child_protection), status="open")
        session.add(concern)
        session.flush()
        session.add(CpRecord(pupil_id=pupil.id, organisation_id=organisation_id, concern_id=concern.id, placement_id=placement.id,
                             at=concern.raised_at, actor_id=user.id, actor=user.display_name, kind="concern", summary=summary,
                             content={"detail": detail or "", "child_protection": bool(child_protection)}))
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                             actor_id=user.id, actor=user.username, kind="concern_raised", summary=f"Safeguarding concern raised: {summary}",
                             record="concerns", record_id=concern.id, restricted=False))
        concern_id = concern.id
        running = instance is not None and instance.status != "completed"
        start_data = {"concern_id": concern.id, "pupil_id": pupil.id, "pupil_name": pupil.name, "pupil_ref": pupil.ref,
                      "placement_id": placement.id, "standalone": True}
    interrupted, error, concern_instance = False, None, None
    if running:
        try:
            interrupted = instances.send_signal(core, user, placement.instance_id, SIGNAL, {"concern_id": concern_id})["caught"]
        except ServiceError as err:  # the concern stands; the failed step is on the placement for a manager to retry
            error = err.message
    if interrupted:
        concern_instance = placement.instance_id
    else:  # nothing caught it: the DSL's response runs on its own, so no concern ever goes without a DSL task
        concern_instance = instances.start_for(core, user, "safeguarding_concern", start_data, organisation_id)["id"]
    with core.db.session() as session:
        session.get(Concern, concern_id).instance_id = concern_instance
    return {"concern_id": concern_id, "interrupted": interrupted, "error": error, "instance_id": concern_instance}


def _concern_dict(concern: Concern, cp: bool) -> dict:
    result = {"id": concern.id, "placement_id": concern.placement_id, "raised_at": concern.raised_at.isoformat(),
              "summary": concern.summary, "status": concern.status, "decision": concern.decision,
              "parents_informed_at": concern.parents_informed_at.isoformat() if concern.parents_informed_at else None,
              "resolved_at": concern.resolved_at.isoformat() if concern.resolved_at else None, "restricted": not cp}
    if cp:
        result.update(detail=concern.cp_detail, dsl_notes=concern.dsl_notes, child_protection=concern.child_protection,
                      referred_to=concern.referred_to)
    return result


def list_concerns(core: Core, user: User, placement_id: int) -> list[dict]:
    """A placement's concerns; child-protection detail only for the DSL and those granted, each reading logged (R81, R111)."""
    with core.db.session() as session:
        placement = visible_placement(session, user, placement_id)
        cp = permissions.can(user, "cp.view", placement.pupil_id, session)
        concerns = list(session.scalars(select(Concern).where(Concern.placement_id == placement_id).order_by(Concern.id)))
        if cp and concerns:
            session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, at=now(), actor_id=user.id,
                                 actor=user.username, kind="cp_record_read", summary=f"Child protection records read by {user.username}",
                                 restricted=True))
        return [_concern_dict(c, cp) for c in concerns]


def grant_cp_access(core: Core, user: User, pupil_id: int, username: str, reason: str) -> dict:
    """The DSL lets one more person read a pupil's child-protection records (R81)."""
    with core.db.session() as session:
        permissions.require(user, "cp.grant", pupil_id, session)
        grantee = session.scalar(select(User).where(User.username == username))
        pupil = session.get(Pupil, pupil_id)
        if grantee is None or pupil is None:
            raise NotFound("No such person or pupil.")
        if len((reason or "").strip()) < 5:
            raise Invalid("Give the reason for the access.", {"fields": {"reason": ["Say why they need to see it."]}})
        grant = CpAccessGrant(pupil_id=pupil_id, user_id=grantee.id, granted_by=user.id, granted_at=now(), reason=reason)
        session.add(grant)
        session.flush()
        return {"id": grant.id, "pupil_id": pupil_id, "user": username, "granted_by": user.username, "reason": reason}


def revoke_cp_access(core: Core, user: User, grant_id: int) -> None:
    with core.db.session() as session:
        grant = session.get(CpAccessGrant, grant_id)
        if grant is None:
            raise NotFound("No such grant.")
        permissions.require(user, "cp.grant", grant.pupil_id, session)
        grant.revoked_at = now()
