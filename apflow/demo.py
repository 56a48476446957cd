"""Demo organisation, people and work, so a newcomer can sign in and see real tasks in every inbox.

A school and an LA, three providers (two approved through the provider-approval process, one still in due
diligence) and eight pupils at different stages of the placement lifecycle, each driven through the same services
people use. Every demo user's password is DEMO_PASSWORD (documented in the README). Never load this into a database
real pupils' data lives in.
"""
from __future__ import annotations

from apflow.engine.problems import InvalidDiagram
from apflow.errors import NotFound
from apflow.placements.common import today
from apflow.services import (
    calendars,
    census,
    inbox,
    instances,
    organisations,
    placements,
    processes,
    provider_side,
    registers,
    safeguarding,
    users,
)

DEMO_PASSWORD = "apflow-demo"
SCHOOL, LA, NEXT_STEPS, GREENFIELD = "The Nest School", "Northshire County Council", "Next Steps Education", "Greenfield Farm Learning"

ORGANISATIONS = [(SCHOOL, "school"), (LA, "la"), (NEXT_STEPS, "provider"), (GREENFIELD, "provider")]

PEOPLE = [
    ("coordinator", "Priya Shah (AP Coordinator)", ["coordinator"], SCHOOL),
    ("headteacher", "Daniel Okafor (Headteacher)", ["headteacher"], SCHOOL),
    ("dsl", "Helen Marsh (DSL)", ["dsl"], SCHOOL),
    ("senco", "Tom Reilly (SENCo)", ["senco"], SCHOOL),
    ("provider", "Aisha Begum (Next Steps tutor)", ["provider"], NEXT_STEPS),
    ("greenfield", "Owen Price (Greenfield Farm tutor)", ["provider"], GREENFIELD),
    ("laofficer", "Graham Hughes (Education Inclusion Officer)", ["la_officer"], LA),
    ("parent", "Jo Taylor (parent of Jordan T. and Ellie W.)", ["parent"], None),
    *[(f"parent{n}", f"Parent of {pupil}", ["parent"], None)
      for n, pupil in [(2, "Mia K."), (3, "Leo B."), (4, "Chloe S."), (5, "Noah P."), (6, "Sofia R.")]],
    ("pupil", "Ellie W. (pupil)", ["pupil"], None),
    ("manager", "Sam Carter (AP manager)", ["manager", "coordinator"], SCHOOL),
]

PROVIDERS = [  # name, sites, how far its approval goes
    (NEXT_STEPS, [("Next Steps hub", "14 Market Street, Northtown NT1 4QS", "main"),
                  ("Community room", "St Mary's Hall, Church Road, Northtown NT2 7AB", "satellite")], "approved"),
    (GREENFIELD, [("Greenfield Farm", "Greenfield Farm, Low Lane, Eastby NT7 3FG", "main")], "approved"),
    ("Riverside Skills Centre", [("Riverside", "2 Quay Street, Northtown NT3 9RS", "main"),
                                 ("Motor workshop", "Unit 6, Canal Estate, Northtown NT3 2LP", "subcontracted")], "due_diligence"),
]

# pupil, ref, provider, parent/pupil accounts, stage reached
PUPILS = [
    ("Amir H.", "NEST-0131", NEXT_STEPS, {}, "referred"),
    ("Jordan T.", "NEST-0142", NEXT_STEPS, {"parent_username": "parent"}, "awaiting_consent"),
    ("Mia K.", "NEST-0178", GREENFIELD, {"parent_username": "parent2"}, "awaiting_approval"),
    ("Leo B.", "NEST-0203", NEXT_STEPS, {"parent_username": "parent3"}, "awaiting_purchase_order"),
    ("Chloe S.", "NEST-0219", GREENFIELD, {"parent_username": "parent4"}, "commissioning"),
    ("Ellie W.", "NEST-0224", NEXT_STEPS, {"parent_username": "parent", "pupil_username": "pupil"}, "running"),
    ("Noah P.", "NEST-0236", NEXT_STEPS, {"parent_username": "parent5"}, "concern"),
    ("Sofia R.", "NEST-0251", GREENFIELD, {"parent_username": "parent6"}, "emergency_removal"),
]


