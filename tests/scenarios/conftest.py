"""Scenario fixtures: the lifecycle diagrams deployed, term dates loaded, one person per role, and a driver that
works the placement's tasks through the services with believable answers (tests override what they prove)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from apflow.clock import clock
from apflow.config import ROOT
from apflow.services import calendars, instances, processes, users
from tests.support import make_user

LIFECYCLE = ["provider_approval", "service_level_agreement", "placement", "placement_planning", "provider_intake",
             "placement_in_progress", "placement_review", "safeguarding_concern", "planned_exit", "emergency_removal",
             "return_to_setting"]


def today() -> str:
    from apflow.placements.common import today as uk_today

    return uk_today().isoformat()


def answers(form: str) -> dict:
    """Believable answers for each lifecycle form; dates are today's (the frozen clock's)."""
    d = today()
    return {
        "provider_details": {"provider_name": "Bridges Learning", "address": "1 Mill Lane, Northtown NT1 1AA", "contact_name": "Ann Lee",
                             "rlp_policy": "required",
                             "sites": [{"name": "Mill Lane", "address": "1 Mill Lane, Northtown NT1 1AA", "kind": "main"},
                                       {"name": "Farm site", "address": "Hill Farm, Northtown NT9 9ZZ", "kind": "satellite"}]},
        "provider_criteria": {"safeguarding_policies": True, "meets_plan_needs": True, "qualified_staff": True, "suitable_facilities": True,
                              "accreditations": "held", "insurance": True, "progress_reports": True, "evidence": "Policies, DBS list and insurance seen."},
        "due_diligence": {"site_visit_on": d, "safeguarding_policy_reviewed": True, "staff_checks_confirmed": True, "risk_reporting_confirmed": True,
                          "health_and_safety_reviewed": True, "curriculum_checked": True, "other_schools": "consulted", "dd_findings": "All in order."},
        "provider_decision": {"provider_decision": "approve", "provider_notes": "Meets our standards."},
        "sla_draft": {"curriculum_delivery": "English, maths and science daily.", "safeguarding_reporting": "Report to our DSL the same day.",
                      "attendance_reporting": "Register shared every school day.", "progress_tracking": "Half-termly progress reports.",
                      "communication": "Weekly call with the coordinator.", "incident_handling": "Phone the school at once.",
                      "data_protection": "UK GDPR, shared only as agreed.", "notice_period_school_days": 10, "sla_starts_on": d},
        "sla_signature": {"sla_decision": "sign", "sla_signed_by": "Ann Lee, director", "sla_signed_on": d},
        "qa_visit": {"visited_on": d, "quality": "good", "safeguarding_ok": True, "qa_findings": "Calm, purposeful lessons.", "qa_outcome": "keep"},
        "provider_withdrawal": {"withdrawal_reason": "Safeguarding standards no longer met."},
        "escalation": {"action_taken": "Spoke to the person responsible; done today."},
        "referral": {"pupil_name": "Jordan T.", "pupil_ref": "P-0001", "date_of_birth": "2011-05-04", "school": "The Nest School",
                     "referred_by": "la", "referrer_name": "Graham Hughes, EIO", "reasons": ["attendance", "send"],
                     "reason_details": "Attendance 42% this term; needs not met in mainstream classes.",
                     "placement_type": "part_time_ap", "purpose": "A return to full-time school by September.", "la_officer_name": "Graham Hughes",
                     "la_officer_role": "education_inclusion_officer", "la_officer_username": "la1", "ehcp": False,
                     "learning_mentor": False, "parent_username": "parent1", "pupil_username": "pupil1"},
        "provider_choice": {"provider_name": "Bridges Learning", "choice_reason": "Offers the vocational route the pupil wants."},
        "provider_not_ready": {"next_step": "Approval started; choose again when it is done."},
        "referral_decision": {"referral_decision": "accept", "criteria_met": ["attendance", "send"],
                              "decision_reason": "Within our criteria: attendance and SEND; we have a place on Mondays to Fridays."},
        "arrangement_recheck": {"safeguarding_checks_seen": True, "risk_assessment_reviewed": True, "recheck_outcome": "satisfied",
                                "recheck_notes": ""},
        "placement_decision": {"head_decision": "approve", "head_notes": "Approved for two terms."},
        "placement_start": {"start_date": d, "attendance_code": "B", "part_time": False},
        "plan": {"improvement_objectives": "Attend 90% of sessions.", "attainment_objectives": "Grade 4 in English and maths.",
                 "objectives_timeframe": "By Easter", "reintegration_timeframe": "September", "assessment_arrangements": "Half-termly reviews.",
                 "baseline_summary": "Working at grade 2 in English.", "needs_assessed": True, "plan_pupil_views": "Wants to work with engines.",
                 "parents_consulted": True, "provider_liaison": True, "ehc_plan_review": "no_ehc_plan", "objectives_measurable": True,
                 "curriculum": ["english", "maths", "science_it", "careers", "rse_health"]},
        "risk_assessment": {"needs": "Anxiety in large groups.", "activities": "Workshop tools under supervision.", "environment": "Small site.",
                            "travel": "Taxi with escort.", "safeguarding": "Known to social care.", "health_and_safety": "PPE provided.",
                            "individual_needed": False, "ra_overall_risk": "medium", "ra_assessed_on": d},
        "transport": {"transport": "school_transport", "transport_details": "Taxi at 8:30 from home.", "equipment": ["ppe"]},
        "consultation": {"consulted_on": d, "proposal_discussed": True, "rationale_explained": True, "outcomes_explained": True,
                         "provider_information_shared": True, "questions_addressed": True, "pupil_involved": True},
        "consent": {"consent": "given", "signed_name": "Jo Taylor", "consent_signed_on": d},
        "consent_followup": {"consent_notes": "The family want time to think.", "consent_next": "withdraw"},
        "purchase_order": {"po_decision": "issued", "po_number": "PO-7781", "issued_by": "la", "issued_on": d, "hours_per_week": 15,
                           "order_value": 4860},
        "funding_followup": {"funding_notes": "The LA will not fund this term.", "funding_next": "withdraw"},
        "allocation": {"tutor_name": "Aisha Begum", "venue_agreed_with_carers": True, "sessions": [
            {"day": day, "starts": "09:30", "ends": "14:30", "activity": "Engineering", "venue": "provider_site",
             "address": "Hill Farm, Northtown NT9 9ZZ"} for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")]},
        "relational_learning_plan": {"key_adults": "Aisha, the tutor.", "strengths_and_interests": "Engines and football.",
                                     "triggers_and_calming": "Loud rooms; a walk helps.", "rlp_communication": "Short, direct sentences.",
                                     "relational_goals": "Trust one adult at the provider."},
        "timetable_shared": {"timetable_to_parents": True, "timetable_to_commissioner": True, "portal_access": ["carers", "la", "school"]},
        "kid_sent": {"kid_sent_on": d, "kid_sent_to": "Graham Hughes, Northshire CC"},
        "kid_signed": {"kid_signed_by": "Graham Hughes, EIO", "kid_signed_on": d},
        "commencement_review": {"commencement_on": d, "commencement_attendees": "Pupil, parent, tutor, coordinator",
                                "targets": ["Attend every session", "Complete the engine unit"]},
        "pupil_passport": {"about_me": "I like engines.", "how_to_help_me": "Give me a minute to think.", "education_goals": "College in September."},
        "baseline": {"settled_and_safe": True, "baseline_on": d, "english": "Grade 2", "maths": "Grade 3", "science": "Grade 2",
                     "previous_attendance_percent": 42, "previous_engagement": "Low in most lessons.", "baseline_wellbeing": "Anxious but settling."},
        "passport_review": {"passport_reviewed_on": d, "passport_progress": "Settling well."},
        "absence_follow_up": {"contacted": ["parents"], "absence_outcome": "Overslept; now on the way.", "pupil_safe": "yes", "absence_code": "O"},
        "termly_assessment": {"termly_on": d, "termly_progress": "Two of three objectives on track.", "on_track": "partly"},
        "risk_assessment_review": {"ra_reviewed_on": d, "still_suitable": True, "review_overall_risk": "low", "ra_changes": "None needed."},
        "parent_update": {"update_sent_on": d, "update_summary": "Good progress in English and attendance.", "assessment_shared": True},
        "parent_feedback": {"childs_experience": "Much happier.", "feedback_quality": 5, "feedback_communication": 4},
        "pupil_feedback": {"going_well": "The engines.", "feel_safe": "yes", "want_to_continue": "yes"},
        "review_invitation": {"meeting_on": d, "invited": ["parents", "pupil", "provider"]},
        "progress_report": {"progress_against_objectives": "On track in English; maths slower.", "attendance_summary": "94%.",
                            "engagement_summary": "Engaged, calm."},
        "placement_review": {"held_on": d, "attending_regularly": True, "safe": True, "meeting_needs": True, "plan_still_right": True,
                             "progress_seen": "good", "review_pupil_views": "Likes it.", "review_decision": "continue"},
        "incident_review": {"reviewed_on": d, "risk_assessment_still_suitable": True, "plan_still_right": True},
        "dsl_safety_decision": {"dsl_decision": "continue", "dsl_reasons": "Safety plan agreed with the provider today."},
        "intervention": {"intervention_on": d, "intervention_attendees": ["pupil", "provider", "parents"], "issues": "Missing afternoons.",
                         "support": "Mentor meets him at the gate.", "expectations": "Full attendance for three weeks.", "check_in_weeks": 3},
        "intervention_check": {"intervention_checked_on": d, "improved": False, "intervention_notes": "Still missing afternoons."},
        "concern_response": {"assessment": "Bruising seen; spoke to the pupil.", "child_protection": True, "referred_to": ["social_care"],
                             "concern_action": "continue", "risk_assessment_updated": True},
        "concern_parents": {"parents_told": "told", "told_on": d, "told_how": "phone",
                            "what_they_were_told": "A concern was raised and is being looked into."},
        "concern_resolution": {"resolved_on": d, "how_addressed": "Social care visited; no further action.", "resolution": "resume"},
        "exit_notice": {"notice_given_on": d, "notified": ["provider", "parents", "pupil", "la"], "exit_reason": "The placement is not working."},
        "exit_plan": {"next_provision": "Return to The Nest with support.", "continuity_of_learning": "Same exam boards.",
                      "exit_transition_support": "Mentor for four weeks."},
        "lessons_learned": {"went_well": "Quick start.", "to_change": "Earlier review of afternoons."},
        "emergency_removal": {"removed_on": d, "pupil_now_with": "At The Nest with the DSL.", "removal_reason": "Serious safeguarding concern."},
        "alternative_arrangements": {"arrangements": "Taught in school by the SENCo team.", "alternative_starts_on": d},
        "investigation": {"investigation_findings": "Staff member suspended pending inquiry.", "reported_to": ["lado", "la"], "reported_on": d},
        "family_support": {"support_offered": "Meeting with family and EHA worker.", "contacted_on": d},
        "destination": {"destination": "same_school", "setting_name": "The Nest School", "destination_starts_on": d,
                        "transition_support": True, "support_plan": "Mentor in lessons for the first weeks."},
        "transition_check": {"transition_checked_on": d, "attends_without_support": True},
        # issue 16: a compliance renewal, the 3- and 6-month destination checks, the annual policy review
        "compliance_renewal": {"renewal_outcome": "not_renewing", "renewal_notes": "The provider is leaving the register."},
        "destination_follow_up": {"sustained": True, "checked_on": d, "follow_up_notes": "Attending full time."},
        "policy_review": {"outcomes_for_pupils": "Attendance up from 46% to 81%.", "quality_of_provision": "Good at both providers.",
                          "value_for_money": "Cost per attended session fell.", "stakeholder_feedback": "Parents ask for more notice.",
                          "statutory_guidance_changes": "None this year.", "policy_changes": "Reminders a day earlier.",
                          "next_review_on": d},
    }[form]


class Lifecycle:
    """Works lifecycle tasks like the people in the roles would."""

    def __init__(self, core, people, clock_):
        self.core, self.people, self.clock = core, people, clock_
        # R12: once the coordinator chooses a provider, its staff accept the referral at once, unless a test sets this
        # False to work the provider's 'Decide on the referral' task itself (tests/scenarios/test_provider_side.py)
        self.provider_accepts = True

    def join(self, *organisations: str, roles=None) -> None:
        """Put the people driving the lifecycle (all but the tutor, or those in `roles`) into these organisations too,
        so they see and work those organisations' placements (issue 17: nobody sees every organisation's)."""
        from apflow.store.models import Organisation, User, UserOrganisation

        with self.core.db.session() as s:
            ids = [s.scalar(select(Organisation.id).where(Organisation.name == name)) for name in organisations]
            assert None not in ids, f"no organisation among {organisations}"
            for key, person in list(self.people.items()):
                if (key == "provider") if roles is None else (key not in roles):
                    continue
                fresh = s.get(User, person.id)
                fresh.memberships += [UserOrganisation(organisation_id=i) for i in ids if i not in fresh.organisation_ids]
        with self.core.db.session(readonly=True) as s:
            for key, person in list(self.people.items()):
                self.people[key] = s.get(User, person.id)

    def tutor_works_for(self, provider: str) -> None:
        """The tutor works for the provider chosen (their referral decisions, agreements and registers are its)."""
        users.ensure_organisation(self.core, provider, "provider")
        self.join(provider, roles={"provider"})

    def tasks(self, instance_id=None) -> list[dict]:
        return instances.list_ready_tasks(self.core, self.people["manager"], instance_id)

    def names(self, instance_id=None) -> list[str]:
        return sorted(t["name"] for t in self.tasks(instance_id))

    def task(self, name: str, instance_id=None) -> dict:
        found = [t for t in self.tasks(instance_id) if t["name"] == name]
        assert found, f"no ready task {name!r}; ready: {self.names(instance_id)}"
        return found[0]

    def who(self, task: dict):
        if task["assignee"]:
            return next(u for u in self.people.values() if u.username == task["assignee"])
        return self.people[task["role"]]

    def do(self, name: str, instance_id=None, user=None, **changes) -> dict:
        task = self.task(name, instance_id)
        form = _form_name(self.core, task["id"])
        data = {**answers(form), **changes} if form else {}
        if name == "Choose the provider" and data.get("provider_name"):
            self.tutor_works_for(data["provider_name"])
        result = instances.complete_task(self.core, user or self.who(task), task["id"], data)
        if name == "Choose the provider" and self.provider_accepts and "Decide on the referral" in self.names(instance_id):
            self.do("Decide on the referral", instance_id)
        return result

    def fire(self) -> int:
        return instances.fire_due_timers(self.core)

    def advance(self, **delta) -> int:
        self.clock.advance(timedelta(**delta))
        return self.fire()

    # -- whole stages ---------------------------------------------------------------------------
    def approve_provider(self, name="Bridges Learning", **details) -> int:
        started = instances.start_instance(self.core, self.people["coordinator"], "provider_approval", {})
        iid = started["id"]
        self.do("Record the provider and all its sites", iid, provider_name=name, **details)
        self.tutor_works_for(name)
        self.do("Check the selection criteria", iid)
        self.do("Carry out due diligence", iid)
        self.do("Approve the provider", iid)
        self.do("Draft the service level agreement", iid)
        self.do("Agree and sign the agreement", iid)
        return iid

    def refer(self, **referral) -> int:
        started = instances.start_instance(self.core, self.people["coordinator"], "placement",
                                           {"pupil_name": referral.get("pupil_name", "Jordan T."), "pupil_ref": referral.get("pupil_ref", "P-0001")})
        self.do("Record the referral", started["id"], **referral)
        return started["id"]

    def plan(self, iid, provider="Bridges Learning"):
        self.do("Choose the provider", iid, provider_name=provider)
        self.do("Draw up the personalised plan", iid)
        self.do("Assess the placement risks", iid)
        self.do("Arrange transport and equipment", iid)
        self.do("Consult the parents or carers", iid)
        self.do("Give written consent", iid)

    def commission(self, iid):
        self.do("Issue the purchase order", iid)
        self.do("Allocate tutors and timetable the sessions", iid)
        self.do("Write the Relational Learning Plan", iid)
        self.do("Share the timetable and portal access", iid)
        self.do("Send the Key Information Document", iid)
        self.do("Sign and return the Key Information Document", iid)

    def start(self, iid, **start):
        self.do("Confirm the placement start", iid, **start)

    def to_running(self, iid):
        """Through commencement and baseline, to the monitoring stage."""
        self.do("Commencement review: agree targets", iid)
        if "Complete the Pupil Passport and Education Plan" in self.names(iid):
            self.do("Complete the Pupil Passport and Education Plan", iid)
        self.do("Baseline assessment once settled", iid)

    def active_placement(self, **referral) -> int:
        iid = self.refer(**referral)
        self.plan(iid)
        self.do("Approve the placement", iid)
        self.commission(iid)
        self.start(iid)
        return iid

    def placement_id(self, iid) -> int:
        from apflow.placements.models import Placement

        with self.core.db.session(readonly=True) as s:
            return s.scalar(select(Placement.id).where(Placement.instance_id == iid))


def _form_name(core, task_id) -> str:
    from apflow.store.models import HumanTask

    with core.db.session(readonly=True) as s:
        schema = s.get(HumanTask, task_id).form_schema
        return schema.replace(".schema.json", "") if schema else None


@pytest.fixture
def terms(core):
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")


@pytest.fixture(scope="session")
def lifecycle_checked():
    """The shipped diagrams and forms, validated once for the whole run."""
    from apflow.engine import validate as checks
    from apflow.services.records import KNOWN_KINDS

    bpmn, _, _ = checks.collect([ROOT / "bpmn"])
    checked = checks.check(bpmn, ROOT / "forms", record_kinds=KNOWN_KINDS)
    assert checked.ok, checked.problems
    return checked


@pytest.fixture
def lifecycle_deployed(core, lifecycle_checked):
    processes.deploy_checked(core, lifecycle_checked, by="test", note="scenario")


@pytest.fixture
def cast(core):
    """One person per role; the family, pupil and LA officer are named on referrals so their tasks reach them. Everyone
    works for the installation's own organisation (a school), but the tutor for the provider Bridges Learning, whose
    placements they then see (issue 17: nobody sees every organisation's)."""
    users.ensure_organisation(core, "Bridges Learning", "provider")
    return {role: make_user(core, name, role, organisations=["Bridges Learning"] if role == "provider" else None) for role, name in [
        ("coordinator", "coord"), ("headteacher", "head"), ("dsl", "dsl"), ("senco", "senco"), ("provider", "tutor"),
        ("la_officer", "la1"), ("parent", "parent1"), ("pupil", "pupil1"), ("manager", "boss")]}


@pytest.fixture
def life(core, cast, terms, lifecycle_deployed, frozen_clock) -> Lifecycle:
    return Lifecycle(core, cast, frozen_clock)


def seed_approved_provider(core, name="Bridges Learning"):
    """Given: a provider already on the register with a signed agreement (its approval is proven in
    test_provider_lifecycle.py; here it only sets the scene, quickly)."""
    from datetime import date

    from apflow.clock import clock as now
    from apflow.placements.models import Provider, ProviderSite, ServiceLevelAgreement
    from apflow.store.models import Organisation

    with core.db.session() as s:
        provider = Provider(name=name, address="1 Mill Lane, Northtown NT1 1AA", contact={}, status="approved", criteria_met=True,
                            due_diligence_complete=True, due_diligence_on=date(2026, 1, 5), approved_at=now.now(), created_at=now.now())
        s.add(provider)
        if s.query(Organisation).filter(Organisation.name == name).first() is None:  # the cast's tutor may work for it already
            s.add(Organisation(name=name, kind="provider"))
        s.flush()
        s.add_all([ProviderSite(provider_id=provider.id, name="Mill Lane", address="1 Mill Lane, Northtown NT1 1AA", kind="main"),
                   ProviderSite(provider_id=provider.id, name="Farm site", address="Hill Farm, Northtown NT9 9ZZ", kind="satellite")])
        s.add(ServiceLevelAgreement(provider_id=provider.id, contents={}, notice_period_school_days=10, starts_on=date(2026, 1, 5),
                                    status="in_force", signed_by="Ann Lee", signed_on=date(2026, 1, 5), recorded_at=now.now()))


@pytest.fixture
def provider_ready(life):
    seed_approved_provider(life.core)
    return life


@pytest.fixture
def running(provider_ready):
    """A placement through commencement and baseline, in its monitoring stage: (life, instance id, placement id)."""
    life = provider_ready
    iid = life.active_placement()
    life.to_running(iid)
    return life, iid, life.placement_id(iid)


@pytest.fixture
def app(core):
    """The Flask app on the scenario's database, for tests that go through pages."""
    from apflow.web import create_app

    return create_app(core=core, run_scheduler=False)


__all__ = ["Lifecycle", "answers", "clock"]
