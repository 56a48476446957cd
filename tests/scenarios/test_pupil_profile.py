"""The pupil's page (R11, R13, R81): the pupil's details and year group, every placement past and present with its
consent and destination, attendance, the professionals involved and what they were told, and a child-protection flag
that only the pupil's DSLs ever learn of."""
from datetime import datetime, timezone

from apflow.services import pupils, registers
from apflow.services import safeguarding as concerns
from tests.support import browser, post

REF = "P-0001"


def _finish_with_destination(life, iid):
    """A placement that ends under notice with its destination recorded (as tests/scenarios/test_exit_lifecycle.py)."""
    life.to_running(iid)
    life.do("Invite everyone to the review", iid)
    life.do("Progress report for the review", iid)
    life.do("Hold the placement review", iid, review_decision="end")
    life.do("Give notice to all parties", iid)
    life.do("Plan the next provision and continuity of learning", iid)
    life.clock.freeze(datetime(2026, 1, 26, 15, 31, tzinfo=timezone.utc))
    life.fire()
    life.do("Record lessons learned", iid)
    life.do("Agree the destination and transition plan", iid, destination="employment", setting_name="Hill Garage", transition_support=False)


def test_R11_the_pupils_page_shows_their_details_year_group_and_every_placement_past_and_present(app, core, provider_ready):
    life = provider_ready
    first = life.active_placement()
    _finish_with_destination(life, first)
    second = life.refer(reasons=["cic"], ehcp=True)  # referred again, now as a child in care with an EHC plan
    coordinator = life.people["coordinator"]

    found = pupils.profile(core, coordinator, REF)
    assert found["pupil"] == {"ref": REF, "name": "Jordan T.", "date_of_birth": "2011-05-04", "year_group": 10, "year_group_words": "Year 10",
                              "school": "The Nest School", "ehcp": True, "child_in_care": True}
    ended, referred = found["placements"]
    assert (ended["instance_id"], ended["provider"], ended["status"], ended["start_date"], ended["end_date"]) == (
        first, "Bridges Learning", "closed", "2026-01-12", "2026-01-26")
    assert ended["written_consent"] and ended["opens"]
    assert ended["destination"] == {"kind": "employment", "words": "Employment", "setting": "Hill Garage", "starts_on": "2026-01-26"}
    assert (referred["instance_id"], referred["provider"], referred["status_words"], referred["written_consent"], referred["destination"]) == (
        second, None, "Referred", False, None)
    assert referred["stage"] == ["Choose the provider"]

    page = browser(app, "coord").get(f"/pupils/{REF}").get_data(as_text=True)
    for shown in ("2011-05-04", "Year 10", "The Nest School", "Has an EHC plan", "Child in care", "Employment: Hill Garage",
                  f"/placements/{first}", f"/placements/{second}", "Choose the provider"):
        assert shown in page, shown


def test_R11_the_provider_reads_what_the_referral_shares_with_it_and_the_family_no_more_than_their_own(app, core, running):
    life, iid, _ = running
    provider = pupils.profile(core, life.people["provider"], REF)
    assert provider["pupil"]["year_group_words"] == "Year 10" and provider["pupil"]["school"] == "The Nest School"
    assert [p["instance_id"] for p in provider["placements"]] == [iid]
    assert not {"family", "professionals", "child_protection"} & set(provider)
    parent = pupils.profile(core, life.people["parent"], REF)
    assert "date_of_birth" not in parent["pupil"] and "ehcp" not in parent["pupil"]  # the referral shares neither with families
    assert not {"family", "professionals", "child_protection", "attendance"} & set(parent)