def answers(form: str, **extra) -> dict:
    """Believable answers for each lifecycle form, dated today."""
    d = today().isoformat()
    base = {
        "provider_details": {"address": "See sites", "contact_name": "Office manager", "sites": [], "rlp_policy": "required"},
        "provider_criteria": {"safeguarding_policies": True, "meets_plan_needs": True, "qualified_staff": True, "suitable_facilities": True,
                              "accreditations": "held", "insurance": True, "progress_reports": True,
                              "evidence": "Policies, single central record extract and insurance certificate seen."},
        "due_diligence": {"site_visit_on": d, "safeguarding_policy_reviewed": True, "staff_checks_confirmed": True,
                          "risk_reporting_confirmed": True, "health_and_safety_reviewed": True, "curriculum_checked": True,
                          "other_schools": "consulted", "dd_findings": "Two local schools rate the provider highly."},
        "provider_decision": {"provider_decision": "approve", "provider_notes": "Meets our selection criteria."},
        "sla_draft": {"curriculum_delivery": "English, maths and science every week, plus the vocational course.",
                      "safeguarding_reporting": "Any concern to our DSL by phone the same day.",
                      "attendance_reporting": "Register shared by 10:00 each school day.", "progress_tracking": "Half-termly progress reports.",
                      "communication": "Weekly call with the AP Coordinator.", "incident_handling": "Phone the school at once; written report in 24h.",
                      "data_protection": "UK GDPR; shared only under the information sharing agreement.",
                      "notice_period_school_days": 10, "sla_starts_on": d},
        "sla_signature": {"sla_decision": "sign", "sla_signed_by": "Director", "sla_signed_on": d},
        "referral": {"school": SCHOOL, "referred_by": "la", "referrer_name": "Graham Hughes, Education Inclusion Officer",
                     "reasons": ["attendance", "needs_not_met"], "reason_details": "Attendance below 50% this term; needs not met in mainstream.",
                     "placement_type": "part_time_ap", "purpose": "Re-engage with learning and return to full-time school by September.",
                     "la_officer_name": "Graham Hughes", "la_officer_role": "education_inclusion_officer", "la_officer_username": "laofficer",
                     "ehcp": False, "learning_mentor": True},
        "provider_choice": {"choice_reason": "Small groups and a vocational route that suits the pupil."},
        "referral_decision": {"referral_decision": "accept", "criteria_met": ["attendance", "needs_not_met"],
                              "decision_reason": "Within our admission criteria; a place is free from Monday."},
        "plan": {"improvement_objectives": "Attend 90% of sessions; manage anxiety in groups.", "attainment_objectives": "Grade 4 English and maths.",
                 "objectives_timeframe": "By the end of the summer term", "reintegration_timeframe": "Next September",
                 "assessment_arrangements": "Half-termly reviews against the objectives.", "baseline_summary": "Working at grade 2-3.",
                 "needs_assessed": True, "plan_pupil_views": "Wants to learn a practical trade.", "parents_consulted": True,
                 "provider_liaison": True, "ehc_plan_review": "no_ehc_plan", "objectives_measurable": True,
                 "curriculum": ["english", "maths", "science_it", "careers", "rse_health"]},
        "risk_assessment": {"needs": "Anxiety; low attendance.", "activities": "Supervised workshop.", "environment": "Small site.",
                            "travel": "School taxi.", "safeguarding": "No open concerns.", "health_and_safety": "PPE provided.",
                            "individual_needed": False, "ra_overall_risk": "medium", "ra_assessed_on": d},
        "transport": {"transport": "school_transport", "transport_details": "Taxi from home at 08:30, back at 15:00.", "equipment": ["ppe", "learning_materials"]},
        "consultation": {"consulted_on": d, "proposal_discussed": True, "rationale_explained": True, "outcomes_explained": True,
                         "provider_information_shared": True, "questions_addressed": True, "pupil_involved": True},
        "consent": {"consent": "given", "signed_name": "Parent", "consent_signed_on": d},
        "placement_decision": {"head_decision": "approve", "head_notes": "Approved for this term and next."},
        "purchase_order": {"po_decision": "issued", "po_number": "NCC-PO-4471", "issued_by": "la", "issued_on": d, "hours_per_week": 15,
                           "order_value": 4860},
        "allocation": {"tutor_name": "Aisha Begum", "mentor_name": "Sam Ortiz", "venue_agreed_with_carers": True,
                       "sessions": [{"day": day, "starts": "09:30", "ends": "14:30", "activity": "Core subjects and vocational",
                                     "venue": "provider_site", "address": "14 Market Street, Northtown NT1 4QS"}
                                    for day in ("Monday", "Tuesday", "Wednesday", "Thursday")]},
        "relational_learning_plan": {"key_adults": "Aisha (tutor) and Sam (mentor).", "strengths_and_interests": "Practical, creative, loves animals.",
                                     "triggers_and_calming": "Crowded rooms; a quiet space helps.", "rlp_communication": "Clear, calm instructions.",
                                     "relational_goals": "Build trust with one adult in the first fortnight."},
        "timetable_shared": {"timetable_to_parents": True, "timetable_to_commissioner": True, "portal_access": ["carers", "la", "school"]},
        "kid_sent": {"kid_sent_on": d, "kid_sent_to": "Graham Hughes, Northshire County Council"},
        "kid_signed": {"kid_signed_by": "Graham Hughes, EIO", "kid_signed_on": d},
        "placement_start": {"start_date": d, "attendance_code": "B", "part_time": True,
                            "complements_curriculum": "English and maths GCSEs continue at school on Fridays."},
        "commencement_review": {"commencement_on": d, "commencement_attendees": "Pupil, parent, tutor, AP Coordinator",
                                "targets": ["Attend every session", "Complete unit 1 of the vocational course"]},
        "pupil_passport": {"about_me": "I like animals and making things.", "how_to_help_me": "Give me time to answer.",
                           "education_goals": "College in September."},
        "baseline": {"settled_and_safe": True, "baseline_on": d, "english": "Grade 2", "maths": "Grade 3", "science": "Grade 2",
                     "previous_attendance_percent": 46, "previous_engagement": "Withdrawn in most lessons.", "baseline_wellbeing": "Anxious, settling."},
        "termly_assessment": {"termly_on": d, "termly_progress": "Two of three objectives on track.", "on_track": "partly"},
        "risk_assessment_review": {"ra_reviewed_on": d, "still_suitable": True, "review_overall_risk": "low", "ra_changes": "No changes needed."},
        "parent_update": {"update_sent_on": d, "update_summary": "Attending well and enjoying the practical work.", "assessment_shared": True},
        "concern_response": {"assessment": "Spoke to the pupil with the tutor present; referral to children's social care made.",
                             "child_protection": True, "referred_to": ["social_care"], "concern_action": "emergency_removal",
                             "risk_assessment_updated": True},
        "concern_parents": {"parents_told": "told", "told_on": d, "told_how": "phone",
                            "what_they_were_told": "A concern was raised and the pupil is back at school."},
        "emergency_removal": {"removed_on": d, "pupil_now_with": "At The Nest with the DSL.", "removal_reason": "Serious safeguarding concern at the site."},
    }[form]
    return {**base, **extra}


