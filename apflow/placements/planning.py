"""Planning and approval before a placement starts: the personalised plan (R50-R53, R41), risk assessments (R60),
transport and equipment (R61), consultation and written consent (R40), headteacher approval (R52), and the start
itself, which checks every hard gate again."""
from __future__ import annotations

from sqlalchemy import select

from apflow.errors import Invalid

from . import gates
from .common import log, now, parse_date, placement_of, touch, yes
from .intake import new_plan
from .models import Consent, Pupil, RiskAssessment

PLAN_FIELDS = ["improvement_objectives", "attainment_objectives", "objectives_timeframe", "reintegration_timeframe",
               "assessment_arrangements", "baseline_summary", "ehc_plan_links", "needs_assessed", "plan_pupil_views",
               "parents_consulted", "provider_liaison", "ehc_plan_review", "objectives_measurable", "curriculum", "vocational_focus"]
CORE_CURRICULUM = {"english": "English", "maths": "maths", "science_it": "science (including IT)", "careers": "careers guidance",
                   "rse_health": "RSE and health education"}
PLACEMENT_RISKS = ["needs", "activities", "environment", "travel", "safeguarding", "health_and_safety"]
INDIVIDUAL_RISKS = ["behaviour", "medical", "communication", "physical", "emotional_wellbeing", "emergency_procedures"]
CONSULTATION = ["proposal_discussed", "rationale_explained", "outcomes_explained", "provider_information_shared", "questions_addressed"]


def record_plan(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    steps = {"needs_assessed": "needs and aspirations assessed", "parents_consulted": "parents consulted",
             "provider_liaison": "agreed with the provider", "objectives_measurable": "measurable objectives agreed"}
    missing = [words for key, words in steps.items() if not yes(a, key)]
    if a.get("ehc_plan_review") != "reviewed" and ctx.session.get(Pupil, placement.pupil_id).ehcp:
        missing.append("the EHC plan reviewed")
    if missing:
        raise Invalid("The plan is developed step by step; still to do: " + ", ".join(missing) + ".")
    uncovered = [words for key, words in CORE_CURRICULUM.items() if key not in a["curriculum"]]
    if uncovered:
        raise Invalid("The plan must cover English, maths, science (including IT), careers guidance and RSE and health "
                      "education; missing: " + ", ".join(uncovered) + ".", {"fields": {"curriculum": ["Cover the core curriculum."]}})
    plan = new_plan(ctx, placement, "personalised", PLAN_FIELDS)
    log(ctx, f"Personalised plan version {plan.version} recorded", placement=placement, record=plan)
    return {"plan_version": plan.version}


def record_risk_assessment(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    day = parse_date(a["ra_assessed_on"])
    rows = [RiskAssessment(placement_id=placement.id, kind="placement", reason="initial", overall_risk=a["ra_overall_risk"],
                           content={k: a[k] for k in PLACEMENT_RISKS}, assessed_on=day, recorded_at=now(), recorded_by=ctx.actor.name)]
    if a.get("individual_needed"):
        blank = [k.replace("_", " ") for k in INDIVIDUAL_RISKS if not str(a.get(f"individual_{k}", "")).strip()]
        if blank:
            raise Invalid("An individual risk assessment covers behaviour, medical, communication, physical needs, emotional "
                          "wellbeing and emergency procedures; still blank: " + ", ".join(blank) + ".")
        rows.append(RiskAssessment(placement_id=placement.id, kind="individual", reason="initial", overall_risk=a["ra_overall_risk"],
                                   content={k: a[f"individual_{k}"] for k in INDIVIDUAL_RISKS}, assessed_on=day,
                                   recorded_at=now(), recorded_by=ctx.actor.name))
    ctx.session.add_all(rows)
    log(ctx, f"Placement risk assessment ({a['ra_overall_risk']} risk)" + (" and individual risk assessment" if len(rows) > 1 else ""),
        placement=placement, record=rows[0])


def record_transport(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    placement.transport = {"mode": a["transport"], "details": a["transport_details"]}
    placement.equipment = {"items": a["equipment"], "details": a.get("equipment_details", "")}
    touch(placement)
    log(ctx, f"Transport: {a['transport'].replace('_', ' ')}; equipment: {', '.join(a['equipment'])}", placement=placement)


def record_consultation(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    missing = [k.replace("_", " ") for k in CONSULTATION if not yes(a, k)]
    if missing:
        raise Invalid("Before asking for consent, the proposal is discussed, the rationale and expected outcomes explained, "
                      "information about the provider shared and questions addressed; still to do: " + ", ".join(missing) + ".")
    consent = Consent(placement_id=placement.id, consultation={k: a.get(k) for k in CONSULTATION + ["consulted_on", "pupil_involved",
                      "questions_raised"]}, given=None, recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(consent)
    log(ctx, "Parents consulted" + ("; the pupil took part in planning" if a.get("pupil_involved") else ""), placement=placement, record=consent)


def record_consent(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    consent = ctx.session.scalar(select(Consent).where(Consent.placement_id == placement.id).order_by(Consent.id.desc()).limit(1))
    if consent is None or consent.given is not None:
        raise Invalid("The parents must be consulted before they are asked for consent.")
    consent.given = a["consent"] == "given"
    consent.signed_name, consent.signed_on = a["signed_name"], parse_date(a["consent_signed_on"])
    log(ctx, f"Written consent {'given' if consent.given else 'refused'} by {consent.signed_name}", placement=placement, record=consent)
    return {"consent_given": consent.given}


def record_consent_followup(ctx):
    placement = placement_of(ctx)
    withdraw = ctx.answers["consent_next"] != "consult_again"
    if withdraw:
        touch(placement, "not_placed")
    log(ctx, ("Proposal withdrawn: " if withdraw else "Family to be consulted again: ") + ctx.answers["consent_notes"], placement=placement)


def record_headteacher_approval(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    approve = a["head_decision"] == "approve"
    if approve:
        missing = []
        if not gates.has_plan(ctx.session, placement, "personalised"):
            missing.append("the personalised plan (R50)")
        if not gates.has_placement_risk_assessment(ctx.session, placement):
            missing.append("the placement risk assessment (R60)")
        if not gates.has_written_consent(ctx.session, placement):
            missing.append("written consent (R40)")
        if missing:
            raise Invalid("The placement cannot be approved without " + ", ".join(missing) + ".", {"gates": missing})
        placement.approved_by, placement.approved_at = ctx.actor.id, now()
    touch(placement, "approved" if approve else "not_placed")
    log(ctx, f"Headteacher {'approved' if approve else 'declined'} the placement: {a['head_notes']}", placement=placement)
    return {"head_approved": approve}


def record_placement_start(ctx):
    placement = placement_of(ctx)
    gates.require_start_allowed(ctx.session, placement)
    a = ctx.answers
    if a.get("part_time") and not str(a.get("complements_curriculum", "")).strip():
        raise Invalid("Say how a part-time placement complements the pupil's current curriculum.",
                      {"fields": {"complements_curriculum": ["Required for a part-time placement."]}})
    placement.start_date = parse_date(a["start_date"], "start_date")
    placement.attendance_code = a["attendance_code"]
    touch(placement, "active")
    log(ctx, f"Placement started on {placement.start_date} (attendance code {placement.attendance_code})", placement=placement)
    return {"commenced": False}
