"""While the placement runs: baseline, half-termly and requested reviews, termly
assessment, risk-assessment review, parent updates and feedback, early intervention (R70-R78, R90)."""
from datetime import datetime, timezone

import pytest

from apflow.errors import Invalid
from apflow.services import notifications
from apflow.services import placements as service

REGISTER = "Termly assessment against the plan"  # monitoring runs (registers: tests/scenarios/test_registers.py)


def running(life, **referral):
    iid = life.active_placement(**referral)
    life.to_running(iid)
    return iid


def test_R70_the_baseline_waits_until_the_pupil_is_settled(provider_ready):
    life = provider_ready
    iid = life.active_placement()
    life.do("Commencement review: agree targets", iid)
    with pytest.raises(Invalid, match="once the pupil feels settled"):
        life.do("Baseline assessment once settled", iid, settled_and_safe=False)
    life.do("Baseline assessment once settled", iid)
    [baseline] = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["assessments"]
    assert baseline["kind"] == "baseline" and baseline["content"]["previous_attendance_percent"] == 42


def test_R73_R74_R75_R78_a_review_is_held_every_half_term_with_its_date_and_outcome(provider_ready):
    life = provider_ready
    iid = running(life)
    life.do("Invite everyone to the review", iid)
    life.do("Progress report for the review", iid)  # R75: progress at least half-termly
    hold = life.task("Hold the placement review", iid)
    assert hold["due_at"] == "2026-02-13T15:30:00+00:00"  # the end of the first spring half-term window
    life.do("Hold the placement review", iid)
    assert "Invite everyone to the review" not in life.names(iid)
    life.clock.freeze(datetime(2026, 2, 13, 15, 31, tzinfo=timezone.utc))
    life.fire()
    life.do("Invite everyone to the review", iid)
    life.do("Progress report for the review", iid)
    assert life.task("Hold the placement review", iid)["due_at"] == "2026-03-27T15:30:00+00:00"
    life.clock.freeze(datetime(2026, 3, 27, 15, 31, tzinfo=timezone.utc))
    life.fire()
    assert life.task("Review not held in time", iid)["role"] == "manager"
    reviews = [r for r in service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["reviews"]
               if r["kind"] == "half-termly"]
    assert [(r["held_on"], r["outcome"]) for r in reviews] == [("2026-01-12", "continue")]
    assert reviews[0]["content"]["attending_regularly"] and reviews[0]["content"]["safe"] and reviews[0]["content"]["meeting_needs"]


def test_R73_a_parent_can_ask_for_a_review_and_the_plan_changes(provider_ready):
    life = provider_ready
    iid = running(life)
    pid = life.placement_id(iid)
    for name in ["Invite everyone to the review", "Progress report for the review", "Hold the placement review"]:
        life.do(name, iid)  # this half-term's review is done
    assert service.request_review(life.core, life.people["parent"], pid, "His needs have changed since Christmas.")["caught"]
    life.do("Invite everyone to the review", iid, meeting_on="2026-01-14", invited=["parents"])
    life.do("Progress report for the review", iid)
    hold = life.task("Hold the placement review", iid)
    assert hold["due_at"] == "2026-01-19T15:30:00+00:00"  # five school days
    life.do("Hold the placement review", iid, review_decision="change_plan")
    life.do("Update the personalised plan", iid)
    detail = service.get_placement(life.core, life.people["coordinator"], pid)
    assert [r["kind"] for r in detail["reviews"]][-1] == "requested"
    assert len([p for p in detail["plans"] if p["kind"] == "personalised"]) == 2


def test_R75_R76_R77_termly_assessment_risk_review_parent_update_and_feedback(provider_ready):
    life = provider_ready
    iid = running(life)
    assessment = life.task("Termly assessment against the plan", iid)
    assert assessment["role"] == "senco" and assessment["due_at"] == "2026-03-27T15:30:00+00:00"
    life.do("Termly assessment against the plan", iid, ehcp_application_supported=True)
    life.do("Review the risk assessments", iid)
    life.do("Send the termly progress update", iid)
    assert life.task("Your feedback on the placement", iid)["assignee"] == "parent1"
    assert life.task("Your views on your placement", iid)["assignee"] == "pupil1"
    life.do("Your feedback on the placement", iid)
    life.do("Your views on your placement", iid, feel_safe="no")  # the DSL hears at once
    assert [n.kind for n in notifications.list_notifications(life.core, life.people["dsl"])] == ["pupil_feels_unsafe"]
    detail = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))
    assert {c["kind"] for c in detail["communications"]} >= {"progress_update", "parent_feedback", "pupil_feedback"}
    assert [r["reason"] for r in detail["risk_assessments"]] == ["initial", "termly"]
    life.clock.freeze(datetime(2026, 3, 27, 15, 31, tzinfo=timezone.utc))
    life.fire()
    assert life.task("Termly assessment against the plan", iid)["due_at"] == "2026-07-22T14:30:00+00:00"


def test_R77_parents_are_invited_to_reviews(provider_ready):
    life = provider_ready
    iid = running(life)
    life.do("Invite everyone to the review", iid, invited=["parents", "pupil", "provider", "la"])
    [invitation] = [c for c in service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["communications"]
                    if c["kind"] == "review_invitation"]
    assert invitation["audience"] == "parents, pupil, provider, la"


def test_R90_R91_early_intervention_that_does_not_work_ends_the_placement_with_notice(provider_ready):
    life = provider_ready
    iid = running(life)
    life.do("Invite everyone to the review", iid)
    life.do("Progress report for the review", iid)
    life.do("Hold the placement review", iid, review_decision="early_intervention")
    life.do("Early intervention meeting", iid, check_in_weeks=3)
    check = life.task("Check progress after the intervention", iid)
    assert check["due_at"] == "2026-02-02T09:00:00+00:00"  # three weeks on, a school day
    life.do("Check progress after the intervention", iid, improved=False)
    assert life.names(iid) == ["Give notice to all parties"]  # every monitoring task of the placement has stopped
    kinds = [r["kind"] for r in service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["reviews"]]
    assert kinds[-2:] == ["early_intervention", "intervention_check"]


def test_R90_an_intervention_that_works_keeps_the_placement_going(provider_ready):
    life = provider_ready
    iid = running(life)
    life.do("Invite everyone to the review", iid)
    life.do("Progress report for the review", iid)
    life.do("Hold the placement review", iid, review_decision="early_intervention")
    life.do("Early intervention meeting", iid)
    life.do("Check progress after the intervention", iid, improved=True)
    assert REGISTER in life.names(iid) and "Give notice to all parties" not in life.names(iid)