def load_demo(core) -> list[str]:
    said = []
    core.db.upgrade()
    if calendars.current(core) is None:
        calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="demo")
        said.append("term dates 2025/26 and 2026/27 loaded")
    try:
        for item in processes.deploy_paths(core, [core.settings.bpmn_dir], by="demo", note="demo load"):
            said.append(f"process {item.process_id}: version {item.version}{' (new)' if item.created else ''}")
    except InvalidDiagram as err:
        raise SystemExit("The diagrams in bpmn/ have problems:\n" + "\n".join(str(p) for p in err.problems)) from None
    organisations.name_default(core, SCHOOL, "school")  # the school is the installation's own organisation (issue 17)
    for name, kind in ORGANISATIONS:
        users.ensure_organisation(core, name, kind)
    for username, display, roles, org in PEOPLE:
        if users.find_user(core, username) is None:
            users.create_user(core, username, DEMO_PASSWORD, roles, display_name=display, organisations=[org] if org else [])
            said.append(f"user {username} ({', '.join(roles)}) password {DEMO_PASSWORD}")
    if not placements.any_placement(core):
        said += _load_work(core)
    return said


class _Worker:
    """Completes the demo's tasks as the person in each role would."""

    def __init__(self, core):
        self.core = core
        self.people = {username: users.find_user(core, username) for username, *_ in PEOPLE}

    def do(self, instance_id: int, name: str, **extra) -> None:
        manager = self.people["manager"]
        task = next(t for t in instances.list_ready_tasks(self.core, manager, instance_id) if t["name"] == name)
        form = instances.get_task(self.core, manager, task["id"])["form"]
        data = answers(_form_file(form), **extra) if form else {}
        instances.complete_task(self.core, self._who(task), task["id"], data)

    def _who(self, task: dict):
        if task["assignee"]:
            return self.people[task["assignee"]]
        for username in ("coordinator", "headteacher", "dsl", "senco", "provider", "greenfield", "laofficer", "manager"):
            person = self.people[username]
            if task["role"] in person.role_names and self._may_complete(person, task["id"]):
                return person
        raise LookupError(f"nobody in the demo can complete {task['name']!r}")

    def _may_complete(self, person, task_id: str) -> bool:
        try:
            return inbox.task_view(self.core, person, task_id)["actions"]["complete"]
        except NotFound:
            return False


