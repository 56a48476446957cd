"""Safeguarding use cases (R80, R81): raise a concern, which tells the DSL at once and interrupts the running
placement through a BPMN signal; read a placement's concerns, child-protection detail only for the DSL and the
people the DSL grants, every reading logged; grant and revoke that access."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from apflow.errors import Forbidden, Invalid, NotFound, ServiceError
from apflow.placements import cp_file as cp_records
from apflow.placements.common import UK, now, today
from apflow.placements.concerns import REMOVAL_SIGNAL, SIGNAL, cp_retained_until
from apflow.placements.models import Concern, CpAccessGrant, CpRead, CpRecord, LogEntry, Placement, Pupil
from apflow.store.models import Document, Instance, User

from . import documents, instances, permissions
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
    with core.db.session() as session:
        placement = visible_placement(session, user, placement_id)  # first: say nothing to someone with no part in it
        if len(summary) < 5:
            raise Invalid("Say briefly what the concern is about (at least 5 characters); put the details in 'detail'.",
                          {"fields": {"summary": ["Write a short summary."]}})
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


def attach(core: Core, user: User, concern_id: int, filename: str, content_type: str, content: bytes) -> int:
    """A file the person raising a concern adds to it: a child-protection attachment, only for those entitled."""
    with core.db.session(readonly=True) as session:
        concern = session.get(Concern, concern_id)
        if concern is None or concern.raised_by != user.id or concern.instance_id is None:
            raise NotFound("There is no such concern of yours to add a file to.")
        instance_id, pupil_id, placement_id = concern.instance_id, concern.pupil_id, concern.placement_id
        organisation_id = session.get(Pupil, pupil_id).organisation_id
    document_id = documents.upload(core, user, instance_id, None, filename, content_type, content, restricted=True)
    with core.db.session() as session:
        session.add(CpRecord(pupil_id=pupil_id, organisation_id=organisation_id, concern_id=concern_id, placement_id=placement_id,
                             instance_id=instance_id, at=now(), actor_id=user.id, actor=user.display_name, kind="document",
                             summary=filename, content={}, document_id=document_id))
    return document_id


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
    """A placement's concerns; child-protection detail only for the DSLs and those granted, each reading logged (R81, R111)."""
    with core.db.session() as session:
        placement = visible_placement(session, user, placement_id)
        cp = permissions.can(user, "cp.view", placement.pupil_id, session)
        concerns = list(session.scalars(select(Concern).where(Concern.placement_id == placement_id).order_by(Concern.id)))
        if cp and concerns:
            cp_records.log_read(session, placement.pupil_id, user, f"Concerns on placement {placement.id}")
        return [_concern_dict(c, cp) for c in concerns]


# -- the child-protection file -----------------------------------------------------------------

def _entitled_pupil(session, user: User, pupil_ref: str) -> Pupil:
    """The pupil, if this person may read their child-protection file; else NotFound, which says nothing of what exists."""
    pupil = session.scalar(select(Pupil).where(Pupil.ref == pupil_ref))
    if pupil is None or not permissions.can(user, "cp.view", pupil.id, session):
        raise NotFound(f"There is no child-protection file for '{pupil_ref}' that you can see.")
    return pupil


def may_read_file(core: Core, user: User, pupil_ref: str) -> bool:
    with core.db.session(readonly=True) as session:
        pupil = session.scalar(select(Pupil).where(Pupil.ref == pupil_ref))
        return pupil is not None and permissions.can(user, "cp.view", pupil.id, session)


def _names(session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}


