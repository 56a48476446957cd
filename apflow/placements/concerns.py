"""Safeguarding concerns (R80) and child-protection records (R81): the records the DSL's steps write. The DSL's
notes live only in the concern's restricted fields; raising a concern, reading and granting access are use cases
in apflow.services.safeguarding."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from . import attendance
from .common import log, now, parse_date, placement_of, today, touch
from .models import Communication, Concern, Placement, Pupil, Review, RiskAssessment

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
    commenced = ctx.session.scalar(select(Review.id).where(Review.placement_id == placement.id, Review.kind == "commencement")
                                   .limit(1)) is not None
    return {"commenced": commenced, **attendance.resume_register(ctx.core, ctx.session, placement)}


def record_parents_informed(ctx):
    placement = placement_of(ctx)
    concern = _open_concern(ctx, placement)
    concern.parents_informed_at = now()
    row = Communication(placement_id=placement.id, kind="concern_notice", audience="parents",
                        content={k: ctx.answers.get(k) for k in ("told_on", "told_how", "parents_told")}, at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(row)
    log(ctx, f"Parents told about the concern ({ctx.answers['told_how']})", placement=placement, record=row)


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


def cp_retained_until(pupil: Pupil) -> date | None:
    """Guidance (R111): child-protection records are kept until the pupil's 25th birthday."""
    if pupil.date_of_birth is None:
        return None
    born = pupil.date_of_birth
    try:
        return born.replace(year=born.year + 25)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + 25, day=28)
