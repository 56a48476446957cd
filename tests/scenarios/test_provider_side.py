"""The provider's own side of the policy, through the services and pages: it decides on each referral against its
admission criteria before any allocation (R12), quality-checks each Relational Learning Plan and Pupil Passport and
reports termly on its provision (R14), and tells the school of changed arrangements, each re-checked there (R24)."""
import pytest
from sqlalchemy import select

from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements.models import ArrangementNotice, Placement, Plan, ReferralDecision
from apflow.services import instances, notifications, provider_side, safeguarding, users
from apflow.store.models import HumanTask, Instance, OutboxEmail
from tests.scenarios.conftest import seed_approved_provider, today
from tests.scenarios.test_hard_gates import run, without
from tests.support import PASSWORD, browser, post

DECIDE = "Decide on the referral"
RECHECK = "Re-check the arrangements"


def staff(core, username, role, organisation, email=None, name=None):
    users.ensure_organisation(core, organisation, "provider" if role == "provider" else "school")
    with core.db.session() as s:
        return users.add_user(s, username, PASSWORD, [role], name or username.title(), email, [organisation])


@pytest.fixture
def two_providers(provider_ready):
    """Bridges Learning (two staff) and Greenfield Farm (one), both on the register with an agreement."""
    life = provider_ready
    seed_approved_provider(life.core, "Greenfield Farm")
    people = {"ann": staff(life.core, "ann", "provider", "Bridges Learning", name="Ann Lee"),
              "ben": staff(life.core, "ben", "provider", "Bridges Learning", name="Ben Ray"),
              "gina": staff(life.core, "gina", "provider", "Greenfield Farm", name="Gina Hall")}
    return life, people