def _file(session, user: User, pupil: Pupil) -> dict:
    concerns = list(session.scalars(select(Concern).where(Concern.pupil_id == pupil.id).order_by(Concern.raised_at, Concern.id)))
    records = list(session.scalars(select(CpRecord).where(CpRecord.pupil_id == pupil.id).order_by(CpRecord.at, CpRecord.id)))
    grants = list(session.scalars(select(CpAccessGrant).where(CpAccessGrant.pupil_id == pupil.id).order_by(CpAccessGrant.granted_at)))
    reads = list(session.scalars(select(CpRead).where(CpRead.pupil_id == pupil.id).order_by(CpRead.at.desc(), CpRead.id.desc()).limit(500)))
    names = _names(session, [g.user_id for g in grants] + [g.granted_by for g in grants])
    documents = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_([r.document_id for r in records if r.document_id] or [-1])))}
    now_ = now()
    chronology = [{"at": r.at.isoformat(), "kind": r.kind, "by": r.actor, "what": r.task_name or r.summary, "concern_id": r.concern_id,
                   "summary": r.summary if r.kind != "answers" else "",
                   "fields": [{"title": f["title"], "value": f["value"]} for f in (r.content or {}).get("fields", {}).values()],
                   "detail": (r.content or {}).get("detail"),
                   "document": {"id": r.document_id, "instance_id": documents[r.document_id].instance_id,
                                "filename": documents[r.document_id].filename} if r.document_id in documents else None}
                  for r in records]
    return {
        "pupil": {"id": pupil.id, "ref": pupil.ref, "name": pupil.name, "date_of_birth": pupil.date_of_birth.isoformat() if pupil.date_of_birth else None,
                  "school": pupil.school, "retained_until": (cp_retained_until(pupil).isoformat() if cp_retained_until(pupil) else None)},
        "concerns": [{**_concern_dict(c, True), "raised_by": c.raised_by_name} for c in concerns],
        "chronology": chronology,
        "grants": [{"id": g.id, "to": names.get(g.user_id, "?"), "by": names.get(g.granted_by, "?"), "reason": g.reason,
                    "granted_at": g.granted_at.isoformat(), "expires_at": g.expires_at.isoformat() if g.expires_at else None,
                    "revoked_at": g.revoked_at.isoformat() if g.revoked_at else None,
                    "active": g.revoked_at is None and (g.expires_at is None or g.expires_at > now_)} for g in grants],
        "reads": [{"at": r.at.isoformat(), "who": r.username, "what": r.what} for r in reads],
        "may_grant": permissions.can(user, "cp.grant", pupil.id, session),
    }


def cp_file(core: Core, user: User, pupil_ref: str) -> dict:
    """A child's child-protection file (R81): concerns, the chronology of what was recorded (answers, referrals,
    decisions, documents), who has been granted access, and who read it. Opening it is itself logged (R111)."""
    with core.db.session() as session:
        pupil = _entitled_pupil(session, user, pupil_ref)
        cp_records.log_read(session, pupil.id, user, "Opened the child-protection file")
        session.flush()
        return _file(session, user, pupil)


EXPORT_FORMAT = "apflow-child-protection-file/1"


def export_file(core: Core, user: User, pupil_ref: str) -> dict:
    """The file as one structured document, for transfer to another school's DSL (docs/safeguarding.md); logged."""
    with core.db.session() as session:
        pupil = _entitled_pupil(session, user, pupil_ref)
        cp_records.log_read(session, pupil.id, user, "Exported the child-protection file")
        session.flush()
        whole = _file(session, user, pupil)
        return {"format": EXPORT_FORMAT, "exported_at": now().isoformat(), "exported_by": user.display_name, "pupil": whole["pupil"],
                "concerns": whole["concerns"], "chronology": whole["chronology"], "reads": whole["reads"]}


