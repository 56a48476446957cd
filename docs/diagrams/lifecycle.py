"""The AP placement lifecycle as BPMN: writes bpmn/*.bpmn with full diagram layout (run from the repo root:
`python docs/diagrams/lifecycle.py`). Each process names its forms (forms/) and the domain records its steps
write (`records`, see apflow/placements/). The .bpmn files are what is deployed and what managers edit."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bpmnlayout import Diagram  # noqa: E402

COORD, HEAD, DSL, SENCO, PROVIDER, LA, PARENT, PUPIL, MANAGER = (
    "AP Coordinator", "Headteacher", "DSL", "SENCo", "Provider staff", "LA officer", "Parent", "Pupil", "Manager")
SCHOOL = "Commissioning school"


def service_level_agreement() -> Diagram:
    d = Diagram("service_level_agreement", "Service level agreement", SCHOOL, [COORD, PROVIDER],
                "R30: a written agreement with the provider covering the eight required areas, signed by the provider.")
    d.start("Start_sla", "Agreement needed", COORD, 0)
    d.gateway("Gateway_draft_merge", "", COORD, 1)
    d.user("Task_draft_sla", "Draft the service level agreement", COORD, 2, form="sla_draft", records="sla",
           due="school_days(10)", doc="Write what the provider agrees to in each of the eight areas, and the notice period for ending a placement.")
    d.user("Task_sign_sla", "Agree and sign the agreement", PROVIDER, 3, form="sla_signature", records="sla_signature",
           due="school_days(10)", doc="Read the agreement. Sign it, or say what must change.")
    d.gateway("Gateway_signed", "Signed?", PROVIDER, 4)
    d.end("End_sla_in_force", "Agreement in force", PROVIDER, 5)
    d.flow("Start_sla", "Gateway_draft_merge")
    d.flow("Gateway_draft_merge", "Task_draft_sla")
    d.flow("Task_draft_sla", "Task_sign_sla")
    d.flow("Task_sign_sla", "Gateway_signed")
    d.flow("Gateway_signed", "End_sla_in_force", "Yes", "sla_in_force == True")
    d.flow("Gateway_signed", "Gateway_draft_merge", "Changes requested", default=True, route="above")
    return d


def provider_approval() -> Diagram:
    d = Diagram("provider_approval", "Provider approval and quality assurance", SCHOOL, [COORD, HEAD, MANAGER],
                "R20-R23: selection criteria, due diligence, headteacher approval, the SLA, then a quality assurance "
                "visit every term while the provider stays on the approved-provider register.")
    d.start("Start_provider", "Provider proposed", COORD, 0)
    d.user("Task_record_provider", "Record the provider and all its sites", COORD, 1, form="provider_details", records="provider",
           due="school_days(5)", doc="Name, address and contact, and the address of every satellite or subcontracted site pupils may attend.")
    d.user("Task_check_criteria", "Check the selection criteria", COORD, 2, form="provider_criteria", records="provider_criteria",
           due="school_days(10)")
    d.gateway("Gateway_criteria", "All criteria met?", COORD, 3)
    d.end("End_criteria_not_met", "Not approved", COORD, 3, row=1)
    d.gateway("Gateway_diligence_merge", "", COORD, 4)
    d.user("Task_due_diligence", "Carry out due diligence", COORD, 5, form="due_diligence", records="due_diligence",
           due="school_days(20)", doc="Site visit, policies, written confirmations, curriculum and other schools' experience.")
    d.gateway("Gateway_diligence", "Due diligence complete?", COORD, 6)
    d.user("Task_approve_provider", "Approve the provider", HEAD, 7, form="provider_decision", records="provider_approval",
           due="school_days(5)")
    d.gateway("Gateway_approved", "Approved?", HEAD, 8)
    d.end("End_declined", "Declined", HEAD, 8, row=1)
    d.call("Call_sla", "Agree the service level agreement", COORD, 9, called="service_level_agreement")
    d.gateway("Gateway_qa_merge", "", COORD, 10)
    d.user("Task_qa_visit", "Termly quality assurance visit", COORD, 11, form="qa_visit", records="qa_visit", due="end_of_term()",
           doc="Visit the provider this term: teaching, safeguarding, attendance reporting, pupils' progress.")
    d.boundary_timer("Timer_qa_late", "End of term", "Task_qa_visit", "end_of_term()")
    d.user("Task_qa_overdue", "QA visit missed this term", MANAGER, 12, form="escalation", records="escalation")
    d.end("End_qa_overdue", "Escalated", MANAGER, 13)
    d.gateway("Gateway_keep", "Keep on the register?", COORD, 12)
    d.timer("Timer_next_term", "Until the term ends", COORD, 13, expression="end_of_term()")
    d.user("Task_withdraw_provider", "Withdraw the provider from the register", HEAD, 13, form="provider_withdrawal",
           records="provider_withdrawal", due="school_days(5)")
    d.end("End_withdrawn", "Withdrawn", HEAD, 14)
    d.flow("Start_provider", "Task_record_provider")
    d.flow("Task_record_provider", "Task_check_criteria")
    d.flow("Task_check_criteria", "Gateway_criteria")
    d.flow("Gateway_criteria", "Gateway_diligence_merge", "Yes", "criteria_met == True")
    d.flow("Gateway_criteria", "End_criteria_not_met", "No", default=True)
    d.flow("Gateway_diligence_merge", "Task_due_diligence")
    d.flow("Task_due_diligence", "Gateway_diligence")
    d.flow("Gateway_diligence", "Task_approve_provider", "Yes", "due_diligence_complete == True")
    d.flow("Gateway_diligence", "Gateway_diligence_merge", "Items missing", default=True, route="above")
    d.flow("Task_approve_provider", "Gateway_approved")
    d.flow("Gateway_approved", "Call_sla", "Yes", "provider_approved == True", route="hv")
    d.flow("Gateway_approved", "End_declined", "No", default=True)
    d.flow("Call_sla", "Gateway_qa_merge")
    d.flow("Gateway_qa_merge", "Task_qa_visit")
    d.flow("Task_qa_visit", "Gateway_keep")
    d.flow("Timer_qa_late", "Task_qa_overdue")
    d.flow("Task_qa_overdue", "End_qa_overdue")
    d.flow("Gateway_keep", "Task_withdraw_provider", "Withdraw", 'qa_outcome == "withdraw"')
    d.flow("Gateway_keep", "Timer_next_term", "Keep", default=True)
    d.flow("Timer_next_term", "Gateway_qa_merge", route="above")
    d.flow("Task_withdraw_provider", "End_withdrawn")
    return d


def placement() -> Diagram:
    d = Diagram("placement", "AP placement", SCHOOL, [HEAD, COORD, PROVIDER],
                "One pupil's placement from referral to destination. Hard gates are checked again when each step is "
                "recorded (see docs/authoring.md), so a placement cannot start even if a gateway is edited away.")
    d.start("Start_referral", "Referral received", COORD, 0)
    d.user("Task_record_referral", "Record the referral", COORD, 1, form="referral", records="referral", due="school_days(2)",
           doc="Who referred the pupil and why, the LA officer, and the family's and pupil's apflow accounts if they have them.")
    d.gateway("Gateway_choose_merge", "", COORD, 2)
    d.user("Task_choose_provider", "Choose the provider", COORD, 3, form="provider_choice", records="provider_choice",
           due="school_days(5)", doc="Only providers on the approved register with a signed service level agreement can take placements. "
           "The provider then decides on the referral; if it declines, you are told why and choose again.")
    d.gateway("Gateway_provider_ready", "Approved, with an SLA?", COORD, 4)
    d.user("Task_provider_not_ready", "Provider not ready: decide what to do", COORD, 4, row=1, form="provider_not_ready",
           doc="The provider is not on the approved register or has no signed agreement. Start its approval, or choose another provider.")
    # R12: the provider decides against its admission criteria before anything is planned or allocated
    d.user("Task_referral_decision", "Decide on the referral", PROVIDER, 5, form="referral_decision", records="referral_decision",
           due="school_days(3)", doc="Read the referral's reasons and needs on the referral page (Provider work > Referrals) beside "
           "your admission criteria, then accept it or decline it with a reason. Nothing is allocated before you accept.")
    d.gateway("Gateway_provider_accepts", "Accepted?", PROVIDER, 6)
    d.call("Call_planning", "Plan the placement with the family", COORD, 7, called="placement_planning")
    d.gateway("Gateway_consent", "Written consent?", COORD, 8, label="right")
    d.end("End_no_consent", "No consent", COORD, 8, row=1)
    d.user("Task_approve_placement", "Approve the placement", HEAD, 9, form="placement_decision", records="headteacher_approval",
           due="school_days(3)", doc="Read the plan, risk assessment and consent, and approve or decline the placement.")
    d.gateway("Gateway_head_approved", "Approved?", HEAD, 10)
    d.end("End_head_declined", "Not approved", HEAD, 10, row=1)
    d.call("Call_intake", "Commission the provider", COORD, 11, called="provider_intake")
    d.gateway("Gateway_commissioned", "Purchase order?", COORD, 12)
    d.end("End_not_commissioned", "Not commissioned", COORD, 12, row=1)
    d.user("Task_confirm_start", "Confirm the placement start", COORD, 13, form="placement_start", records="placement_start",
           doc="apflow checks every condition for starting: purchase order, Relational Learning Plan, due diligence, SLA, risk assessment, written consent and approval.")
    d.gateway("Gateway_run_merge", "", COORD, 14)
    d.call("Call_in_progress", "Placement in progress", COORD, 15, called="placement_in_progress",
           doc="Attendance, reviews and assessments until the placement is to end. A safeguarding concern interrupts it at any point.")
    d.boundary_signal("Signal_concern", "Safeguarding concern", "Call_in_progress", "safeguarding_concern")
    d.call("Call_concern", "Respond to the concern", COORD, 15, row=1, called="safeguarding_concern")
    d.gateway("Gateway_concern_outcome", "Placement after the concern?", COORD, 16, row=1, label="below")
    d.call("Call_emergency", "Emergency removal", COORD, 18, row=2, called="emergency_removal")
    d.gateway("Gateway_exit_merge", "", COORD, 17)
    d.call("Call_exit", "Planned exit", COORD, 18, called="planned_exit")
    d.gateway("Gateway_return_merge", "", COORD, 19)
    d.call("Call_return", "Return to a setting", COORD, 20, called="return_to_setting")
    d.end("End_closed", "Placement closed", COORD, 21)
    # R92: removal decided from the placement page while it runs, is exiting or is suspended for a concern
    d.boundary_signal("Signal_remove_running", "Removal decided", "Call_in_progress", "emergency_removal", slot=1).doc = (
        "R92: a DSL, headteacher or coordinator removes the pupil now, from the placement page or the API.")
    d.boundary_signal("Signal_remove_exiting", "Removal decided", "Call_exit", "emergency_removal").doc = (
        "R92: removal during the notice period stops the planned exit.")
    d.boundary_signal("Signal_remove_suspended", "Removal decided", "Call_concern", "emergency_removal").doc = (
        "R92: removal while the placement is suspended for a concern.")
    d.gateway("Gateway_removal_merge", "", COORD, 17, row=2)
    d.flow("Start_referral", "Task_record_referral")
    d.flow("Task_record_referral", "Gateway_choose_merge")
    d.flow("Gateway_choose_merge", "Task_choose_provider")
    d.flow("Task_choose_provider", "Gateway_provider_ready")
    d.flow("Gateway_provider_ready", "Task_referral_decision", "Yes", "provider_ready == True", route="hv")
    d.flow("Gateway_provider_ready", "Task_provider_not_ready", "No", default=True)
    d.flow("Task_provider_not_ready", "Gateway_choose_merge", route="hv")
    d.flow("Task_referral_decision", "Gateway_provider_accepts")
    d.flow("Gateway_provider_accepts", "Call_planning", "Accepted", "provider_accepts == True")
    d.flow("Gateway_provider_accepts", "Gateway_choose_merge", "Declined: choose another", default=True)
    d.flow("Call_planning", "Gateway_consent")
    d.flow("Gateway_consent", "Task_approve_placement", "Yes", "consent_given == True")
    d.flow("Gateway_consent", "End_no_consent", "No", default=True)
    d.flow("Task_approve_placement", "Gateway_head_approved")
    d.flow("Gateway_head_approved", "Call_intake", "Yes", "head_approved == True", route="hv")
    d.flow("Gateway_head_approved", "End_head_declined", "No", default=True)
    d.flow("Call_intake", "Gateway_commissioned")
    d.flow("Gateway_commissioned", "Task_confirm_start", "Yes", "needs_purchase_order == False or po_issued == True")
    d.flow("Gateway_commissioned", "End_not_commissioned", "No", default=True)
    d.flow("Task_confirm_start", "Gateway_run_merge")
    d.flow("Gateway_run_merge", "Call_in_progress")
    d.flow("Call_in_progress", "Gateway_exit_merge")
    d.flow("Signal_concern", "Call_concern")
    d.flow("Call_concern", "Gateway_concern_outcome")
    d.flow("Gateway_concern_outcome", "Gateway_run_merge", "Continue", 'concern_outcome == "continue"', route="above")
    d.flow("Gateway_concern_outcome", "Gateway_removal_merge", "Remove now", 'concern_outcome == "emergency_removal"', route="vh")
    d.flow("Gateway_concern_outcome", "Gateway_exit_merge", "End", default=True, route="hv")
    d.flow("Gateway_exit_merge", "Call_exit")
    d.flow("Call_exit", "Gateway_return_merge")
    d.flow("Call_emergency", "Gateway_return_merge")
    d.flow("Gateway_return_merge", "Call_return")
    d.flow("Call_return", "End_closed")
    # below the running stage and the concern, then up into the merge
    d.flow("Signal_remove_running", "Gateway_removal_merge", points=[("s", 468), ("s", 745), ("t", 745), ("t", 715)])
    d.flow("Signal_remove_exiting", "Gateway_removal_merge", points=[("s", 468), ("s", 520), ("t", 520), ("t", 665)])
    d.flow("Signal_remove_suspended", "Gateway_removal_merge")
    d.flow("Gateway_removal_merge", "Call_emergency")
    return d


def placement_planning() -> Diagram:
    d = Diagram("placement_planning", "Plan the placement with the family", SCHOOL, [COORD, PARENT],
                "R40, R41, R50-R53, R60, R61: the personalised plan, risk assessments, transport and equipment, "
                "then the consultation with parents or carers and their written consent.")
    d.start("Start_planning", "Provider chosen", COORD, 0, row=1)
    d.gateway("Gateway_plan_fork", "", COORD, 1, row=1, parallel=True)
    d.user("Task_plan", "Draw up the personalised plan", COORD, 2, form="plan", records="plan", due="school_days(10)",
           doc="Built from the needs assessment, the pupil's views, the parents' views, the provider and any EHC plan.")
    d.user("Task_risk_assessment", "Assess the placement risks", COORD, 2, row=1, form="risk_assessment", records="risk_assessment",
           due="school_days(10)")
    d.user("Task_transport", "Arrange transport and equipment", COORD, 2, row=2, form="transport", records="transport",
           due="school_days(10)")
    d.gateway("Gateway_plan_join", "", COORD, 3, row=1, parallel=True)
    d.gateway("Gateway_consult_merge", "", COORD, 4, row=1)
    d.user("Task_consult_parents", "Consult the parents or carers", COORD, 5, row=1, form="consultation", records="consultation",
           due="school_days(5)")
    d.user("Task_consent", "Give written consent", PARENT, 6, form="consent", records="consent", due="school_days(5)",
           assign="parent_username", doc="Please read the proposal you discussed with the school and say whether you consent to it.")
    d.gateway("Gateway_consent_given", "Consent given?", COORD, 7, row=1, label="below")
    d.end("End_planned", "Planned", COORD, 8, row=1)
    d.user("Task_consent_followup", "Agree next steps with the family", COORD, 7, form="consent_followup", records="consent_followup")
    d.gateway("Gateway_consult_again", "Consult again?", COORD, 8)
    d.end("End_withdrawn", "Withdrawn", COORD, 9)
    d.flow("Start_planning", "Gateway_plan_fork")
    d.flow("Gateway_plan_fork", "Task_plan")
    d.flow("Gateway_plan_fork", "Task_risk_assessment")
    d.flow("Gateway_plan_fork", "Task_transport")
    d.flow("Task_plan", "Gateway_plan_join")
    d.flow("Task_risk_assessment", "Gateway_plan_join")
    d.flow("Task_transport", "Gateway_plan_join")
    d.flow("Gateway_plan_join", "Gateway_consult_merge")
    d.flow("Gateway_consult_merge", "Task_consult_parents")
    d.flow("Task_consult_parents", "Task_consent")
    d.flow("Task_consent", "Gateway_consent_given")
    d.flow("Gateway_consent_given", "End_planned", "Yes", "consent_given == True")
    d.flow("Gateway_consent_given", "Task_consent_followup", "No", default=True)
    d.flow("Task_consent_followup", "Gateway_consult_again")
    d.flow("Gateway_consult_again", "Gateway_consult_merge", "Yes", 'consent_next == "consult_again"', route="above")
    d.flow("Gateway_consult_again", "End_withdrawn", "No", default=True)
    return d


def provider_intake() -> Diagram:
    d = Diagram("provider_intake", "Commission the provider", SCHOOL, [LA, PROVIDER, COORD],
                "R2-R8, R54: the purchase order before any tutor is engaged (not for a college link course or work "
                "experience the school arranges), tutors and timetable, the Relational Learning Plan where the provider's "
                "policy asks for one, the timetable shared and portal access, and the Key Information Document signed.")
    d.start("Start_intake", "Placement approved", COORD, 0)
    d.gateway("Gateway_po_needed", "LA purchase order needed?", COORD, 1)
    d.gateway("Gateway_po_merge", "", COORD, 2)
    d.user("Task_purchase_order", "Issue the purchase order", LA, 3, form="purchase_order", records="purchase_order",
           due="school_days(5)", assign="la_officer_username")
    d.gateway("Gateway_po", "Purchase order issued?", LA, 4)
    d.user("Task_funding_followup", "Resolve funding with the commissioner", COORD, 4, form="funding_followup", records="funding_followup")
    d.gateway("Gateway_ask_again", "Ask again?", COORD, 5)
    d.end("End_not_commissioned", "Not commissioned", COORD, 6)
    d.gateway("Gateway_allocate_merge", "", PROVIDER, 5)
    d.user("Task_allocate", "Allocate tutors and timetable the sessions", PROVIDER, 6, form="allocation", records="allocation",
           due="school_days(5)", doc="Where each session takes place is agreed with the carers.")
    d.gateway("Gateway_rlp_needed", "Provider requires an RLP?", PROVIDER, 7)
    d.user("Task_rlp", "Write the Relational Learning Plan", PROVIDER, 8, form="relational_learning_plan",
           records="relational_learning_plan", due="school_days(5)")
    d.gateway("Gateway_rlp_merge", "", PROVIDER, 9)
    d.user("Task_share_timetable", "Share the timetable and portal access", PROVIDER, 10, form="timetable_shared",
           records="timetable_shared", due="school_days(2)")
    d.user("Task_send_kid", "Send the Key Information Document", PROVIDER, 11, form="kid_sent", records="kid_sent", due="school_days(2)")
    d.user("Task_sign_kid", "Sign and return the Key Information Document", LA, 12, form="kid_signed", records="kid_signed",
           due="school_days(5)", assign="la_officer_username")
    d.boundary_timer("Timer_kid_late", "Five school days", "Task_sign_kid", "school_days(5)")
    d.user("Task_chase_kid", "Chase the signed Key Information Document", COORD, 13, form="escalation", records="escalation")
    d.end("End_kid_chased", "Chased", COORD, 14)
    d.end("End_commissioned", "Commissioned", LA, 13)
    d.flow("Start_intake", "Gateway_po_needed")
    d.flow("Gateway_po_needed", "Gateway_po_merge", "Yes", default=True)
    d.flow("Gateway_po_needed", "Gateway_allocate_merge", "No: the school arranges it", "needs_purchase_order == False", route="vh")
    d.flow("Gateway_po_merge", "Task_purchase_order")
    d.flow("Task_purchase_order", "Gateway_po")
    d.flow("Gateway_po", "Gateway_allocate_merge", "Yes", "po_issued == True", route="hv")
    d.flow("Gateway_po", "Task_funding_followup", "No", default=True)
    d.flow("Task_funding_followup", "Gateway_ask_again")
    d.flow("Gateway_ask_again", "Gateway_po_merge", "Yes", 'funding_next == "ask_again"', route="below")
    d.flow("Gateway_ask_again", "End_not_commissioned", "No", default=True)
    d.flow("Gateway_allocate_merge", "Task_allocate")
    d.flow("Task_allocate", "Gateway_rlp_needed")
    d.flow("Gateway_rlp_needed", "Task_rlp", "Yes", default=True)
    d.flow("Gateway_rlp_needed", "Gateway_rlp_merge", "No", "rlp_required == False", route="above")
    d.flow("Task_rlp", "Gateway_rlp_merge")
    d.flow("Gateway_rlp_merge", "Task_share_timetable")
    d.flow("Task_share_timetable", "Task_send_kid")
    d.flow("Task_send_kid", "Task_sign_kid")
    d.flow("Task_sign_kid", "End_commissioned")
    d.flow("Timer_kid_late", "Task_chase_kid")
    d.flow("Task_chase_kid", "End_kid_chased")
    return d


def placement_in_progress() -> Diagram:
    d = Diagram("placement_in_progress", "Placement in progress", SCHOOL, [PROVIDER, COORD, SENCO, PARENT, PUPIL],
                "R9, R10, R70-R77, R79, R90: from the first day, in parallel: commencement and baseline, the follow-up of "
                "every absence the provider's registers report, incident reviews, "
                "half-termly reviews, termly assessment and risk-assessment review with parent updates and feedback, "
                "6-weekly Pupil Passport reviews, and reviews on request. A review that ends the placement ends this stage.")
    d.start("Start_running", "Placement started", COORD, 0)
    d.gateway("Gateway_fork", "", COORD, 1, parallel=True)
    # commencement (once: skipped when the placement resumes after a concern)
    d.gateway("Gateway_commenced", "Just started?", PROVIDER, 2)
    d.end("End_under_way", "Already under way", PROVIDER, 2, row=1)
    d.user("Task_commencement", "Commencement review: agree targets", PROVIDER, 3, form="commencement_review",
           records="commencement_review", due="school_days(5)")
    d.gateway("Gateway_mentor", "Learning mentor?", PROVIDER, 4)
    d.user("Task_passport", "Complete the Pupil Passport and Education Plan", PROVIDER, 5, row=1, form="pupil_passport",
           records="pupil_passport", due="school_days(10)")
    d.gateway("Gateway_mentor_merge", "", PROVIDER, 6)
    d.user("Task_baseline", "Baseline assessment once settled", PROVIDER, 7, form="baseline", records="baseline", due="school_days(15)",
           doc="When the pupil feels settled and safe: academic levels, previous attendance and engagement, wellbeing.")
    d.end("End_commenced", "Under way", PROVIDER, 8)
    # 6-weekly Pupil Passport review (learning mentor only)
    d.gateway("Gateway_mentor_reviews", "Learning mentor?", PROVIDER, 2, row=2)
    d.gateway("Gateway_passport_merge", "", PROVIDER, 3, row=2)
    d.timer("Timer_six_weeks", "Six weeks", PROVIDER, 4, row=2, expression="weeks(6)")
    d.user("Task_passport_review", "Review the Pupil Passport and Education Plan", PROVIDER, 5, row=2, form="passport_review",
           records="passport_review", due="school_days(5)")
    d.end("End_no_mentor", "No mentor", PROVIDER, 6, row=2)
    # absences: the provider keeps registers as records (apflow/placements/registers.py, not tasks); every absence it
    # reports sends `absence_reported`, and the school follows it up within the hour (R71, R79)
    d.gateway("Gateway_absence_merge", "", COORD, 2)
    d.signal_catch("Signal_absence", "Absence reported", COORD, 3, signal="absence_reported")
    follow_up = d.user("Task_absence_follow_up", "Follow up the absence", COORD, 4, form="absence_follow_up",
                       records="absence_follow_up", due="same_school_day(hours=1)",
                       doc="R71, R79: the provider reported the pupil absent. Contact the family (and the provider), make sure "
                           "the pupil is safe, and code the absence. The placement's register lists every absence not yet "
                           "followed up; this covers them all.")
    follow_up.props["escalateTo"] = "DSL, Headteacher"
    # incidents (R76, R82): each one logged opens a review of the risk assessment and the plan
    d.gateway("Gateway_incident_merge", "", COORD, 2, row=4)
    d.signal_catch("Signal_incident", "Incident logged", COORD, 3, row=4, signal="incident")
    d.user("Task_incident_review", "Review the risk assessment and plan after the incident", COORD, 4, row=4, form="incident_review",
           records="incident_review", due="school_days(2)",
           doc="R76, R82: an incident was logged on this placement. Read it on the placement page, then review the risk "
               "assessment and the plan.")
    # half-termly placement and plan review
    d.gateway("Gateway_half_term_merge", "", COORD, 2, row=1)
    d.script("Task_half_termly_due", "Half-termly review due", COORD, 3, row=1,
             script='review_reason = "half-termly"\nreview_due = end_of_half_term()')
    d.call("Call_half_termly_review", "Half-termly placement review", COORD, 4, row=1, called="placement_review")
    d.gateway("Gateway_half_term_outcome", "Placement to end?", COORD, 5, row=1)
    d.timer("Timer_half_term", "Until the half-term ends", COORD, 6, row=1, expression="end_of_half_term()")
    d.end("End_after_review", "To end", COORD, 7, row=1, terminate=True)
    # reviews on request (parent, pupil, changed needs, incident)
    d.gateway("Gateway_request_merge", "", COORD, 2, row=2)
    d.signal_catch("Signal_review_requested", "Review requested", COORD, 3, row=2, signal="review_requested")
    d.script("Task_requested_due", "Requested review due", COORD, 4, row=2,
             script='review_reason = "requested"\nreview_due = school_days(5)')
    d.call("Call_requested_review", "Placement review on request", COORD, 5, row=2, called="placement_review")
    d.gateway("Gateway_request_outcome", "Placement to end?", COORD, 6, row=2, label="below")
    d.end("End_after_request", "To end", COORD, 7, row=2, terminate=True)
    # termly assessment, risk assessment review, parent update and feedback
    d.gateway("Gateway_term_merge", "", COORD, 2, row=3)
    d.user("Task_termly_assessment", "Termly assessment against the plan", SENCO, 3, form="termly_assessment",
           records="termly_assessment", due="end_of_term()")
    d.user("Task_risk_review", "Review the risk assessments", COORD, 4, row=3, form="risk_assessment_review",
           records="risk_assessment_review", due="end_of_term()")
    d.user("Task_parent_update", "Send the termly progress update", COORD, 5, row=3, form="parent_update",
           records="parent_update", due="end_of_term()")
    d.gateway("Gateway_feedback_fork", "", COORD, 6, row=3, parallel=True)
    d.timer("Timer_term", "Until the term ends", COORD, 7, row=3, expression="end_of_term()")
    d.user("Task_parent_feedback", "Your feedback on the placement", PARENT, 7, form="parent_feedback", records="feedback",
           due="school_days(10)", assign="parent_username")
    d.end("End_parent_feedback", "Thank you", PARENT, 8)
    d.user("Task_pupil_views", "Your views on your placement", PUPIL, 7, form="pupil_feedback", records="feedback",
           due="school_days(10)", assign="pupil_username")
    d.end("End_pupil_views", "Thank you", PUPIL, 8)

    d.flow("Start_running", "Gateway_fork")
    for first in ["Gateway_commenced", "Gateway_mentor_reviews", "Gateway_absence_merge", "Gateway_half_term_merge",
                  "Gateway_request_merge", "Gateway_term_merge", "Gateway_incident_merge"]:
        d.flow("Gateway_fork", first)
    d.flow("Gateway_commenced", "Task_commencement", "Yes", "commenced == False")
    d.flow("Gateway_commenced", "End_under_way", "No", default=True)
    d.flow("Task_commencement", "Gateway_mentor")
    d.flow("Gateway_mentor", "Task_passport", "Yes", "learning_mentor == True")
    d.flow("Gateway_mentor", "Gateway_mentor_merge", "No", default=True)
    d.flow("Task_passport", "Gateway_mentor_merge")
    d.flow("Gateway_mentor_merge", "Task_baseline")
    d.flow("Task_baseline", "End_commenced")
    d.flow("Gateway_mentor_reviews", "Gateway_passport_merge", "Yes", "learning_mentor == True")
    d.flow("Gateway_mentor_reviews", "End_no_mentor", "No", default=True, route="below")
    d.flow("Gateway_passport_merge", "Timer_six_weeks")
    d.flow("Timer_six_weeks", "Task_passport_review")
    d.flow("Task_passport_review", "Gateway_passport_merge", route="above")
    d.flow("Gateway_absence_merge", "Signal_absence")
    d.flow("Signal_absence", "Task_absence_follow_up")
    d.flow("Task_absence_follow_up", "Gateway_absence_merge", route="above")
    d.flow("Gateway_incident_merge", "Signal_incident")
    d.flow("Signal_incident", "Task_incident_review")
    d.flow("Task_incident_review", "Gateway_incident_merge", route="below")
    d.flow("Gateway_half_term_merge", "Task_half_termly_due")
    d.flow("Task_half_termly_due", "Call_half_termly_review")
    d.flow("Call_half_termly_review", "Gateway_half_term_outcome")
    d.flow("Gateway_half_term_outcome", "End_after_review", "Yes", 'review_outcome in ("end", "return")', route="below")
    d.flow("Gateway_half_term_outcome", "Timer_half_term", "No", default=True)
    d.flow("Timer_half_term", "Gateway_half_term_merge", route="above")
    d.flow("Gateway_request_merge", "Signal_review_requested")
    d.flow("Signal_review_requested", "Task_requested_due")
    d.flow("Task_requested_due", "Call_requested_review")
    d.flow("Call_requested_review", "Gateway_request_outcome")
    d.flow("Gateway_request_outcome", "End_after_request", "Yes", 'review_outcome in ("end", "return")')
    d.flow("Gateway_request_outcome", "Gateway_request_merge", "No", default=True, route="above")
    d.flow("Gateway_term_merge", "Task_termly_assessment")
    d.flow("Task_termly_assessment", "Task_risk_review")
    d.flow("Task_risk_review", "Task_parent_update")
    d.flow("Task_parent_update", "Gateway_feedback_fork")
    d.flow("Gateway_feedback_fork", "Timer_term")
    d.flow("Gateway_feedback_fork", "Task_parent_feedback")
    d.flow("Gateway_feedback_fork", "Task_pupil_views")
    d.flow("Timer_term", "Gateway_term_merge", route="above")
    d.flow("Task_parent_feedback", "End_parent_feedback")
    d.flow("Task_pupil_views", "End_pupil_views")
    return d


def placement_review() -> Diagram:
    d = Diagram("placement_review", "Placement and plan review", SCHOOL, [COORD, PROVIDER, MANAGER],
                "R73-R75, R77, R78, R90: invitations, the provider's progress report, the review itself (attending, "
                "safe, meeting needs; the plan), and a plan update or early intervention when the review says so.")
    d.start("Start_review", "Review due", COORD, 0)
    d.user("Task_invite", "Invite everyone to the review", COORD, 1, form="review_invitation", records="review_invitation",
           due="school_days(3)")
    d.user("Task_progress_report", "Progress report for the review", PROVIDER, 2, form="progress_report", records="progress_report",
           due="school_days(5)")
    d.user("Task_hold_review", "Hold the placement review", COORD, 3, form="placement_review", records="placement_review",
           due="review_due", doc="Is the pupil attending, safe, and are their needs met? Is the plan still right? Record the pupil's and parents' views.")
    d.boundary_timer("Timer_review_late", "Review due", "Task_hold_review", "review_due", kind="timeDate")
    d.user("Task_review_overdue", "Review not held in time", MANAGER, 4, form="escalation", records="escalation")
    d.end("End_review_overdue", "Escalated", MANAGER, 5)
    d.gateway("Gateway_review_outcome", "What next?", COORD, 4)
    d.user("Task_update_plan", "Update the personalised plan", COORD, 5, row=1, form="plan", records="plan", due="school_days(5)")
    d.user("Task_intervention", "Early intervention meeting", COORD, 5, row=2, form="intervention", records="intervention",
           due="school_days(5)", doc="Meet the pupil, provider and parents: the issues, extra support, expectations and timescales.")
    d.user("Task_intervention_check", "Check progress after the intervention", COORD, 6, row=2, form="intervention_check",
           records="intervention_review", due="intervention_check_due")
    d.gateway("Gateway_review_merge", "", COORD, 7)
    d.end("End_reviewed", "Reviewed", COORD, 8)
    d.flow("Start_review", "Task_invite")
    d.flow("Task_invite", "Task_progress_report")
    d.flow("Task_progress_report", "Task_hold_review")
    d.flow("Task_hold_review", "Gateway_review_outcome")
    d.flow("Timer_review_late", "Task_review_overdue")
    d.flow("Task_review_overdue", "End_review_overdue")
    d.flow("Gateway_review_outcome", "Task_update_plan", "Change the plan", 'review_outcome == "change_plan"')
    d.flow("Gateway_review_outcome", "Task_intervention", "Early intervention", 'review_outcome == "early_intervention"', route="hv")
    d.flow("Gateway_review_outcome", "Gateway_review_merge", "Other", default=True)
    d.flow("Task_update_plan", "Gateway_review_merge")
    d.flow("Task_intervention", "Task_intervention_check")
    d.flow("Task_intervention_check", "Gateway_review_merge")
    d.flow("Gateway_review_merge", "End_reviewed")
    return d


def safeguarding_concern() -> Diagram:
    d = Diagram("safeguarding_concern", "Safeguarding concern", SCHOOL, [DSL, COORD, MANAGER],
                "R80: the DSL responds at once and reviews the placement immediately; parents are told as appropriate; "
                "the placement continues, is suspended until the concern is resolved, ends, or the pupil is removed now.")
    d.start("Start_concern", "Concern raised", DSL, 0)
    d.user("Task_respond", "Respond to the concern and review the placement", DSL, 1, form="concern_response",
           records="concern_response", due="same_school_day(hours=1)",
           doc="Read the concern on the placement page. Your notes go to the child protection record, which only the DSL and people you grant can read.")
    d.boundary_timer("Timer_not_picked_up", "Within the hour", "Task_respond", "same_school_day(hours=1)")
    d.user("Task_concern_escalation", "Concern not picked up within the hour", MANAGER, 2, form="escalation", records="escalation")
    d.end("End_concern_escalated", "Escalated", MANAGER, 3)
    d.gateway("Gateway_inform_parents", "Tell the parents?", DSL, 2)
    d.user("Task_inform_parents", "Tell the parents about the concern", COORD, 3, form="concern_parents", records="parents_informed",
           due="same_school_day(hours=2)")
    d.gateway("Gateway_inform_merge", "", DSL, 4)
    d.gateway("Gateway_suspended", "Suspended?", DSL, 5)
    d.user("Task_resolve", "Resolve the concern", DSL, 6, row=1, form="concern_resolution", records="concern_resolution",
           due="school_days(10)")
    d.gateway("Gateway_outcome_merge", "", DSL, 7)
    d.end("End_concern_done", "Placement decided", DSL, 8)
    d.flow("Start_concern", "Task_respond")
    d.flow("Task_respond", "Gateway_inform_parents")
    d.flow("Timer_not_picked_up", "Task_concern_escalation")
    d.flow("Task_concern_escalation", "End_concern_escalated")
    d.flow("Gateway_inform_parents", "Task_inform_parents", "Yes", "inform_parents == True")
    d.flow("Gateway_inform_parents", "Gateway_inform_merge", "No", default=True)
    d.flow("Task_inform_parents", "Gateway_inform_merge")
    d.flow("Gateway_inform_merge", "Gateway_suspended")
    d.flow("Gateway_suspended", "Task_resolve", "Yes", 'concern_decision == "suspend"')
    d.flow("Gateway_suspended", "Gateway_outcome_merge", "No", default=True)
    d.flow("Task_resolve", "Gateway_outcome_merge")
    d.flow("Gateway_outcome_merge", "End_concern_done")
    return d


def planned_exit() -> Diagram:
    d = Diagram("planned_exit", "Planned exit", SCHOOL, [COORD],
                "R91: notice to all parties for the SLA's notice period, the next provision and continuity of learning, "
                "then lessons learned when the notice runs out.")
    d.start("Start_exit", "Placement to end", COORD, 0)
    d.user("Task_give_notice", "Give notice to all parties", COORD, 1, form="exit_notice", records="exit_notice", due="school_days(2)")
    d.user("Task_exit_plan", "Plan the next provision and continuity of learning", COORD, 2, form="exit_plan", records="exit_plan",
           due="school_days(5)")
    d.timer("Timer_notice", "Notice period ends", COORD, 3, expression="notice_ends_at", kind="timeDate")
    d.user("Task_lessons", "Record lessons learned", COORD, 4, form="lessons_learned", records="lessons_learned", due="school_days(10)")
    d.end("End_exit", "Placement ended", COORD, 5)
    d.flow("Start_exit", "Task_give_notice")
    d.flow("Task_give_notice", "Task_exit_plan")
    d.flow("Task_exit_plan", "Timer_notice")
    d.flow("Timer_notice", "Task_lessons")
    d.flow("Task_lessons", "End_exit")
    return d


def emergency_removal() -> Diagram:
    d = Diagram("emergency_removal", "Emergency removal", SCHOOL, [COORD, DSL, SENCO, MANAGER],
                "R92: the pupil is removed at once; then, together, immediate alternative arrangements, an investigation "
                "reported to the authorities, and support for the pupil and family.")
    d.start("Start_emergency", "Removal decided", COORD, 0)
    d.user("Task_remove", "Remove the pupil from the placement now", COORD, 1, form="emergency_removal", records="emergency_removal",
           due="same_school_day(hours=1)")
    d.boundary_timer("Timer_not_removed", "Within the hour", "Task_remove", "same_school_day(hours=1)")
    d.user("Task_removal_escalation", "Removal not confirmed within the hour", MANAGER, 2, form="escalation", records="escalation")
    d.end("End_removal_escalated", "Escalated", MANAGER, 3)
    d.gateway("Gateway_emergency_fork", "", COORD, 2, parallel=True)
    d.user("Task_alternative", "Arrange immediate alternative provision", COORD, 3, form="alternative_arrangements",
           records="alternative_arrangements", due="school_days(1)")
    d.user("Task_investigate", "Investigate and report to the authorities", DSL, 3, form="investigation", records="investigation",
           due="school_days(5)")
    d.user("Task_family_support", "Support the pupil and family", SENCO, 3, form="family_support", records="family_support",
           due="school_days(2)")
    d.gateway("Gateway_emergency_join", "", COORD, 4, parallel=True)
    d.end("End_removed", "Removed", COORD, 5)
    d.flow("Start_emergency", "Task_remove")
    d.flow("Task_remove", "Gateway_emergency_fork")
    d.flow("Timer_not_removed", "Task_removal_escalation")
    d.flow("Task_removal_escalation", "End_removal_escalated")
    d.flow("Gateway_emergency_fork", "Task_alternative")
    d.flow("Gateway_emergency_fork", "Task_investigate")
    d.flow("Gateway_emergency_fork", "Task_family_support")
    d.flow("Task_alternative", "Gateway_emergency_join")
    d.flow("Task_investigate", "Gateway_emergency_join")
    d.flow("Task_family_support", "Gateway_emergency_join")
    d.flow("Gateway_emergency_join", "End_removed")
    return d


def return_to_setting() -> Diagram:
    d = Diagram("return_to_setting", "Return to a setting", SCHOOL, [COORD, PROVIDER],
                "R100, R101: the destination is recorded; where the pupil moves to a setting, transition support goes on "
                "until they attend without extra support.")
    d.start("Start_return", "Placement ended", COORD, 0)
    d.user("Task_destination", "Agree the destination and transition plan", COORD, 1, form="destination", records="destination",
           due="school_days(5)")
    d.gateway("Gateway_support", "Transition support?", COORD, 2)
    d.gateway("Gateway_check_merge", "", PROVIDER, 3)
    d.timer("Timer_week", "A week of transition", PROVIDER, 4, expression="weeks(1)")
    d.user("Task_transition_check", "Transition check", PROVIDER, 5, form="transition_check", records="transition_check",
           due="school_days(2)", doc="Sessions in the new setting or a learning mentor settle the pupil. Does the pupil now attend without extra support?")
    d.gateway("Gateway_unaided", "Attends unaided?", PROVIDER, 6, label="below")
    d.gateway("Gateway_return_done", "", COORD, 7)
    d.end("End_returned", "Destination recorded", COORD, 8)
    d.flow("Start_return", "Task_destination")
    d.flow("Task_destination", "Gateway_support")
    d.flow("Gateway_support", "Gateway_check_merge", "Yes", "transition_support == True")
    d.flow("Gateway_support", "Gateway_return_done", "No", default=True)
    d.flow("Gateway_check_merge", "Timer_week")
    d.flow("Timer_week", "Task_transition_check")
    d.flow("Task_transition_check", "Gateway_unaided")
    d.flow("Gateway_unaided", "Gateway_return_done", "Yes", "attends_without_support == True", route="hv")
    d.flow("Gateway_unaided", "Gateway_check_merge", "Not yet", default=True, route="below")
    d.flow("Gateway_return_done", "End_returned")
    return d


def arrangement_change() -> Diagram:
    d = Diagram("arrangement_change", "Re-check a changed arrangement", SCHOOL, [COORD],
                "R24: the provider told the commissioning school of an arrangement that may put the child at risk (a staff "
                "change, a change of site, a new adult, a change to supervision); the school's coordinator re-checks it. "
                "Started by apflow.services.provider_side.tell_the_school, one per pupil, in the pupil's school only.")
    d.start("Start_notice", "The provider told us of a change", COORD, 0)
    recheck = d.user("Task_recheck", "Re-check the arrangements", COORD, 1, form="arrangement_recheck", records="arrangement_recheck",
                     due="school_days(1)", doc="Read the provider's notice on the placement page: what changed, from when, the new "
                     "adult and whether the provider confirmed their safeguarding checks. Check their safeguarding checks and the "
                     "risk assessment, then record the outcome.")
    recheck.props["alert"] = "A provider changed an arrangement that may put a pupil at risk: re-check it"
    recheck.props["escalateTo"] = "Headteacher"
    d.end("End_rechecked", "Re-checked", COORD, 2)
    d.flow("Start_notice", "Task_recheck")
    d.flow("Task_recheck", "End_rechecked")
    return d


ALL = [service_level_agreement, provider_approval, placement, placement_planning, provider_intake, placement_in_progress,
       placement_review, safeguarding_concern, planned_exit, emergency_removal, return_to_setting, arrangement_change]


FORMS = Path(__file__).resolve().parents[2] / "forms"


def link_ui_schemas(diagram: Diagram) -> None:
    """Name a form's UI schema on its tasks wherever forms/ has one."""
    for node in diagram.nodes.values():
        schema = node.props.get("formJsonSchemaFilename")
        if schema and "formUiSchemaFilename" not in node.props:
            ui = schema.replace(".schema.json", ".uischema.json")
            if (FORMS / ui).exists():
                props = dict(node.props)
                props["formUiSchemaFilename"] = ui
                order = ["formJsonSchemaFilename", "formUiSchemaFilename"]
                node.props = {k: props[k] for k in order + [k for k in props if k not in order]}


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "bpmn"
    for build in ALL:
        diagram = build()
        link_ui_schemas(diagram)
        diagram.write(out / f"{diagram.process_id}.bpmn")
        print("wrote", out / f"{diagram.process_id}.bpmn")