def test_R12_a_provider_declines_with_a_reason_and_the_coordinator_chooses_another(app, core, two_providers):
    life, p = two_providers
    life.provider_accepts = False
    coordinator = life.people["coordinator"]
    [bridges] = provider_side.my_providers(core, p["ann"])
    provider_side.save_admission_criteria(core, p["ann"], bridges["id"], ["medical", "cic"], 11, 16, "Key stage 3 and 4 only.")
    with pytest.raises(Forbidden):  # another provider's staff cannot set Bridges' policy
        provider_side.save_admission_criteria(core, p["gina"], bridges["id"], ["attendance"])
    iid = life.refer()
    pid = life.placement_id(iid)
    concern = safeguarding.raise_concern(core, coordinator, pid, "Worried after a disclosure", detail="SECRET CP DETAIL", child_protection=True)
    life.do("Choose the provider", iid, provider_name="Bridges Learning")
    assert DECIDE in life.names(iid) and "Draw up the personalised plan" not in life.names(iid)

    # the provider's staff read what they need to decide, beside their criteria; never the child-protection detail
    [waiting] = provider_side.referrals_to_decide(core, p["ann"])
    assert waiting["placement_id"] == pid and waiting["match"]["reasons_outside"] == ["attendance", "send"]
    page = browser(app, "ann").get(f"/provider/referrals/{pid}").get_data(as_text=True)
    assert "Attendance 42% this term" in page and "Below attendance thresholds" in page and "Outside your criteria" in page
    assert "SECRET CP DETAIL" not in page and "Worried after a disclosure" not in page
    assert "Read and decide" in browser(app, "ann").get("/provider").get_data(as_text=True)
    bad = post(browser(app, "ann"), f"/provider/admission-criteria/{bridges['id']}", {"reasons": ["medical"], "age_from": "16", "age_to": "eleven"})
    assert bad.status_code == 422 and "whole years" in bad.get_data(as_text=True)
    assert "Key stage 3 and 4 only." in browser(app, "coord").get(f"/provider/admission-criteria/{bridges['id']}").get_data(as_text=True)
    task_id = life.task(DECIDE, iid)["id"]
    assert "Outside your criteria" in browser(app, "ann").get(f"/tasks/{task_id}").get_data(as_text=True)

    # another provider's staff cannot see or decide it
    assert provider_side.referrals_to_decide(core, p["gina"]) == []
    with pytest.raises(NotFound):
        provider_side.decide(core, p["gina"], pid, "accept", "We would love to take this pupil.", ["attendance"])
    with pytest.raises((NotFound, Forbidden)):
        instances.complete_task(core, p["gina"], task_id, {"referral_decision": "accept", "decision_reason": "Taking it anyway."})
    assert post(browser(app, "gina"), f"/provider/referrals/{pid}", {"referral_decision": "accept"}).status_code == 404

    # a bad decision is refused field by field, nothing written
    with pytest.raises(Invalid) as err:
        provider_side.decide(core, p["ann"], pid, "accept", "Fine by us.", [])
    assert "criteria_met" in err.value.details["fields"]
    refused = post(browser(app, "ann"), f"/provider/referrals/{pid}", {"referral_decision": "decline", "decision_reason": "No"})
    assert refused.status_code == 422 and "at least 10 characters" in refused.get_data(as_text=True)

    # declined with a reason: the coordinator is told and chooses again
    declined = post(browser(app, "ann"), f"/provider/referrals/{pid}",
                    {"referral_decision": "decline", "decision_reason": "Outside our criteria: we take medical and CIC referrals only."})
    assert declined.status_code == 302
    assert life.names(iid) == ["Choose the provider"]
    told = [n for n in notifications.list_notifications(core, coordinator) if n.kind == "referral_declined"]
    assert told and "medical and CIC referrals only" in told[0].message
    again = post(browser(app, "ann"), f"/provider/referrals/{pid}", {"referral_decision": "decline", "decision_reason": "Sent twice."})
    assert again.status_code == 302  # a double submit is harmless
    with core.db.session(readonly=True) as s:
        assert [d.decision for d in s.scalars(select(ReferralDecision).where(ReferralDecision.placement_id == pid))] == ["declined"]

    life.do("Choose the provider", iid, provider_name="Greenfield Farm")
    with pytest.raises(NotFound):  # Bridges no longer sees the pupil
        provider_side.referral(core, p["ann"], pid)
    accepted = post(browser(app, "gina"), f"/provider/referrals/{pid}",
                    {"referral_decision": "accept", "criteria_met": ["attendance", "send"], "decision_reason": "Within our criteria; a place from Monday."})
    assert accepted.status_code == 302
    assert "Draw up the personalised plan" in life.names(iid)
    quality = browser(app, "coord").get(f"/api/v1/placements/{pid}/provider-quality").get_json()
    assert [(d["provider"], d["decision"]) for d in quality["decisions"]] == [("Bridges Learning", "declined"), ("Greenfield Farm", "accepted")]
    school_page = browser(app, "coord").get(f"/placements/{iid}").get_data(as_text=True)
    assert "Greenfield Farm accepted the referral" in school_page and "medical and CIC referrals only" in school_page
    assert concern["concern_id"]


def test_R12_no_allocation_before_the_provider_accepts_even_if_the_step_is_cut(provider_ready, tmp_path):
    error = run(provider_ready, tmp_path, without("Decide on the referral", "Allocate tutors and timetable the sessions",
                                                  "Write the Relational Learning Plan"), "Allocate tutors and timetable the sessions")
    assert "has not accepted this referral" in error.message and error.details["gates"] == ["provider's acceptance"]


def _walk_to_running(life, rlp_author, **referral):
    """A placement through to its monitoring stage, its Relational Learning Plan written by rlp_author."""
    iid = life.refer(**referral)
    life.plan(iid)
    life.do("Approve the placement", iid)
    life.do("Issue the purchase order", iid)
    life.do("Allocate tutors and timetable the sessions", iid)
    life.do("Write the Relational Learning Plan", iid, user=rlp_author)
    for name in ("Share the timetable and portal access", "Send the Key Information Document", "Sign and return the Key Information Document"):
        life.do(name, iid)
    life.start(iid)
    life.to_running(iid)
    return iid