def _form_file(form: dict) -> str:
    return {v["title"]: k for k, v in _FORM_TITLES.items()}.get(form["schema"]["title"]) or form["schema"]["title"]


_FORM_TITLES: dict[str, dict] = {}


def _load_work(core) -> list[str]:
    global _FORM_TITLES
    import json

    _FORM_TITLES = {p.name.replace(".schema.json", ""): json.loads(p.read_text())
                    for p in core.settings.forms_dir.glob("*.schema.json")}
    said = []
    work = _Worker(core)
    coordinator = work.people["coordinator"]
    for name, sites, stage in PROVIDERS:
        iid = instances.start_instance(core, coordinator, "provider_approval", {"provider_name": name})["id"]
        work.do(iid, "Record the provider and all its sites", provider_name=name,
                address=sites[0][1], sites=[{"name": n, "address": a, "kind": k} for n, a, k in sites])
        work.do(iid, "Check the selection criteria")
        if stage == "approved":
            for task in ["Carry out due diligence", "Approve the provider", "Draft the service level agreement", "Agree and sign the agreement"]:
                work.do(iid, task, **({"sla_signed_by": f"Director, {name}"} if task == "Agree and sign the agreement" else {}))
        said.append(f"provider {name}: {'approved, agreement signed' if stage == 'approved' else 'in due diligence'}")
    # R12: Next Steps' own admission policy ("We accept referrals for students who are...")
    for provider in provider_side.my_providers(core, work.people["provider"]):
        provider_side.save_admission_criteria(core, work.people["provider"], provider["id"], ["attendance", "medical", "needs_not_met",
                                              "send", "cic", "cp"], notes="Children not in education, or at risk of it.")
    for pupil, ref, provider, accounts, stage in PUPILS:
        iid = instances.start_instance(core, coordinator, "placement", {"pupil_name": pupil, "pupil_ref": ref})["id"]
        _advance(core, work, iid, pupil, ref, provider, accounts, stage)
        said.append(f"referral for {pupil}: placement instance {iid}, {stage.replace('_', ' ')}")
    _census_numbers(core, work)
    said += _compliance_documents(core, work)
    return said


def _compliance_documents(core, work: _Worker) -> list[str]:
    """Provider compliance documents (issue 16: R25): Next Steps' insurance in date, its safeguarding confirmation due
    for renewal within the month (the daily check opens its renewal task), its information sharing agreement."""
    from datetime import timedelta

    from apflow.services import compliance

    [provider] = [p for p in provider_side.my_providers(core, work.people["provider"]) if p["name"] == NEXT_STEPS] or [None]
    if provider is None:
        return []
    day = today()
    for kind, days, title, where in [
            ("public_liability", 300, "Public liability, Hiscox policy PL-448120 (£5m)", "Scanned to the shared drive: AP/Next Steps/Insurance"),
            ("employers_liability", 300, "Employer's liability, Hiscox policy EL-448121 (£10m)", "Scanned to the shared drive: AP/Next Steps/Insurance"),
            ("safeguarding", 21, "Letter confirming the safeguarding policy and enhanced DBS checks of all staff", "Paper copy in the AP file"),
            ("information_sharing", None, "Information sharing agreement, signed by both DPOs", "Scanned to the shared drive: AP/Next Steps/ISA")]:
        compliance.record(core, work.people["coordinator"], provider["id"], {
            "kind": kind, "title": title, "reference": where, "issued_on": (day - timedelta(days=60)).isoformat(),
            "expires_on": (day + timedelta(days=days)).isoformat() if days else ""})
    return [f"provider {NEXT_STEPS}: 4 compliance documents, its safeguarding confirmation due for renewal"]


