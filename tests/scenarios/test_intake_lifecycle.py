"""Referral and intake (R1-R11), driven through the services as the people in each role would."""
from datetime import datetime, timezone

import pytest

from apflow.errors import Invalid
from apflow.services import placements as service
from apflow.services import whereabouts


def test_R1_R2_referral_records_the_pupil_the_reasons_and_the_la_officer(life):
    iid = life.refer(reasons=["medical", "cic"], la_officer_role="statutory_send_officer")
    [placement] = service.list_placements(life.core, life.people["coordinator"])
    assert placement["pupil"] == {"id": placement["pupil"]["id"], "name": "Jordan T.", "ref": "P-0001", "school": "The Nest School"}
    assert placement["reasons"] == ["medical", "cic"] and placement["referred_by"] == "la"
    detail = service.get_placement(life.core, life.people["coordinator"], placement["id"])
    assert detail["la_officer"] == {"name": "Graham Hughes", "role": "statutory_send_officer"}
    assert [t["pupil_name"] for t in life.tasks(iid)] == ["Jordan T."]  # inbox rows carry the pupil


def test_R3_no_tutor_is_engaged_until_a_purchase_order_is_issued(provider_ready):
    life = provider_ready
    iid = life.refer()
    life.plan(iid)
    life.do("Approve the placement", iid)
    assert life.names(iid) == ["Issue the purchase order"]
    assert life.task("Issue the purchase order", iid)["assignee"] == "la1"  # the named LA officer (R2)
    life.do("Issue the purchase order", iid, po_decision="declined")
    assert life.names(iid) == ["Resolve funding with the commissioner"]  # no tutor task
    life.do("Resolve funding with the commissioner", iid, funding_next="ask_again")
    life.do("Issue the purchase order", iid)
    assert life.names(iid) == ["Allocate tutors and timetable the sessions"]
    [order] = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["purchase_orders"]
    assert (order["hours_per_week"], order["value"]) == (15, 4860.0)  # what it commits, for cost per placement (R112)


def test_R3_a_declined_purchase_order_can_end_the_referral(provider_ready):
    life = provider_ready
    iid = life.refer()
    life.plan(iid)
    life.do("Approve the placement", iid)
    life.do("Issue the purchase order", iid, po_decision="declined")
    result = life.do("Resolve funding with the commissioner", iid)
    assert result["instance"]["status"] == "completed"
    assert service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["status"] == "not_placed"


def test_R4_R6_R62_sessions_are_timetabled_with_where_each_takes_place(provider_ready):
    life = provider_ready
    iid = life.active_placement()
    pid = life.placement_id(iid)
    detail = service.get_placement(life.core, life.people["coordinator"], pid)
    assert detail["tutor"] == "Aisha Begum" and len(detail["timetable"]) == 5
    life.clock.freeze(datetime(2026, 1, 12, 11, 0, tzinfo=timezone.utc))
    where = whereabouts.one_pupil(life.core, life.people["coordinator"], "P-0001")
    assert (where["state"], where["provider"], where["tutor"]) == ("in_session", "Bridges Learning", "Aisha Begum")
    assert where["session"] == {"day": "2026-01-12", "starts": "09:30", "ends": "14:30", "activity": "Engineering",
                                "address": "Hill Farm, Northtown NT9 9ZZ"}
    life.clock.freeze(datetime(2026, 1, 12, 16, 0, tzinfo=timezone.utc))
    assert whereabouts.one_pupil(life.core, life.people["coordinator"], "P-0001")["state"] == "after_sessions"
    kinds = [c["kind"] for c in detail["communications"]]
    assert "timetable_shared" in kinds


def test_R6_sessions_are_timetabled_only_where_the_carers_agreed(provider_ready):
    life = provider_ready
    iid = life.refer()
    life.plan(iid)
    life.do("Approve the placement", iid)
    life.do("Issue the purchase order", iid)
    with pytest.raises(Invalid, match="where the sessions take place"):
        life.do("Allocate tutors and timetable the sessions", iid, venue_agreed_with_carers=False)


def test_R7_R8_portal_access_and_the_signed_key_information_document_are_recorded(provider_ready):
    life = provider_ready
    iid = life.active_placement()
    detail = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))
    portal = next(c for c in detail["communications"] if c["kind"] == "portal_access")
    assert portal["audience"] == "carers, la, school"
    [kid] = detail["key_information_documents"]
    assert kid["signed_by"] == "Graham Hughes, EIO" and kid["signed_on"] == "2026-01-12"


def test_R8_an_unsigned_key_information_document_is_chased_after_five_school_days(provider_ready):
    life = provider_ready
    iid = life.refer()
    life.plan(iid)
    life.do("Approve the placement", iid)
    for name in ["Issue the purchase order", "Allocate tutors and timetable the sessions", "Write the Relational Learning Plan",
                 "Share the timetable and portal access", "Send the Key Information Document"]:
        life.do(name, iid)
    life.advance(days=7, hours=8)  # Monday 09:00 -> the next Monday evening: five school days have ended
    assert "Chase the signed Key Information Document" in life.names(iid)
    assert "Sign and return the Key Information Document" in life.names(iid)  # still waiting for the signature


