"""Safeguarding concerns (R80) and child-protection records (R81): raising a concern interrupts the running placement
through a BPMN signal; the DSL's notes live only in the concern's restricted fields, readable by the DSL and by the
people the DSL grants, and every reading is logged."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from apflow.services import instances, notifications, permissions
from apflow.services.errors import Invalid, NotFound
from apflow.services.records import handler
from apflow.store.models import Instance, User

from .common import log, now, parse_date, placement_of, today, touch
from .models import Communication, Concern, CpAccessGrant, LogEntry, Placement, Pupil, Review, RiskAssessment

SIGNAL = "safeguarding_concern"
KEPT = "(kept in the child protection record)"


def _open_concern(ctx, placement: Placement) -> Concern:
    concern = ctx.session.scalar(select(Concern).where(Concern.placement_id == placement.id, Concern.status != "resolved")
                                 .order_by(Concern.id).limit(1))
    if concern is None:  # the process was started without raise_concern (e.g. by a manager): keep a record anyway
        concern = Concern(placement_id=placement.id, pupil_id=placement.pupil_id, raised_at=now(), raised_by=ctx.actor.id,
                          summary="Concern recorded by the DSL", status="open")
        ctx.session.add(concern)
        ctx.session.flush()
    return concern


def _note(concern: Concern, ctx, text: str) -> None:
    concern.dsl_notes = [*concern.dsl_notes, {"at": now().isoformat(), "by": ctx.actor.name, "note": text}]


@handler("concern_response")
def record_concern_response(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    concern = _open_concern(ctx, placement)
    _note(concern, ctx, a["assessment"])
    action = a["concern_action"]
    concern.child_protection = bool(a.get("child_protection"))
    concern.referred_to = [r for r in a["referred_to"] if r != "none"]
    concern.decision, concern.responded_at = action, now()
    concern.status = "suspended" if action == "suspend" else "responded"
    if action == "suspend":
        touch(placement, "suspended")
    review = Review(placement_id=placement.id, kind="immediate", held_on=today(), outcome=action,
                    content={"concern_id": concern.id, "parents_to_be_told": bool(a.get("inform_parents"))},
                    recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(review)
    if a.get("risk_assessment_updated"):
        ctx.session.add(RiskAssessment(placement_id=placement.id, kind="review", reason="incident", overall_risk="",
                                       content={"concern_id": concern.id}, assessed_on=today(), recorded_at=now(),
                                       recorded_by=ctx.actor.name))
    log(ctx, f"Placement reviewed immediately after a safeguarding concern: {action.replace('_', ' ')}", placement=placement, record=review)
    log(ctx, f"DSL response to concern {concern.id}: referred to {', '.join(concern.referred_to) or 'nobody'}",
        placement=placement, record=concern, restricted=True)
    outcome = {"continue": "continue", "end": "end", "emergency_removal": "emergency_removal"}.get(action, "")
    resume = _resume(ctx, placement) if outcome == "continue" else {}
    return {"assessment": KEPT, "concern_id": concern.id, "concern_decision": action, "concern_outcome": outcome, **resume}


def _resume(ctx, placement: Placement) -> dict:
    """What the placement-in-progress stage needs to pick up where it was interrupted (not start again)."""
    from . import attendance

    commenced = ctx.session.scalar(select(Review.id).where(Review.placement_id == placement.id, Review.kind == "commencement")
                                   .limit(1)) is not None
    return {"commenced": commenced, **attendance.resume_register(ctx.app, ctx.session, placement)}


@handler("parents_informed")
def record_parents_informed(ctx):
    placement = placement_of(ctx)
    concern = _open_concern(ctx, placement)
    concern.parents_informed_at = now()
    row = Communication(placement_id=placement.id, kind="concern_notice", audience="parents",
                        content={k: ctx.answers.get(k) for k in ("told_on", "told_how", "parents_told")}, at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(row)
    log(ctx, f"Parents told about the concern ({ctx.answers['told_how']})", placement=placement, record=row)


@handler("concern_resolution")
def record_concern_resolution(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    concern = _open_concern(ctx, placement)
    _note(concern, ctx, a["how_addressed"])
    concern.status, concern.resolved_at = "resolved", now()
    outcome = {"resume": "continue", "end": "end", "emergency_removal": "emergency_removal"}[a["resolution"]]
    if outcome == "continue":
        touch(placement, "active")
    log(ctx, f"Concern resolved on {parse_date(a['resolved_on'])}; placement: {a['resolution'].replace('_', ' ')}", placement=placement)
    return {"how_addressed": KEPT, "concern_outcome": outcome, **(_resume(ctx, placement) if outcome == "continue" else {})}


# -- services --------------------------------------------------------------------------------

def raise_concern(app, user: User, placement_id: int, summary: str, detail: str = "", child_protection: bool = False) -> dict:
    """Record a safeguarding concern, tell the DSL at once, and interrupt the running placement (R80).

    The concern is committed on its own first, so it is never lost even if the workflow step that follows fails.
    `summary` is seen by everyone who sees the placement; `detail` only by the DSL and those the DSL grants (R81).
    """
    summary = (summary or "").strip()
    if len(summary) < 5:
        raise Invalid("Say briefly what the concern is about (at least 5 characters); put the details in 'detail'.",
                      {"fields": {"summary": ["Write a short summary."]}})
    with app.db.session() as session:
        placement = session.get(Placement, placement_id)
        if placement is None or not permissions.can(user, "placement.view", placement, session):
            raise NotFound(f"There is no placement {placement_id} that you can see.")
        pupil = session.get(Pupil, placement.pupil_id)
        concern = Concern(placement_id=placement.id, pupil_id=pupil.id, raised_at=now(), raised_by=user.id, summary=summary,
                          cp_detail=detail or "", child_protection=bool(child_protection), status="open")
        session.add(concern)
        session.flush()
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                             actor_id=user.id, actor=user.username, kind="concern_raised", summary=f"Safeguarding concern raised: {summary}",
                             record="concerns", record_id=concern.id, restricted=False))
        notifications.notify(session, notifications.role_members(session, "dsl"), "safeguarding_concern",
                             f"Safeguarding concern about {pupil.name} ({pupil.ref}) raised by {user.username}: {summary}",
                             instance_id=placement.instance_id, subject="Safeguarding concern: respond now")
        concern_id, instance_id = concern.id, placement.instance_id
        running = instance_id is not None and session.get(Instance, instance_id).status != "completed"
    interrupted, error = False, None
    if running:
        try:
            interrupted = instances.send_signal(app, user, instance_id, SIGNAL, {"concern_id": concern_id})["caught"]
        except Exception as err:  # noqa: BLE001 - the concern stands; the failed step is on the instance for a manager
            error = getattr(err, "message", str(err))
    return {"concern_id": concern_id, "interrupted": interrupted, "error": error}


def _concern_dict(concern: Concern, cp: bool) -> dict:
    result = {"id": concern.id, "placement_id": concern.placement_id, "raised_at": concern.raised_at.isoformat(),
              "summary": concern.summary, "status": concern.status, "decision": concern.decision,
              "parents_informed_at": concern.parents_informed_at.isoformat() if concern.parents_informed_at else None,
              "resolved_at": concern.resolved_at.isoformat() if concern.resolved_at else None, "restricted": not cp}
    if cp:
        result.update(detail=concern.cp_detail, dsl_notes=concern.dsl_notes, child_protection=concern.child_protection,
                      referred_to=concern.referred_to)
    return result


def list_concerns(app, user: User, placement_id: int) -> list[dict]:
    """A placement's concerns; child-protection detail only for the DSL and those granted, each reading logged (R81, R111)."""
    with app.db.session() as session:
        placement = session.get(Placement, placement_id)
        if placement is None or not permissions.can(user, "placement.view", placement, session):
            raise NotFound(f"There is no placement {placement_id} that you can see.")
        cp = permissions.can(user, "cp.view", placement.pupil_id, session)
        concerns = list(session.scalars(select(Concern).where(Concern.placement_id == placement_id).order_by(Concern.id)))
        if cp and concerns:
            session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, at=now(), actor_id=user.id,
                                 actor=user.username, kind="cp_record_read", summary=f"Child protection records read by {user.username}",
                                 restricted=True))
        return [_concern_dict(c, cp) for c in concerns]


def grant_cp_access(app, user: User, pupil_id: int, username: str, reason: str) -> dict:
    """The DSL lets one more person read a pupil's child-protection records (R81)."""
    with app.db.session() as session:
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


def revoke_cp_access(app, user: User, grant_id: int) -> None:
    with app.db.session() as session:
        grant = session.get(CpAccessGrant, grant_id)
        if grant is None:
            raise NotFound("No such grant.")
        permissions.require(user, "cp.grant", grant.pupil_id, session)
        grant.revoked_at = now()


def cp_retained_until(pupil: Pupil) -> date | None:
    """Guidance (R111): child-protection records are kept until the pupil's 25th birthday."""
    if pupil.date_of_birth is None:
        return None
    born = pupil.date_of_birth
    try:
        return born.replace(year=born.year + 25)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + 25, day=28)
