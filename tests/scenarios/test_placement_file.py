"""The placement file (R110): everything recorded on a placement, in order, in the words its forms use, each person
reading only what they may read anywhere else (R81), and what the placement waits for and until when."""
from apflow.services import placement_file, safeguarding
from tests.support import browser, make_user


def _entry(file, name):
    return next(e for e in file["entries"] if e["name"] == name)


def _answers(entry):
    return {a["title"]: a["text"] for a in entry["answers"]}


def test_R110_the_coordinator_reads_every_completed_task_in_order_as_the_forms_label_it(running):
    life, iid, _ = running
    file = placement_file.placement_file(life.core, life.people["coordinator"], iid)
    names = [e["name"] for e in file["entries"]]
    assert names.index("Record the referral") < names.index("Choose the provider") < names.index("Give written consent")
    referral = _answers(_entry(file, "Record the referral"))
    assert referral["Pupil's name"] == "Jordan T."
    assert referral["Reasons for referral"] == ["Below attendance threshold", "SEND"]  # the labels, not the codes
    assert referral["Referred by"] == "The local authority"
    assert referral["A learning mentor will support the pupil"] == "No"
    consent = _entry(file, "Give written consent")
    assert consent["completed_by"] and consent["completed_by"] != "the school"
    assert all(a["title"] != "parent_username" for e in file["entries"] for a in e["answers"])


def test_R110_R81_a_parent_reads_their_own_answers_and_what_is_shared_with_families(running):
    life, iid, _ = running
    file = placement_file.placement_file(life.core, life.people["parent"], iid)
    texts = str(file)
    assert "Attendance 42% this term" not in texts and "Anxiety in large groups" not in texts  # referral detail, risks
    consent = _entry(file, "Give written consent")
    assert _answers(consent)["Do you consent to the placement?"] == "Yes, I consent"
    plan = _entry(file, "Draw up the personalised plan")
    assert plan["completed_by"] == "the school" and "Attend 90% of sessions." in str(plan["answers"])
    assert file["waiting"]["timers"] == []  # the school's own deadlines are not the family's


def test_R110_R81_the_provider_reads_what_is_shared_with_it_and_never_the_familys_consent(running):
    life, iid, _ = running
    file = placement_file.placement_file(life.core, life.people["provider"], iid)
    assert "Attendance 42% this term" in str(file)  # the referral's details are shared with the provider
    assert all(e["name"] != "Give written consent" for e in file["entries"])


def test_R110_R81_child_protection_answers_stay_out_of_the_file_even_for_the_school(running):
    life, iid, pid = running
    safeguarding.raise_concern(life.core, life.people["provider"], pid, "Withdrawn today.", "MARKER-detail", True)
    life.do("Respond to the concern and review the placement", iid, user=life.people["dsl"], assessment="MARKER-assessment")
    for who in ("coordinator", "dsl", "parent", "provider"):
        assert "MARKER" not in str(placement_file.placement_file(life.core, life.people[who], iid))
    dsl_file = placement_file.placement_file(life.core, life.people["dsl"], iid)
    assert _entry(dsl_file, "Respond to the concern and review the placement")["child_protection"]


def test_R110_the_page_says_what_the_placement_waits_for_and_shows_the_answers(app, core, running):
    life, iid, _ = running
    make_user(core, "parent2", "parent")
    page = browser(app, "coord").get(f"/placements/{iid}").get_data(as_text=True)
    assert "The placement file" in page and "Below attendance threshold" in page and "Pupil&#39;s name" in page
    assert "What it is waiting for" in page
    assert "Attendance 42% this term" not in browser(app, "parent1").get(f"/placements/{iid}").get_data(as_text=True)
    api = browser(app, "coord").get(f"/api/v1/instances/{iid}/file")
    assert api.status_code == 200 and api.get_json()["entries"][0]["name"] == "Record the referral"
    assert browser(app, "parent2").get(f"/api/v1/instances/{iid}/file").status_code == 404


def test_R110_the_headteacher_decides_on_the_case_the_plan_risk_assessment_and_consent_on_the_task_page(app, provider_ready):
    life = provider_ready
    iid = life.refer()
    life.plan(iid)
    approval = next(t for t in life.tasks(iid) if t["role"] == "headteacher")
    page = browser(app, "head").get(f"/tasks/{approval['id']}").get_data(as_text=True)
    assert "What has been recorded so far" in page
    for shown in ("Attend 90% of sessions.", "Anxiety in large groups.", "Yes, I consent"):  # plan, risks, consent
        assert shown in page
    assert "placement_planning" not in page and "#" + str(iid) + " ·" not in page