def test_R14_the_plan_is_signed_off_by_someone_other_than_its_author_and_the_school_reads_the_termly_report(app, core, two_providers):
    life, p = two_providers
    iid = _walk_to_running(life, p["ann"])
    pid = life.placement_id(iid)
    with core.db.session(readonly=True) as s:
        rlp = s.scalar(select(Plan).where(Plan.placement_id == pid, Plan.kind == "relational_learning"))
        assert rlp.recorded_by == "ann"
    school = browser(app, "coord")
    assert "waiting for the provider's quality check" in school.get(f"/placements/{iid}").get_data(as_text=True)
    assert [x["id"] for x in provider_side.plans_to_check(core, p["ben"])] == [rlp.id]

    with pytest.raises(Forbidden):  # the author does not check their own plan where the provider has more staff
        provider_side.sign_off(core, p["ann"], rlp.id, ["needs_reflected"])
    with pytest.raises(NotFound):  # nor does another provider
        provider_side.sign_off(core, p["gina"], rlp.id, ["needs_reflected"])
    with pytest.raises(Invalid):
        provider_side.sign_off(core, p["ben"], rlp.id, [])
    signed = post(browser(app, "ben"), f"/provider/plans/{rlp.id}/sign-off",
                  {"checks": ["needs_reflected", "targets_measurable", "pupil_voice"], "comments": "Clear and kind; add a calming plan for Fridays."})
    assert signed.status_code == 302
    assert provider_side.sign_off(core, p["ben"], rlp.id, ["needs_reflected"])["signoff"]["by"] == "Ben Ray"  # sent twice: the first stands
    page = school.get(f"/placements/{iid}").get_data(as_text=True)
    assert "signed off by Ben Ray on" in page and "add a calming plan for Fridays" in page

    # the termly report: every target met, partly met or not, what worked, what changes
    form = provider_side.effectiveness_form(core, p["ben"], pid)
    assert form["targets"] == ["Attend every session", "Complete the engine unit"] and form["term"]
    with pytest.raises(Invalid) as err:
        provider_side.report_effectiveness(core, p["ben"], pid, {"0": "met"}, "Good.", "")
    assert set(err.value.details["fields"]) == {"target_1", "what_worked", "changes"}
    sent = post(browser(app, "ben"), f"/provider/placements/{pid}/effectiveness",
                {"target_0": "met", "target_1": "partly", "what_worked": "One-to-one mornings in the workshop.",
                 "changes": "Add a maths session on Thursdays."})
    assert sent.status_code == 302
    quality = school.get(f"/api/v1/placements/{pid}/provider-quality").get_json()
    [report] = quality["effectiveness_reports"]
    assert (report["met"], report["partly"], report["not_met"]) == (1, 1, 0) and report["recorded_by"] == "Ben Ray"
    assert quality["plans"][0]["signoff"]["checks"] == ["needs_reflected", "targets_measurable", "pupil_voice"]
    assert "Add a maths session on Thursdays." in school.get(f"/placements/{iid}").get_data(as_text=True)
    assert browser(app, "gina").get(f"/api/v1/placements/{pid}/provider-quality").status_code == 404
    assert browser(app, "parent1").get(f"/api/v1/placements/{pid}/provider-quality").status_code == 404