def test_R9_R10_commencement_targets_then_a_passport_reviewed_every_six_weeks(provider_ready):
    life = provider_ready
    iid = life.active_placement(learning_mentor=True)
    life.do("Commencement review: agree targets", iid)
    assert "Complete the Pupil Passport and Education Plan" in life.names(iid)
    life.do("Complete the Pupil Passport and Education Plan", iid)
    life.do("Baseline assessment once settled", iid)
    assert "Review the Pupil Passport and Education Plan" not in life.names(iid)
    life.advance(days=41)
    assert "Review the Pupil Passport and Education Plan" not in life.names(iid)
    life.advance(days=2)  # 42 days on is Monday 23 Feb, the first school day after half-term
    life.do("Review the Pupil Passport and Education Plan", iid)
    detail = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))
    assert [r["kind"] for r in detail["reviews"]] == ["commencement", "passport"]
    assert detail["reviews"][0]["content"]["targets"] == ["Attend every session", "Complete the engine unit"]
    assert [p["kind"] for p in detail["plans"]] == ["personalised", "relational_learning", "pupil_passport"]


def test_R10_without_a_learning_mentor_there_is_no_passport(provider_ready):
    life = provider_ready
    iid = life.active_placement(learning_mentor=False)
    life.to_running(iid)
    life.advance(days=50)
    assert not [n for n in life.names(iid) if "Passport" in n]


def test_R11_register_of_pupils_with_review_dates_and_altered_provision(provider_ready):
    life = provider_ready
    iid = life.active_placement()
    life.to_running(iid)
    life.do("Invite everyone to the review", iid)
    life.do("Progress report for the review", iid)
    life.do("Hold the placement review", iid, review_decision="change_plan", review_ehcp_support=True)
    life.do("Update the personalised plan", iid, attainment_objectives="Grade 4 in English; grade 3 in maths.")
    [row] = service.pupil_register(life.core, life.people["coordinator"])
    assert row["pupil"]["ref"] == "P-0001" and row["last_review_on"] == "2026-01-12"
    detail = service.get_placement(life.core, life.people["coordinator"], row["id"])
    assert [p["version"] for p in detail["plans"] if p["kind"] == "personalised"] == [1, 2]
    assert next(r for r in detail["reviews"] if r["kind"] == "half-termly")["content"]["review_ehcp_support"] is True


def test_R54_a_college_link_course_the_school_arranges_needs_no_LA_purchase_order(provider_ready):
    life = provider_ready
    iid = life.refer(placement_type="college_link", purpose="Two days a week at Northtown College on a construction course.")
    life.plan(iid)
    life.do("Approve the placement", iid)
    assert life.names(iid) == ["Allocate tutors and timetable the sessions"]  # no LA officer task
    life.do("Allocate tutors and timetable the sessions", iid)
    life.do("Write the Relational Learning Plan", iid)
    for name in ("Share the timetable and portal access", "Send the Key Information Document", "Sign and return the Key Information Document"):
        life.do(name, iid)
    life.start(iid)
    detail = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))
    assert detail["status"] == "active" and detail["purchase_orders"] == []
    assert detail["placement_type"] == "college_link" and detail["purpose"].startswith("Two days a week")


def test_R54_a_relational_learning_plan_only_where_the_provider_requires_one(life):
    life.approve_provider("Sunrise Farm", rlp_policy="not_required")
    iid = life.refer()
    life.plan(iid, provider="Sunrise Farm")
    life.do("Approve the placement", iid)
    life.do("Issue the purchase order", iid)
    life.do("Allocate tutors and timetable the sessions", iid)
    assert life.names(iid) == ["Share the timetable and portal access"]  # no RLP for this provider
    for name in ("Share the timetable and portal access", "Send the Key Information Document", "Sign and return the Key Information Document"):
        life.do(name, iid)
    life.start(iid)
    assert service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["status"] == "active"


def test_R54_R11_a_pupil_already_on_record_is_matched_by_name_and_date_of_birth(provider_ready):
    life = provider_ready
    first = life.refer(pupil_ref="SCH-0042", pupil_name="Jordan T.", date_of_birth="2011-05-04")
    second = life.refer(pupil_ref="UPN-A123", pupil_name="jordan t.", date_of_birth="2011-05-04")
    other = life.refer(pupil_ref="P-0099", pupil_name="Jordan T.", date_of_birth="2012-01-01")  # same name, another child
    pupils = {p["instance_id"]: p["pupil"] for p in service.list_placements(life.core, life.people["coordinator"])}
    assert pupils[first]["id"] == pupils[second]["id"] and pupils[second]["ref"] == "SCH-0042"
    assert pupils[other]["id"] != pupils[first]["id"]