def open_concerns(core: Core, user: User) -> list[dict]:
    """The concerns not yet resolved, of pupils whose file this person holds (a DSL's or deputy's list), oldest first."""
    with core.db.session(readonly=True) as session:
        rows = session.execute(select(Concern, Pupil).join(Pupil, Pupil.id == Concern.pupil_id)
                               .where(Concern.status != "resolved").order_by(Concern.raised_at))
        now_ = now()
        return [{"id": c.id, "pupil": p.name, "ref": p.ref, "summary": c.summary, "status": c.status, "raised_at": c.raised_at.isoformat(),
                 "raised_by": c.raised_by_name, "waiting_minutes": int((now_ - c.raised_at).total_seconds() // 60), "instance_id": c.instance_id}
                for c, p in rows if permissions.can(user, "cp.view", p.id, session)]


MAX_GRANT_DAYS = 366


def grant_cp_access(core: Core, user: User, pupil_id: int, username: str, reason: str, expires_on: date | None = None) -> dict:
    """The DSL lets one more person read a pupil's child-protection file, for a reason, until a date (R81)."""
    expires_on = expires_on or (today() + timedelta(days=30))
    with core.db.session() as session:
        permissions.require(user, "cp.grant", pupil_id, session)
        grantee = session.scalar(select(User).where(User.username == (username or "").strip(), User.active.is_(True)))
        pupil = session.get(Pupil, pupil_id)
        if grantee is None or pupil is None:
            raise Invalid(f"There is no active member of staff '{username}'.", {"fields": {"username": ["Give a colleague's username."]}})
        if not permissions.staff_roles(grantee):
            raise Invalid("Access to a child-protection file is granted only to staff.", {"fields": {"username": ["Choose a member of staff."]}})
        if len((reason or "").strip()) < 5:
            raise Invalid("Give the reason for the access.", {"fields": {"reason": ["Say why they need to see it."]}})
        if not today() < expires_on <= today() + timedelta(days=MAX_GRANT_DAYS):
            raise Invalid(f"Access ends on a date after today and within {MAX_GRANT_DAYS} days.",
                          {"fields": {"expires_on": ["Choose an end date after today, within a year."]}})
        ends = datetime.combine(expires_on, time(23, 59), tzinfo=UK)
        grant = CpAccessGrant(pupil_id=pupil_id, user_id=grantee.id, granted_by=user.id, granted_at=now(), reason=reason.strip(), expires_at=ends)
        session.add(grant)
        session.flush()
        return {"id": grant.id, "pupil_id": pupil_id, "user": grantee.username, "granted_by": user.username, "reason": grant.reason,
                "expires_at": ends.isoformat()}


def revoke_cp_access(core: Core, user: User, grant_id: int) -> None:
    with core.db.session() as session:
        grant = session.get(CpAccessGrant, grant_id)
        if grant is None or not permissions.can(user, "cp.grant", grant.pupil_id, session):
            raise NotFound("There is no such grant that you can revoke.")
        grant.revoked_at = now()


# -- emergency removal (R92) -------------------------------------------------------------------

REMOVERS = {"dsl", "deputy_dsl", "headteacher", "coordinator"}


def start_emergency_removal(core: Core, user: User, placement_id: int, reason: str) -> dict:
    """A DSL, deputy DSL, headteacher or coordinator removes the pupil from a running (or exiting) placement now:
    its monitoring stops and the removal's steps begin (remove now, alternative arrangements, investigation, family
    support). The reason is kept in the child's child-protection file."""
    reason = (reason or "").strip()
    with core.db.session() as session:
        placement = visible_placement(session, user, placement_id)
        if not user.role_names & REMOVERS:
            raise Forbidden("Only a DSL, deputy DSL, headteacher or AP coordinator can remove a pupil from a placement.")
        if len(reason) < 5:
            raise Invalid("Say why the pupil is being removed (at least 5 characters).", {"fields": {"reason": ["Give the reason."]}})
        instance_id, pupil_id = placement.instance_id, placement.pupil_id
        pupil = session.get(Pupil, pupil_id)
    caught = instance_id is not None and instances.send_signal(core, user, instance_id, REMOVAL_SIGNAL, {})["caught"]
    if not caught:
        raise Invalid("This placement is not running (it has not started, or has already ended), so there is nothing to remove the pupil from.")
    with core.db.session() as session:
        session.add(CpRecord(pupil_id=pupil_id, organisation_id=pupil.organisation_id, placement_id=placement_id, instance_id=instance_id,
                             at=now(), actor_id=user.id, actor=user.display_name, kind="action", summary="Emergency removal started",
                             content={"fields": {"reason": {"title": "Why the pupil is removed", "value": reason}}}))
        session.add(LogEntry(placement_id=placement_id, instance_id=instance_id, at=now(), actor_id=user.id, actor=user.username,
                             kind="emergency_removal", summary=f"Emergency removal started by {user.display_name}"))
    return {"placement_id": placement_id, "instance_id": instance_id}


def placement_of_instance(core: Core, user: User, instance_id: int) -> int | None:
    """The placement a page keyed by instance shows, if this person may see it."""
    with core.db.session(readonly=True) as session:
        placement = session.scalar(select(Placement).where(Placement.instance_id == instance_id))
        if placement is None:
            concern = session.scalar(select(Concern).where(Concern.instance_id == instance_id).limit(1))
            placement = session.get(Placement, concern.placement_id) if concern and concern.placement_id else None
        return placement.id if placement is not None and permissions.can(user, "placement.view", placement, session) else None
