"""Safeguarding concerns (R80) and child-protection records (R81): the records the DSL's steps write. The DSL's
notes live only in the concern's restricted fields; raising a concern, reading and granting access are use cases
in apflow.services.safeguarding."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from apflow.errors import Invalid

from .common import log, now, parse_date, today, touch
from .models import Communication, Concern, Placement, Pupil, Review, RiskAssessment

SIGNAL = "safeguarding_concern"
REMOVAL_SIGNAL = "emergency_removal"


def _placement(ctx) -> Placement | None:
    """The placement the concern is about; None for a concern about a pupil with no placement yet."""
    placement_id = ctx.data.get("placement_id")
    return ctx.session.get(Placement, placement_id) if isinstance(placement_id, int) else None


def _concern(ctx, placement: Placement | None) -> Concern:
    """The concern this process answers: the one it was started for, else the placement's open one."""
    concern = ctx.session.get(Concern, ctx.data["concern_id"]) if isinstance(ctx.data.get("concern_id"), int) else None
    if concern is None and placement is not None:
        concern = ctx.session.scalar(select(Concern).where(Concern.placement_id == placement.id, Concern.status != "resolved")
                                     .order_by(Concern.id).limit(1))
    if concern is None:  # the process was started without a raised concern (e.g. by a manager): keep a record anyway
        if placement is None:
            raise Invalid("This concern has no pupil or placement; raise concerns from the pupil's or placement's page.")
        concern = Concern(placement_id=placement.id, pupil_id=placement.pupil_id, raised_at=now(), raised_by=ctx.actor.id,
                          summary="Concern recorded by the DSL", status="open")
        ctx.session.add(concern)
        ctx.session.flush()
    return concern


def _note(concern: Concern, ctx, text: str) -> None:
    concern.dsl_notes = [*concern.dsl_notes, {"at": now().isoformat(), "by": ctx.actor.name, "note": text}]


def _within_placement(ctx) -> bool:
    """Whether this concern runs inside the placement's own process (raised while it ran), which then acts on the
    decision itself; a standalone concern (raised before the start or during the exit) acts through signals."""
    return not ctx.data.get("standalone")


def record_concern_response(ctx):
    placement = _placement(ctx)
    a = ctx.answers
    concern = _concern(ctx, placement)
    action = a["concern_action"]
    if placement is None and action != "continue":
        raise Invalid("There is no placement yet, so it can only continue: record what happens next in your assessment.",
                      {"fields": {"concern_action": ["Choose 'Continue': there is no placement to suspend, end or remove the pupil from."]}})
    _note(concern, ctx, a["assessment"])
    concern.child_protection = bool(a.get("child_protection"))
    concern.referred_to = [r for r in a["referred_to"] if r != "none"]
    concern.decision, concern.responded_at = action, now()
    concern.status = "suspended" if action == "suspend" else "responded"
    if placement is not None:
        if action == "suspend" and _within_placement(ctx):
            touch(placement, "suspended")
        review = Review(placement_id=placement.id, kind="immediate", held_on=today(), outcome=action, content={"concern_id": concern.id},
                        recorded_at=now(), recorded_by=ctx.actor.name)
        ctx.session.add(review)
        if a.get("risk_assessment_updated"):
            ctx.session.add(RiskAssessment(placement_id=placement.id, kind="review", reason="incident", overall_risk="",
                                           content={"concern_id": concern.id}, assessed_on=today(), recorded_at=now(),
                                           recorded_by=ctx.actor.name))
        log(ctx, f"Placement reviewed immediately after a safeguarding concern: {action.replace('_', ' ')}", placement=placement, record=review)
        if action == "emergency_removal" and not _within_placement(ctx) and placement.instance_id:
            ctx.signal_after(placement.instance_id, REMOVAL_SIGNAL, {"concern_id": concern.id})
    log(ctx, f"DSL response to concern {concern.id}: referred to {', '.join(concern.referred_to) or 'nobody'}",
        placement=placement, record=concern, restricted=True)
    outcome = {"continue": "continue", "end": "end", "emergency_removal": "emergency_removal"}.get(action, "")
    resume = _resume(ctx, placement) if outcome == "continue" and placement is not None and _within_placement(ctx) else {}
    return {"concern_id": concern.id, "concern_decision": action, "concern_outcome": outcome, **resume}


def _resume(ctx, placement: Placement) -> dict:
    """What the placement-in-progress stage needs to pick up where it was interrupted (not start again)."""
    commenced = ctx.session.scalar(select(Review.id).where(Review.placement_id == placement.id, Review.kind == "commencement")
                                   .limit(1)) is not None
    return {"commenced": commenced}


def record_parents_informed(ctx):
    """The DSL tells the parents, or records why not now (R80); what and why stay in the child-protection file."""
    placement = _placement(ctx)
    a = ctx.answers
    concern = _concern(ctx, placement)
    if a["parents_told"] == "told":
        missing = {k: ["Say when and how they were told."] for k in ("told_on", "told_how") if not a.get(k)}
        if missing:
            raise Invalid("Say when and how the parents were told.", {"fields": missing})
        concern.parents_informed_at = now()
        if placement is not None:
            row = Communication(placement_id=placement.id, kind="concern_notice", audience="parents", content={"concern_id": concern.id},
                                at=now(), recorded_by=ctx.actor.name)
            ctx.session.add(row)
        log(ctx, "Parents told about the concern", placement=placement, record=concern, restricted=True)
    else:
        if len((a.get("not_informing_reason") or "").strip()) < 5:
            raise Invalid("Say why the parents are not told now.", {"fields": {"not_informing_reason": ["Give the reason."]}})
        log(ctx, "Parents not told about the concern for now", placement=placement, record=concern, restricted=True)


def record_concern_resolution(ctx):
    placement = _placement(ctx)
    a = ctx.answers
    concern = _concern(ctx, placement)
    _note(concern, ctx, a["how_addressed"])
    concern.status, concern.resolved_at = "resolved", now()
    outcome = {"resume": "continue", "end": "end", "emergency_removal": "emergency_removal"}[a["resolution"]]
    within = placement is not None and _within_placement(ctx)
    if outcome == "continue" and within:
        touch(placement, "active")
    if outcome == "emergency_removal" and placement is not None and not within and placement.instance_id:
        ctx.signal_after(placement.instance_id, REMOVAL_SIGNAL, {"concern_id": concern.id})
    log(ctx, f"Concern resolved on {parse_date(a['resolved_on'])}; placement: {a['resolution'].replace('_', ' ')}", placement=placement)
    return {"concern_outcome": outcome, **(_resume(ctx, placement) if outcome == "continue" and within else {})}


def cp_retained_until(pupil: Pupil) -> date | None:
    """Guidance (R111): child-protection records are kept until the pupil's 25th birthday."""
    if pupil.date_of_birth is None:
        return None
    born = pupil.date_of_birth
    try:
        return born.replace(year=born.year + 25)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + 25, day=28)