def test_R13_the_coordinator_records_a_social_worker_and_what_they_were_told(app, core, running):
    life, *_ = running
    coord = browser(app, "coord")
    refused = post(coord, f"/pupils/{REF}/professionals", {"role": "wizard", "name": "Dana Reid", "organisation": "Northshire Children's Services",
                                                          "email": "not-an-address", "phone": ""})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Choose their role." in page and "Give an e-mail address like" in page
    assert 'value="Northshire Children&#39;s Services"' in page and 'value="Dana Reid"' in page  # what was typed is kept
    assert pupils.list_professionals(core, life.people["coordinator"], REF)["professionals"] == []

    added = post(coord, f"/pupils/{REF}/professionals", {"role": "social_worker", "name": "Dana Reid", "organisation": "Northshire Children's Services",
                                                        "email": "Dana.Reid@northshire.example", "phone": "01632 960001"})
    assert added.status_code == 302
    [worker] = pupils.list_professionals(core, life.people["coordinator"], REF)["professionals"]
    assert (worker["role_label"], worker["email"], worker["added_by"], worker["updates"]) == ("Social worker", "dana.reid@northshire.example", "coord", [])

    late = post(coord, f"/pupils/{REF}/professionals/{worker['id']}/updates", {"told_on": "2026-01-13", "summary": "Told about the start."})
    assert late.status_code == 422 and "not in the future" in late.get_data(as_text=True)
    assert "Told about the start." in late.get_data(as_text=True)
    told = post(coord, f"/pupils/{REF}/professionals/{worker['id']}/updates",
                {"told_on": "2026-01-12", "summary": "Told that the placement at Bridges Learning started today, five days a week."})
    assert told.status_code == 302

    page = coord.get(f"/pupils/{REF}").get_data(as_text=True)
    assert "Professionals involved" in page and "Dana Reid" in page and "Social worker" in page
    assert "Told that the placement at Bridges Learning started today" in page and "2026-01-12" in page
    api = coord.get(f"/api/v1/pupils/{REF}").get_json()
    [shown] = api["professionals"]
    assert [(u["told_on"], u["recorded_by"]) for u in shown["updates"]] == [("2026-01-12", "coord")] and api["can_edit_professionals"]


def test_R13_the_pupils_school_keeps_the_professionals_through_the_api(app, core, running):
    head = browser(app, "head")
    csrf = {"X-CSRF-Token": head.csrf}
    bad = head.post(f"/api/v1/pupils/{REF}/professionals", json={"role": "camhs", "name": "R"}, headers=csrf)
    assert bad.status_code == 422 and set(bad.get_json()["error"]["details"]["fields"]) == {"name", "phone"}
    made = head.post(f"/api/v1/pupils/{REF}/professionals", json={"role": "virtual_school_head", "name": "Sam Okafor", "phone": "01632 960002"},
                     headers=csrf)
    assert made.status_code == 201
    vsh = made.get_json()["id"]
    told = head.post(f"/api/v1/pupils/{REF}/professionals/{vsh}/updates", json={"told_on": "2026-01-12", "summary": "Sent the personalised plan."},
                     headers=csrf)
    assert told.status_code == 201 and told.get_json()["recorded_by"] == "head"
    for who in ("senco", "dsl", "boss"):  # every role of the pupil's school that works with them reads the list
        listed = browser(app, who).get(f"/api/v1/pupils/{REF}/professionals")
        assert listed.status_code == 200, who
        assert [(p["name"], p["updates"][0]["summary"]) for p in listed.get_json()["professionals"]] == [("Sam Okafor", "Sent the personalised plan.")]
    assert head.delete(f"/api/v1/pupils/{REF}/professionals/{vsh}", headers=csrf).status_code == 204
    assert head.get(f"/api/v1/pupils/{REF}/professionals").get_json()["professionals"] == []
    assert head.delete(f"/api/v1/pupils/{REF}/professionals/{vsh}", headers=csrf).status_code == 404  # already gone


def test_R13_providers_the_la_and_the_family_never_see_the_professionals(app, core, running):
    life, *_ = running
    worker = pupils.add_professional(core, life.people["coordinator"], REF, "social_worker", "Dana Reid", email="dana@northshire.example")
    pupils.record_update(core, life.people["coordinator"], REF, worker["id"], "2026-01-12", "Told that the placement started.")
    for who in ("tutor", "la1", "parent1", "pupil1"):
        client = browser(app, who)
        page = client.get(f"/pupils/{REF}")
        assert page.status_code in (200, 404), who
        assert "Dana Reid" not in page.get_data(as_text=True) and "Professionals involved" not in page.get_data(as_text=True), who
        profile = client.get(f"/api/v1/pupils/{REF}")
        assert profile.status_code == 404 or "professionals" not in profile.get_json(), who
        assert client.get(f"/api/v1/pupils/{REF}/professionals").status_code == 404, who
        headers = {"X-CSRF-Token": client.csrf}
        assert client.post(f"/api/v1/pupils/{REF}/professionals", json={"role": "camhs", "name": "X Y", "phone": "1"}, headers=headers).status_code == 404
        assert client.post(f"/api/v1/pupils/{REF}/professionals/{worker['id']}/updates", json={"told_on": "2026-01-12", "summary": "Something."},
                           headers=headers).status_code == 404
        assert client.delete(f"/api/v1/pupils/{REF}/professionals/{worker['id']}", headers=headers).status_code == 404
        assert post(client, f"/pupils/{REF}/professionals/{worker['id']}/remove").status_code == 404
    assert [p["name"] for p in pupils.list_professionals(core, life.people["coordinator"], REF)["professionals"]] == ["Dana Reid"]


