"""The provider's own side of the policy: its decision on each referral against its admission criteria before any
allocation (R12), its quality check of each Relational Learning Plan and Pupil Passport and its termly report on how
well the provision works (R14), and the school's re-check of each arrangement the provider says may put a child at
risk (R24). The record handlers here run inside workflow steps; apflow/services/provider_side.py holds the use cases."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from apflow.errors import Invalid
from apflow.store import outbox

from .common import log, now, placement_of, touch
from .models import AdmissionCriteria, ArrangementNotice, Concern, Placement, Plan, PlanSignoff, Provider, Pupil, ReferralDecision

# The referral reasons of the referral form (R1), in the provider policy's own words ("We accept referrals for...").
REASONS = {"attendance": "Below attendance thresholds", "medical": "Time away from education for medical reasons",
           "needs_not_met": "Needs not met by a mainstream setting", "send": "SEND", "cic": "Child in care",
           "cp": "Child protection reasons"}
# What a provider's quality check of a plan covers (R14).
PLAN_CHECKS = {"needs_reflected": "It reflects the pupil's needs in the referral and the school's plan",
               "targets_measurable": "Its targets are specific and measurable",
               "pupil_voice": "The pupil's own views are in it",
               "safeguarding_considered": "Risks and safeguarding are considered",
               "shared_with_staff": "Every adult working with the pupil has read it"}
PLAN_KINDS = {"relational_learning": "Relational Learning Plan", "pupil_passport": "Pupil Passport and Education Plan"}
TARGET_STATUS = {"met": "Met", "partly": "Partly met", "not_met": "Not met"}
ARRANGEMENTS = {"staff_change": "A change of staff", "site_change": "A change of site",
                "new_adult": "A new adult working with the pupil", "supervision_change": "A change to supervision",
                "other": "Another arrangement"}
RECHECK_OUTCOMES = {"satisfied": "Satisfied: the placement goes on as it is",
                    "needs_changes": "Needs changes: the provider must change something, and the placement is reviewed",
                    "suspend": "Suspend the placement: the DSL acts on it now"}
ACCEPTED, DECLINED = "accepted", "declined"


# -- R12: the provider's decision on a referral ----------------------------------------------------------------

def criteria_of(session, provider_id: int | None) -> AdmissionCriteria | None:
    return session.scalar(select(AdmissionCriteria).where(AdmissionCriteria.provider_id == provider_id)) if provider_id else None


def latest_decision(session, placement: Placement) -> ReferralDecision | None:
    """The current provider's latest decision on this referral."""
    if placement.provider_id is None:
        return None
    return session.scalar(select(ReferralDecision).where(ReferralDecision.placement_id == placement.id,
                                                         ReferralDecision.provider_id == placement.provider_id)
                          .order_by(ReferralDecision.id.desc()).limit(1))


def has_accepted(session, placement: Placement) -> bool:
    decision = latest_decision(session, placement)
    return decision is not None and decision.decision == ACCEPTED


def require_acceptance(session, placement: Placement) -> None:
    """The hard gate of R12: no tutor is allocated before the provider accepted the referral, whatever the diagram says."""
    if not has_accepted(session, placement):
        raise Invalid("The provider has not accepted this referral, so no tutor can be allocated yet. The provider's staff "
                      "decide on it first (their task 'Decide on the referral'). A placement started on an older version "
                      "of the placement diagram can be moved to the current one by a manager.", {"gates": ["provider's acceptance"]})


def pupil_age(pupil: Pupil, on: date) -> int | None:
    born = pupil.date_of_birth
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def criteria_matches(criteria: AdmissionCriteria | None, placement: Placement, age: int | None) -> dict:
    """How a referral sits against the provider's admission criteria: the reasons it accepts that the referral gives,
    the ones it does not take, and whether the pupil's age is in range; the staff decide, this only lays it out."""
    if criteria is None:
        return {"recorded": False, "reasons_accepted": [], "reasons_outside": [], "age_in_range": None}
    accepted = [r for r in placement.reasons if r in criteria.reasons]
    outside = [r for r in placement.reasons if r not in criteria.reasons]
    in_range = None
    if age is not None and (criteria.age_from is not None or criteria.age_to is not None):
        in_range = (criteria.age_from is None or age >= criteria.age_from) and (criteria.age_to is None or age <= criteria.age_to)
    return {"recorded": True, "reasons_accepted": accepted, "reasons_outside": outside, "age_in_range": in_range}


def record_referral_decision(ctx):
    """The provider's staff accept or decline the referral against their admission criteria, with a reason (R12). A
    decline goes back to the coordinator, who is told at once and chooses another provider."""
    placement = placement_of(ctx)
    provider = ctx.session.get(Provider, placement.provider_id) if placement.provider_id else None
    if provider is None:
        raise Invalid("No provider has been chosen for this referral yet.")
    a = ctx.answers
    accept = a["referral_decision"] == "accept"
    reason = str(a.get("decision_reason") or "").strip()
    met = [r for r in (a.get("criteria_met") or []) if r in REASONS]
    if accept and not met:
        raise Invalid("Say which of your admission criteria this referral meets before accepting it.",
                      {"fields": {"criteria_met": ["Tick at least one admission criterion the referral meets."]}})
    if len(reason) < 10:
        raise Invalid("Give the reason for your decision (at least 10 characters): the school reads it.",
                      {"fields": {"decision_reason": ["Say why you accept or decline this referral."]}})
    decision = ReferralDecision(placement_id=placement.id, provider_id=provider.id, decision=ACCEPTED if accept else DECLINED,
                                reason=reason, criteria_met=met, decided_at=now(), decided_by=ctx.actor.id,
                                decided_by_name=_name(ctx.actor))
    ctx.session.add(decision)
    ctx.session.flush()
    if not accept:
        touch(placement, "referred")
    log(ctx, f"{provider.name} {'accepted' if accept else 'declined'} the referral: {reason}", placement=placement, record=decision)
    if not accept:
        _tell_coordinators(ctx, placement, provider, reason)
    return {"provider_accepts": accept, "provider_decision_reason": reason}


