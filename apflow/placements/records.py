"""The record handlers, one row per kind a diagram may name in a task's `records` property.

A handler runs inside the step's transaction before the engine moves on (see apflow/services/records.py):
it writes the domain records of the step, may refuse it (Invalid: that is how hard gates such as "no placement
without written consent" hold), and may return values to add to the process data. Adding a kind means adding
its row here; a test checks every kind the lifecycle diagrams name is in this table.
"""
from __future__ import annotations

from typing import Callable

from . import attendance, compliance, concerns, exits, intake, planning, provider_side, providers, reviews
from .common import RecordContext
from .outcomes import record_follow_up, record_follow_up_opened, record_policy_review, record_policy_review_opened  # issue 16

# Kinds older diagram versions still name, with what to do instead: placements running on such a version are moved
# to the current one ("Move running placements" on the process's page); new diagrams naming them are refused at
# validation.
RETIRED: dict[str, str] = {
    "attendance": "Registers are no longer inbox tasks: the provider marks them on the Today page, where this day is "
                  "listed as missing until marked. A manager can move this placement to the current version of its "
                  "diagram (\"Move running placements\" on the process's page), which removes this task.",
}

HANDLERS: dict[str, Callable[[RecordContext], dict | None]] = {
    # attendance: registers are records (placements/registers.py); the school's follow-up of absences is a task
    "absence_follow_up": attendance.record_absence_follow_up,
    # concerns
    "concern_response": concerns.record_concern_response,
    "parents_informed": concerns.record_parents_informed,
    "concern_resolution": concerns.record_concern_resolution,
    # exits
    "exit_notice": exits.record_exit_notice,
    "exit_plan": exits.record_exit_plan,
    "lessons_learned": exits.record_lessons,
    "emergency_removal": exits.record_emergency_removal,
    "alternative_arrangements": exits.record_alternative,
    "investigation": exits.record_investigation,
    "family_support": exits.record_family_support,
    "destination": exits.record_destination,
    "transition_check": exits.record_transition_check,
    # what a placement leads to (issue 16: R101, R113, R114)
    "destination_follow_up_opened": record_follow_up_opened,
    "destination_follow_up": record_follow_up,
    "policy_review_opened": record_policy_review_opened,
    "policy_review": record_policy_review,
    # intake
    "referral": intake.record_referral,
    "provider_choice": intake.record_provider_choice,
    "purchase_order": intake.record_purchase_order,
    "funding_followup": intake.record_funding_followup,
    "allocation": intake.record_allocation,
    "relational_learning_plan": intake.record_rlp,
    "timetable_shared": intake.record_timetable_shared,
    "kid_sent": intake.record_kid_sent,
    "kid_signed": intake.record_kid_signed,
    # planning
    "plan": planning.record_plan,
    "risk_assessment": planning.record_risk_assessment,
    "transport": planning.record_transport,
    "consultation": planning.record_consultation,
    "consent": planning.record_consent,
    "consent_followup": planning.record_consent_followup,
    "headteacher_approval": planning.record_headteacher_approval,
    "placement_start": planning.record_placement_start,
    # providers
    "provider": providers.record_provider,
    "provider_criteria": providers.record_criteria,
    "due_diligence": providers.record_due_diligence,
    "provider_approval": providers.record_provider_approval,
    "provider_withdrawal": providers.record_withdrawal,
    "qa_visit": providers.record_qa_visit,
    "sla": providers.record_sla,
    "sla_signature": providers.record_sla_signature,
    # the provider's own side (R12, R24)
    "referral_decision": provider_side.record_referral_decision,
    "arrangement_recheck": provider_side.record_arrangement_recheck,
    # provider compliance over time (issue 16: R25)
    "compliance_renewal": compliance.record_compliance_renewal,
    # reviews
    "commencement_review": reviews.record_commencement,
    "pupil_passport": reviews.record_passport,
    "passport_review": reviews.record_passport_review,
    "baseline": reviews.record_baseline,
    "termly_assessment": reviews.record_termly_assessment,
    "risk_assessment_review": reviews.record_risk_review,
    "incident_review": reviews.record_incident_review,
    "parent_update": reviews.record_parent_update,
    "feedback": reviews.record_feedback,
    "review_invitation": reviews.record_invitation,
    "progress_report": reviews.record_progress_report,
    "placement_review": reviews.record_placement_review,
    "dsl_safety_decision": reviews.record_dsl_safety_decision,
    "intervention": reviews.record_intervention,
    "intervention_review": reviews.record_intervention_review,
    "escalation": reviews.record_escalation,
}
