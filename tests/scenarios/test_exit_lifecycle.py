"""Planned exit with the SLA's notice (R91), return to a setting with transition support and the destination
(R100, R101), a placement's whole history (R110) and trends across placements (R112)."""
from datetime import datetime, timezone

from apflow.services import placements as service
from apflow.services import registers, trends


def review_then(life, decision):
    iid = life.active_placement()
    life.to_running(iid)
    before = life.clock.now()
    life.clock.freeze(before.replace(hour=9, minute=45))  # the provider keeps the day's register (a record, not a task)
    registers.record_marks(life.core, life.people["provider"], [{"placement_id": life.placement_id(iid), "day": before.date().isoformat(),
                                                                 "starts": "09:30", "status": "present"}])
    life.clock.freeze(before)
    life.do("Invite everyone to the review", iid)
    life.do("Progress report for the review", iid)
    life.do("Hold the placement review", iid, review_decision=decision)
    return iid


def test_R91_a_planned_exit_gives_the_agreements_notice_and_records_lessons_learned(provider_ready):
    life = provider_ready
    iid = review_then(life, "end")
    life.do("Give notice to all parties", iid)
    pid = life.placement_id(iid)
    detail = service.get_placement(life.core, life.people["coordinator"], pid)
    assert detail["status"] == "ending" and detail["end_date"] == "2026-01-26"  # ten school days under the SLA
    life.do("Plan the next provision and continuity of learning", iid)
    assert life.names(iid) == []  # the notice period runs
    life.clock.freeze(datetime(2026, 1, 26, 15, 31, tzinfo=timezone.utc))
    life.fire()
    life.do("Record lessons learned", iid)
    [exit_] = service.get_placement(life.core, life.people["coordinator"], pid)["exits"]
    assert exit_["notice_period_school_days"] == 10 and set(exit_["content"]) >= {"next_provision", "continuity_of_learning",
                                                                                 "exit_transition_support", "went_well"}
    assert life.names(iid) == ["Agree the destination and transition plan"]


def test_R100_R101_transition_support_goes_on_until_the_pupil_attends_without_it(provider_ready):
    life = provider_ready
    iid = review_then(life, "return")
    life.do("Give notice to all parties", iid)
    life.do("Plan the next provision and continuity of learning", iid)
    life.clock.freeze(datetime(2026, 1, 26, 15, 31, tzinfo=timezone.utc))
    life.fire()
    life.do("Record lessons learned", iid)
    life.do("Agree the destination and transition plan", iid)
    assert life.names(iid) == []
    life.advance(days=7, minutes=1)
    life.do("Transition check", iid, attends_without_support=False)
    life.advance(days=7, minutes=1)
    result = life.do("Transition check", iid)
    assert result["instance"]["status"] == "completed"
    detail = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))
    assert detail["status"] == "closed"
    assert detail["destinations"] == [{"kind": "same_school", "setting": "The Nest School", "starts_on": "2026-01-26",
                                       "transition_support": True, "attends_unaided_on": "2026-02-09"}]


def test_R101_a_destination_without_transition_support_closes_the_placement(provider_ready):
    life = provider_ready
    iid = review_then(life, "end")
    life.do("Give notice to all parties", iid)
    life.do("Plan the next provision and continuity of learning", iid)
    life.clock.freeze(datetime(2026, 1, 26, 15, 31, tzinfo=timezone.utc))
    life.fire()
    life.do("Record lessons learned", iid)
    result = life.do("Agree the destination and transition plan", iid, destination="employment", setting_name="Hill Garage",
                     transition_support=False)
    assert result["instance"]["status"] == "completed"


def test_R110_a_placement_page_shows_its_whole_history_in_order(provider_ready):
    life = provider_ready
    iid = review_then(life, "continue")
    history = service.placement_history(life.core, life.people["coordinator"], life.placement_id(iid))
    kinds = [e["kind"] for e in history]
    assert kinds[0] == "referral"
    for kind in ["referral", "provider_choice", "plan", "risk_assessment", "transport", "consultation", "consent",
                 "headteacher_approval", "purchase_order", "allocation", "relational_learning_plan", "timetable_shared",
                 "kid_sent", "kid_signed", "placement_start", "commencement_review", "baseline", "register",
                 "review_invitation", "progress_report", "placement_review"]:
        assert kind in kinds, kind
    assert all(e["actor"] for e in history)
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
    assert service.placement_for_instance(life.core, life.people["coordinator"], iid)["id"] == life.placement_id(iid)
    assert [p["pupil"]["ref"] for p in service.pupil_placements(life.core, life.people["coordinator"], "P-0001")] == ["P-0001"]
    assert service.list_placements(life.core, life.people["coordinator"], search="jordan")[0]["status"] == "active"
    assert service.list_placements(life.core, life.people["coordinator"], search="nobody") == []


def test_R112_trends_across_placements(provider_ready):
    life = provider_ready
    review_then(life, "continue")
    second = life.active_placement(pupil_ref="P-0002", pupil_name="Mia K.")
    life.clock.freeze(datetime(2026, 1, 12, 10, 0, tzinfo=timezone.utc))
    ids = [p["id"] for p in service.list_placements(life.core, life.people["coordinator"])]
    registers.record_marks(life.core, life.people["provider"], [
        {"placement_id": ids[-1], "day": "2026-01-12", "starts": "09:30", "status": "present"},
        {"placement_id": life.placement_id(second), "day": "2026-01-12", "starts": "09:30", "status": "absent", "reason": "unknown"}])
    report = trends.figures(life.core, life.people["headteacher"])
    assert report["placements"] == 2
    assert [(r["sessions"], r["attended"], r["percent"]) for r in report["tables"]["attendance"]["rows"] if r["sessions"]] == [(2, 1, 50.0)]


def test_placements_are_hidden_from_people_with_no_part_in_them(provider_ready):
    life = provider_ready
    iid = life.active_placement()
    from tests.support import make_user
    stranger = make_user(life.core, "other_parent", "parent")
    assert service.list_placements(life.core, stranger) == []
    assert [p["id"] for p in service.list_placements(life.core, life.people["parent"])] == [life.placement_id(iid)]