def test_R24_a_staff_change_for_pupils_of_two_schools_opens_one_recheck_at_each_school_and_neither_sees_the_other(app, core, two_providers):
    life, p = two_providers
    nest = staff(core, "coord_nest", "coordinator", "The Nest School", email="nest@example.org")
    hill = staff(core, "coord_hill", "coordinator", "Hill School", email="hill@example.org")
    life.join("The Nest School", "Hill School")  # the cast's head, manager and LA officer work with both schools
    life.people["coordinator"] = nest
    amir = _walk_to_running(life, p["ann"], pupil_name="Amir H.", pupil_ref="P-0101")
    life.people["coordinator"] = hill
    bea = _walk_to_running(life, p["ann"], pupil_name="Bea K.", pupil_ref="P-0202", school="Hill School")
    amir_pid, bea_pid = life.placement_id(amir), life.placement_id(bea)

    tell = browser(app, "ann")
    page = tell.get("/provider/tell-the-school").get_data(as_text=True)
    assert "Amir H." in page and "Bea K." in page
    assert post(tell, "/provider/tell-the-school", {"kind": "staff_change", "summary": "Nobody chosen."}).status_code == 422
    with pytest.raises(NotFound):  # another provider cannot tell anyone about these pupils
        provider_side.tell_the_school(core, p["gina"], [amir_pid], "staff_change", "Someone new starts on Monday.", today(), "Tom Reed")
    sent = provider_side.tell_the_school(core, p["ann"], [amir_pid, bea_pid], "staff_change",
                                         "Aisha Begum leaves; Tom Reed teaches engineering from Monday.", today(), "Tom Reed", True)
    assert len(sent["notices"]) == 2

    with core.db.session(readonly=True) as s:
        orgs = {n.placement_id: s.get(Instance, n.instance_id).organisation_id for n in s.scalars(select(ArrangementNotice))}
        assert orgs == {amir_pid: next(iter(nest.organisation_ids)), bea_pid: next(iter(hill.organisation_ids))}
        tasks = list(s.scalars(select(HumanTask).where(HumanTask.name == RECHECK)))
        assert len(tasks) == 2 and all(t.due_at is not None and t.escalate_to == "headteacher" for t in tasks)
    [at_nest] = [t for t in instances.list_ready_tasks(core, nest) if t["name"] == RECHECK]
    [at_hill] = [t for t in instances.list_ready_tasks(core, hill) if t["name"] == RECHECK]
    assert at_nest["pupil_name"] == "Amir H." and at_hill["pupil_name"] == "Bea K."
    nest_told = " ".join(n.message for n in notifications.list_notifications(core, nest))
    hill_told = " ".join(n.message for n in notifications.list_notifications(core, hill))
    assert "Amir H." in nest_told and "Bea K." not in nest_told and "Bea K." in hill_told and "Amir H." not in hill_told
    with core.db.session(readonly=True) as s:
        mail = list(s.scalars(select(OutboxEmail).where(OutboxEmail.to_address.in_(["nest@example.org", "hill@example.org"]))))
    assert {m.to_address for m in mail} == {"nest@example.org", "hill@example.org"}
    assert not any(name in m.body + m.subject for m in mail for name in ("Amir", "Bea", "Tom Reed"))
    assert browser(app, "coord_nest").get(f"/api/v1/placements/{bea_pid}/provider-quality").status_code == 404
    assert "Tom Reed" in browser(app, "coord_nest").get(f"/tasks/{at_nest['id']}").get_data(as_text=True)

    # each school records its outcome on its own placement
    with pytest.raises(Invalid):  # a new adult's checks are seen before the school is satisfied
        instances.complete_task(core, nest, at_nest["id"], {"recheck_outcome": "satisfied", "risk_assessment_reviewed": True})
    instances.complete_task(core, nest, at_nest["id"], {"recheck_outcome": "satisfied", "safeguarding_checks_seen": True,
                                                        "risk_assessment_reviewed": True})
    instances.complete_task(core, hill, at_hill["id"], {"recheck_outcome": "suspend", "risk_assessment_reviewed": True,
                                                        "recheck_notes": "No DBS check seen for Tom Reed yet."})
    nest_view = provider_side.provider_quality(core, nest, amir_pid)["arrangement_notices"]
    assert [(n["outcome"], n["adult_name"]) for n in nest_view] == [("satisfied", "Tom Reed")]
    assert provider_side.provider_quality(core, hill, bea_pid)["arrangement_notices"][0]["outcome"] == "suspend"
    assert "Respond to the concern and review the placement" in life.names(bea)  # suspension goes to the DSL at once
    with core.db.session(readonly=True) as s:
        assert s.get(Placement, amir_pid).status == "active"