def test_R81_only_the_dsl_learns_that_the_pupil_has_a_child_protection_file(app, core, running):
    life, _, pid = running
    before = {who: set(browser(app, who).get(f"/api/v1/pupils/{REF}").get_json()) for who in ("coord", "tutor")}
    concerns.raise_concern(core, life.people["provider"], pid, "Worried about the pupil's welfare today.",
                           detail="Bruises on his arm.", child_protection=True)
    dsl = browser(app, "dsl")
    assert dsl.get(f"/api/v1/pupils/{REF}").get_json()["child_protection"] == {"concerns": 1, "open_concerns": 1}
    assert 'id="child-protection"' in dsl.get(f"/pupils/{REF}").get_data(as_text=True)
    for who in ("coord", "tutor"):
        client = browser(app, who)
        assert set(client.get(f"/api/v1/pupils/{REF}").get_json()) == before[who], who  # not even an empty flag
        page = client.get(f"/pupils/{REF}").get_data(as_text=True)
        assert "child-protection" not in page.lower() and "child protection" not in page.lower(), who


def test_R11_R71_the_attendance_summary_counts_the_recorded_registers(app, core, running):
    life, iid, _ = running
    pid = life.placement_id(iid)
    marks = [("2026-01-12", "present", ""), ("2026-01-13", "late", ""), ("2026-01-14", "absent", "unknown"), ("2026-01-15", "absent", "ill")]
    for day, status, reason in marks:
        life.clock.freeze(datetime.fromisoformat(f"{day}T10:01:00+00:00"))
        registers.record_marks(core, life.people["provider"], [{"placement_id": pid, "day": day, "starts": "09:30", "status": status,
                                                                "minutes_late": 5, "reason": reason}])
        if status == "absent":
            life.do("Follow up the absence", iid)
    summary = pupils.profile(core, life.people["coordinator"], REF)["attendance"]
    counts = {"sessions": 4, "present": 1, "late": 1, "absent": 2, "unexplained": 1, "percent": 50.0}
    assert summary == {"overall": counts, "this_term": {**counts, "term": "Spring 2026", "from": "2026-01-05", "to": "2026-03-27"}}
    page = browser(app, "coord").get(f"/pupils/{REF}").get_data(as_text=True)
    assert "Attendance" in page and "50.0%" in page and "(1 unexplained)" in page
    assert pupils.profile(core, life.people["provider"], REF)["attendance"]["overall"] == counts  # the provider keeps the register
    life.clock.freeze(datetime(2026, 4, 14, 9, 0, tzinfo=timezone.utc))  # the summer term: nothing registered in it yet
    later = pupils.profile(core, life.people["coordinator"], REF)["attendance"]
    assert later["overall"] == counts and later["this_term"]["sessions"] == 0 and later["this_term"]["percent"] is None


def test_R11_a_new_referral_from_the_pupils_page_starts_with_their_details_on_record(app, core, provider_ready):
    import re

    life = provider_ready
    life.refer()
    coordinator = browser(app, "coord")
    page = coordinator.get(f"/pupils/{REF}").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    started = post(coordinator, "/start/placement", {"nonce": nonce, "pupil": REF})
    task = coordinator.get(started.headers["Location"]).get_data(as_text=True)
    assert "Record the referral" in task and 'value="Jordan T."' in task and 'value="2011-05-04"' in task
    assert 'value="The Nest School"' in task
    assert "New referral for this pupil" not in browser(app, "tutor").get(f"/pupils/{REF}").get_data(as_text=True)
    before = len(life.tasks())
    refused = post(coordinator, "/start/placement", {"nonce": "another", "pupil": "NOBODY-1"})
    assert refused.status_code == 302 and len(life.tasks()) == before  # no one to refer: nothing started
    assert "There is no pupil NOBODY-1" in coordinator.get(refused.headers["Location"]).get_data(as_text=True)