def _name(actor) -> str:
    user = getattr(actor, "user", None)
    return (getattr(user, "display_name", None) or getattr(actor, "name", None) or "apflow")[:200]


def _tell_coordinators(ctx, placement: Placement, provider: Provider, reason: str) -> None:
    """The commissioning school's coordinators hear of a decline at once (in the app with the pupil and reason; by an
    e-mail that names nobody, with the link)."""
    pupil = ctx.session.get(Pupil, placement.pupil_id)
    organisation = outbox.installation_organisation(ctx.session, getattr(ctx.instance, "organisation_id", None))
    people = outbox.role_members(ctx.session, "coordinator", organisation)
    outbox.notify(ctx.session, people, "referral_declined",
                  f"{provider.name} declined the referral of {pupil.name} ({pupil.ref}): {reason} Choose another provider.",
                  instance_id=ctx.instance.id, subject="A provider declined a referral",
                  email="A provider declined a referral. Choose another provider:", link=f"/placements/{ctx.instance.id}")


# -- R14: quality checks of plans ----------------------------------------------------------------------------

def plan_author(plan: Plan) -> str:
    return plan.recorded_by


def signoff_of(session, plan_id: int) -> PlanSignoff | None:
    return session.scalar(select(PlanSignoff).where(PlanSignoff.plan_id == plan_id))


def latest_plans(session, placement_id: int) -> list[Plan]:
    """The latest version of each provider plan (RLP, Pupil Passport) of a placement."""
    newest = (select(Plan.kind, func.max(Plan.version).label("version")).where(Plan.placement_id == placement_id,
                                                                                Plan.kind.in_(PLAN_KINDS)).group_by(Plan.kind).subquery())
    return list(session.scalars(select(Plan).join(newest, (Plan.kind == newest.c.kind) & (Plan.version == newest.c.version))
                                .where(Plan.placement_id == placement_id).order_by(Plan.kind)))


# -- R24: the school's re-check of a changed arrangement -------------------------------------------------------

def record_arrangement_recheck(ctx):
    """The school's coordinator re-checks an arrangement the provider told them of (R24): the new adult's safeguarding
    checks and the risk assessment, and decides. 'Needs changes' opens a review of the placement; 'suspend' puts it
    before the DSL at once as a safeguarding concern, which stops the running placement until the DSL decides."""
    notice = ctx.session.get(ArrangementNotice, ctx.data.get("notice_id"))
    if notice is None:
        raise Invalid("This re-check has no notice from the provider.")
    placement = ctx.session.get(Placement, notice.placement_id)
    a = ctx.answers
    outcome = a["recheck_outcome"]
    notes = str(a.get("recheck_notes") or "").strip()
    if outcome != "satisfied" and len(notes) < 10:
        raise Invalid("Say what must change, or why the placement is suspended (at least 10 characters).",
                      {"fields": {"recheck_notes": ["Say what must change, or why."]}})
    if outcome == "satisfied" and notice.kind in ("staff_change", "new_adult") and a.get("safeguarding_checks_seen") is not True:
        raise Invalid("Before you are satisfied with a new adult, see written confirmation of their safeguarding checks "
                      "(KCSIE): tick that you have, or choose 'needs changes'.",
                      {"fields": {"safeguarding_checks_seen": ["Confirm you have seen their safeguarding checks."]}})
    notice.outcome, notice.outcome_notes = outcome, notes
    notice.outcome_at, notice.outcome_by_name = now(), _name(ctx.actor)
    words = {"satisfied": "satisfied", "needs_changes": "needs changes", "suspend": "suspend the placement"}[outcome]
    log(ctx, f"Re-check of '{ARRANGEMENTS[notice.kind].lower()}' ({notice.summary[:200]}): {words}"
             + (f": {notes}" if notes else ""), placement=placement, record=notice, kind="arrangement_recheck")
    running = placement.instance_id is not None and placement.status == "active"
    if outcome == "needs_changes" and running:
        ctx.signal_after(placement.instance_id, "review_requested", {"reason": f"the provider changed an arrangement: {notice.summary[:200]}"})
    if outcome == "suspend":
        if not running:
            raise Invalid("This placement is not running (or the DSL is already acting on a concern), so there is nothing to "
                          "suspend: choose 'needs changes' and say what must change.",
                          {"fields": {"recheck_outcome": ["The placement is not running."]}})
        concern = Concern(placement_id=placement.id, pupil_id=placement.pupil_id, raised_at=now(), raised_by=ctx.actor.id,
                          raised_by_name=_name(ctx.actor), status="open", child_protection=False,
                          summary=f"The school's re-check of a change at the provider found the placement should be suspended: {notes}"[:2000],
                          instance_id=placement.instance_id)
        ctx.session.add(concern)
        ctx.session.flush()
        log(ctx, f"Safeguarding concern raised: {concern.summary}", placement=placement, record=concern, kind="concern_raised")
        ctx.signal_after(placement.instance_id, "safeguarding_concern", {"concern_id": concern.id})
    return {"recheck_outcome": outcome}