# the school census AP return (issue 16): made-up numbers of the right form (LA 999 is no real authority)
SCHOOL_NUMBERS = {"urn": "999901", "la_number": "999", "estab_number": "4001"}
PROVIDER_NUMBERS = {NEXT_STEPS: {"ukprn": "10099901"}, GREENFIELD: {"setting_type": "OTH"}}
UPNS = {"NEST-0131": "H999400125131", "NEST-0142": "K999400125142", "NEST-0178": "J999400125178", "NEST-0203": "J999400125203",
        "NEST-0219": "G999400125219", "NEST-0224": "Z999400125224", "NEST-0236": "Q999400125236", "NEST-0251": "W999400125251"}
CENSUS_REASONS = {"NEST-0224": "MEN", "NEST-0236": "BEH", "NEST-0251": "SEN"}


def _census_numbers(core, work: _Worker) -> None:
    manager = work.people["manager"]
    [school] = [s for s in census.schools(core, manager) if s["name"] == SCHOOL]
    census.save_school_numbers(core, manager, school["id"], SCHOOL_NUMBERS)
    rows = placements.list_placements(core, manager)
    for provider in {row["provider"]["name"]: row["provider"] for row in rows if row["provider"]}.values():
        if provider["name"] in PROVIDER_NUMBERS:
            census.save_provider_numbers(core, manager, school["id"], provider["id"], PROVIDER_NUMBERS[provider["name"]])
    for row in rows:
        ref = row["pupil"]["ref"]
        census.save_row(core, manager, school["id"], row["id"], {"upn": UPNS[ref], "reason": CENSUS_REASONS.get(ref, "OTH")})


STAGES = ["referred", "awaiting_consent", "awaiting_approval", "awaiting_purchase_order", "commissioning", "running",
          "concern", "emergency_removal"]


def _advance(core, work: _Worker, iid: int, pupil: str, ref: str, provider: str, accounts: dict, stage: str) -> None:
    reached = STAGES.index(stage)
    work.do(iid, "Record the referral", pupil_name=pupil, pupil_ref=ref, date_of_birth="2011-03-14", **accounts)
    if reached < 1:
        return
    work.do(iid, "Choose the provider", provider_name=provider)
    work.do(iid, "Decide on the referral")  # R12: the provider accepts against its admission criteria
    for task in ["Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment",
                 "Consult the parents or carers"]:
        work.do(iid, task)
    if reached < 2:
        return
    work.do(iid, "Give written consent", signed_name=f"Parent of {pupil}")
    if reached < 3:
        return
    work.do(iid, "Approve the placement")
    if reached < 4:
        return
    work.do(iid, "Issue the purchase order")
    work.do(iid, "Allocate tutors and timetable the sessions")
    if reached < 5:
        return
    for task in ["Write the Relational Learning Plan", "Share the timetable and portal access", "Send the Key Information Document",
                 "Sign and return the Key Information Document", "Confirm the placement start", "Commencement review: agree targets",
                 "Complete the Pupil Passport and Education Plan", "Baseline assessment once settled"]:
        work.do(iid, task)
    if stage == "running":
        for task in ["Termly assessment against the plan", "Review the risk assessments", "Send the termly progress update"]:
            work.do(iid, task)
        _keep_todays_register(core, work)
        return
    placement_id = placements.placement_for_instance(core, work.people["manager"], iid)["id"]
    safeguarding.raise_concern(core, work.people["provider" if provider == NEXT_STEPS else "greenfield"], placement_id, "Pupil disclosed something worrying at the site today.",
                           detail="Details as reported by the tutor to the DSL by phone.", child_protection=True)
    if stage == "concern":
        return
    work.do(iid, "Respond to the concern and review the placement")
    work.do(iid, "Tell the parents, or record why not now")
    work.do(iid, "Remove the pupil from the placement now")


def _keep_todays_register(core, work: _Worker) -> None:
    """Registers (issue 15): today's sessions laid out, and those already started marked present by the tutor, as the
    Today page would; sessions still to come stay blank for the tutor to mark."""
    registers.lay_out_registers(core)
    tutor = work.people["provider"]
    started = [row["key"] for row in registers.provider_day(core, tutor)["rows"] if row["started"] and row["status"] is None]
    if started:
        registers.record_marks(core, tutor, [], all_present=started)
