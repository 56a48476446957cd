"""Reviews and assessments while the placement runs: commencement targets (R9), Pupil Passport (R10), baseline (R70),
half-termly and requested reviews with their invitations and progress reports (R73-R75, R77, R78), termly assessment
and risk-assessment review (R75, R76), parent updates and feedback (R77), early intervention (R90), escalations."""
from __future__ import annotations

from apflow.errors import Invalid
from apflow.store import outbox

from . import family_notices
from .common import iso, log, now, parse_date, placement_of, provider_of, pupil_organisation, today
from .intake import new_plan
from .models import Assessment, Communication, Placement, Pupil, Review, RiskAssessment


def _review(ctx, placement, kind: str, held_on, outcome: str, fields: list[str]) -> Review:
    review = Review(placement_id=placement.id, kind=kind, held_on=parse_date(held_on), outcome=outcome,
                    content={k: ctx.answers.get(k) for k in fields}, recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(review)
    ctx.session.flush()
    return review


def _assessment(ctx, placement, kind: str, on, fields: list[str]) -> Assessment:
    row = Assessment(placement_id=placement.id, kind=kind, assessed_on=parse_date(on), content={k: ctx.answers.get(k) for k in fields},
                     recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(row)
    ctx.session.flush()
    return row


def _tell(ctx, placement, kind: str, audience: str, fields: list[str]) -> Communication:
    row = Communication(placement_id=placement.id, kind=kind, audience=audience, content={k: ctx.answers.get(k) for k in fields},
                        at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(row)
    ctx.session.flush()
    return row


def record_commencement(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    review = _review(ctx, placement, "commencement", a["commencement_on"], "targets set", ["commencement_attendees", "targets", "next_review_on"])
    log(ctx, f"Commencement review on {review.held_on}: {len(a['targets'])} target(s) set", placement=placement, record=review)
    return {"commenced": True}


def record_passport(ctx):
    placement = placement_of(ctx)
    plan = new_plan(ctx, placement, "pupil_passport", ["about_me", "how_to_help_me", "education_goals"])
    log(ctx, f"Pupil Passport and Education Plan version {plan.version}", placement=placement, record=plan)


def record_passport_review(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    review = _review(ctx, placement, "passport", a["passport_reviewed_on"], "reviewed", ["passport_progress", "passport_changes"])
    log(ctx, f"Pupil Passport reviewed on {review.held_on}", placement=placement, record=review)


def record_baseline(ctx):
    placement = placement_of(ctx)
    if not ctx.answers.get("settled_and_safe"):
        raise Invalid("The baseline is assessed once the pupil feels settled and safe; come back to it then.",
                      {"fields": {"settled_and_safe": ["Wait until the pupil is settled."]}})
    row = _assessment(ctx, placement, "baseline", ctx.answers["baseline_on"],
                      ["english", "maths", "science", "previous_attendance_percent", "previous_engagement", "baseline_wellbeing"])
    log(ctx, f"Baseline assessment on {row.assessed_on}", placement=placement, record=row)


def record_termly_assessment(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    row = _assessment(ctx, placement, "termly", a["termly_on"], ["termly_progress", "attainment", "attendance_and_behaviour",
                                                                 "on_track", "ehcp_application_supported", "provision_change_needed"])
    extra = "; EHCP application to be supported" if a.get("ehcp_application_supported") else ""
    extra += "; provision to be altered" if a.get("provision_change_needed") else ""
    log(ctx, f"Termly assessment against the plan: on track {a['on_track']}{extra}", placement=placement, record=row)


def record_risk_review(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    reason = "termly" if ctx.data.get("review_reason") != "requested" else "change"
    row = RiskAssessment(placement_id=placement.id, kind="review", reason=reason, overall_risk=a["review_overall_risk"],
                         content={k: a.get(k) for k in ("still_suitable", "ra_changes")}, assessed_on=parse_date(a["ra_reviewed_on"]),
                         recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(row)
    log(ctx, f"Risk assessments reviewed ({reason}): {a['ra_changes']}", placement=placement, record=row)


def record_incident_review(ctx):
    """After an incident (R76, R82): the risk assessment and the plan reviewed, and the incidents marked as reviewed."""
    placement = placement_of(ctx)
    a = ctx.answers
    if not a["plan_still_right"] and len((a.get("plan_changes") or "").strip()) < 5:
        raise Invalid("Say how the plan changes.", {"fields": {"plan_changes": ["Describe the change to the plan."]}})
    row = RiskAssessment(placement_id=placement.id, kind="review", reason="incident", overall_risk=a.get("incident_overall_risk") or "",
                         content={k: a.get(k) for k in ("risk_assessment_still_suitable", "risk_changes")},
                         assessed_on=parse_date(a["reviewed_on"], "reviewed_on"), recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(row)
    review = _review(ctx, placement, "incident", a["reviewed_on"], "plan unchanged" if a["plan_still_right"] else "plan changed",
                     ["plan_still_right", "plan_changes"])
    log(ctx, "Risk assessment and plan reviewed after an incident" + ("" if a["plan_still_right"] else f": {a['plan_changes']}"),
        placement=placement, record=review)


def record_parent_update(ctx):
    placement = placement_of(ctx)
    row = _tell(ctx, placement, "progress_update", "parents", ["update_sent_on", "update_summary", "assessment_shared", "visit_offered"])
    told = family_notices.progress_update(ctx.session, placement, ctx.answers["update_summary"])  # R77: it reaches them (issue 15)
    log(ctx, f"Termly progress update sent to the parents ({told} with an account told in apflow)", placement=placement, record=row)


def record_feedback(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    from_pupil = "feel_safe" in a
    row = _tell(ctx, placement, "pupil_feedback" if from_pupil else "parent_feedback", "pupil" if from_pupil else "parents", list(a))
    log(ctx, f"Feedback from the {'pupil' if from_pupil else 'parents'}", placement=placement, record=row)
    if from_pupil and a["feel_safe"] == "no":
        pupil = ctx.session.get(Pupil, placement.pupil_id)
        outbox.notify(ctx.session, outbox.role_members(ctx.session, "dsl", pupil_organisation(ctx, pupil)), "pupil_feels_unsafe",
                      f"{pupil.name} ({pupil.ref}) says they do not feel safe at their placement.", instance_id=ctx.instance.id,
                      subject="A pupil says they do not feel safe",
                      email="A pupil says they do not feel safe at their placement. Open apflow to see who and act:",
                      link=f"/placements/{ctx.instance.id}")


def record_invitation(ctx):
    placement = placement_of(ctx)
    row = _tell(ctx, placement, "review_invitation", ", ".join(ctx.answers["invited"]), ["meeting_on", "invited", "invitation_notes"])
    if "parents" in ctx.answers["invited"]:  # R77: the invitation reaches them (issue 15)
        family_notices.review_invitation(ctx.session, placement, parse_date(ctx.answers["meeting_on"], "meeting_on"))
    log(ctx, f"Invited {', '.join(ctx.answers['invited'])} to the review on {ctx.answers['meeting_on']}", placement=placement, record=row)


def record_progress_report(ctx):
    placement = placement_of(ctx)
    row = _assessment(ctx, placement, "progress", today(),
                      ["progress_against_objectives", "attendance_summary", "engagement_summary", "concerns"])
    log(ctx, "Provider's progress report for the review", placement=placement, record=row)


def record_placement_review(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    kind = ctx.data.get("review_reason") or "half-termly"
    review = _review(ctx, placement, kind, a["held_on"], a["review_decision"],
                     ["attending_regularly", "safe", "meeting_needs", "plan_still_right", "progress_seen", "review_pupil_views",
                      "review_parent_views", "review_ehcp_support", "review_notes"])
    log(ctx, f"{kind.capitalize()} review on {review.held_on}: {a['review_decision'].replace('_', ' ')}", placement=placement, record=review)
    return {"review_outcome": a["review_decision"]}


def record_dsl_safety_decision(ctx):
    """A review found the pupil not safe yet proposed going on: only the DSL decides whether it does (R80, R81)."""
    placement = placement_of(ctx)
    decision = ctx.answers["dsl_decision"]
    review = _review(ctx, placement, "dsl_safety_decision", today().isoformat(), decision, ["dsl_decision"])
    log(ctx, f"The DSL decided after a review that found the pupil not safe: {decision.replace('_', ' ')}", placement=placement, record=review)
    return {"review_decision": decision, "review_outcome": decision}


def record_intervention(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    review = _review(ctx, placement, "early_intervention", a["intervention_on"], "support agreed",
                     ["intervention_attendees", "issues", "support", "expectations", "check_in_weeks"])
    due = ctx.core.calendar().weeks(int(a["check_in_weeks"]), now())
    log(ctx, f"Early intervention meeting: progress to be checked by {due.date()}", placement=placement, record=review)
    return {"intervention_check_due": iso(due)}


def record_intervention_review(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    outcome = "continue" if a["improved"] else "end"
    review = _review(ctx, placement, "intervention_check", a["intervention_checked_on"], outcome, ["improved", "intervention_notes"])
    log(ctx, f"Progress after early intervention: {'enough, placement continues' if a['improved'] else 'not enough, placement to end'}",
        placement=placement, record=review)
    return {"review_outcome": outcome}


def record_escalation(ctx):
    placement = ctx.session.get(Placement, ctx.data["placement_id"]) if ctx.data.get("placement_id") else None
    provider = None if placement else provider_of(ctx)
    log(ctx, f"Escalation '{getattr(ctx.task, 'name', '')}': {ctx.answers['action_taken']}", placement=placement, provider=provider)

