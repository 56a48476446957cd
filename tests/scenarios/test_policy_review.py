"""The annual review of the AP policy (R113: every year, in February; R114: outcomes, quality of provision, value for
money, staff and stakeholder feedback, changes in guidance): started once a year for each school, staff asked for
feedback, the evidence gathered on one page, the outcome and the next date recorded by the headteacher."""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import ServiceError
from apflow.placements.models import Communication, PolicyReview
from apflow.services import governors, instances, policy_review, watches
from apflow.web import create_app
from tests.scenarios import outcomes_world as ow
from tests.scenarios.registers_world import OTHER_SCHOOL, SCHOOL, world_fixture  # noqa: F401
from tests.support import browser, post

OUTCOME = {"outcomes_for_pupils": "Attendance up to 81%; two pupils back in school.", "quality_of_provision": "Good at both providers.",
           "value_for_money": "27 hours a week bought; attendance and reintegration justify it.",
           "stakeholder_feedback": "Staff want earlier reviews; parents like the lesson reports.",
           "statutory_guidance_changes": "AP statutory guidance February 2025: none affecting us.",
           "policy_changes": "Reviews booked in the first week of each half-term.", "next_review_on": "2027-02-15"}


def on(day: date, hour: int = 7) -> None:
    clock.freeze(datetime(day.year, day.month, day.day, hour, 0, tzinfo=timezone.utc))


def reviews(core) -> list[PolicyReview]:
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(PolicyReview).order_by(PolicyReview.year, PolicyReview.id)))


def review_of(core, school: str, year: int) -> PolicyReview:
    org = ow.org_id(core, school)
    return next(r for r in reviews(core) if r.organisation_id == org and r.year == year)


def test_R113_the_review_starts_in_february_once_a_year_for_each_school(world):
    core = world.core
    on(date(2026, 1, 30))
    assert policy_review.start_policy_reviews(core) == 0
    on(date(2026, 2, 2))
    assert watches.run_all(core)["annual policy review"] == 3  # both schools and the LA
    assert policy_review.start_policy_reviews(core) == 0
    on(date(2026, 2, 27, ), hour=16)
    assert policy_review.start_policy_reviews(core) == 0
    ours = review_of(core, SCHOOL, 2026)
    [task] = instances.list_ready_tasks(core, world.people["head"], ours.instance_id)
    assert task["name"] == "Hold the annual policy review"
    assert instances.list_ready_tasks(core, world.people["othercoord"], ours.instance_id) == []
    with pytest.raises(ServiceError, match="once a year"):
        instances.start_instance(core, world.people["head"], "annual_policy_review", {})
    on(date(2026, 4, 1))
    assert policy_review.start_policy_reviews(core) == 0  # outside February and March: never
    on(date(2027, 3, 3))  # February 2027 was missed (the server was down): March catches up
    assert policy_review.start_policy_reviews(core) == 3
    assert policy_review.start_policy_reviews(core) == 0
    assert sorted((r.year, r.organisation_id) for r in reviews(core)) == sorted(
        (y, ow.org_id(core, name)) for y in (2026, 2027) for name in (SCHOOL, OTHER_SCHOOL, "Northshire County Council"))


def test_R114_feedback_and_evidence_are_gathered_and_the_headteacher_records_the_outcome(world):
    core, head = world.core, world.people["head"]
    pid = ow.placement(core, SCHOOL, "A-1", date(2025, 9, 8))
    ow.add(core, ow.mark(pid, date(2025, 10, 6), "present"), ow.mark(pid, date(2025, 10, 7), "absent"),
           Communication(placement_id=pid, kind="family_feedback", audience="school", at=datetime(2025, 11, 4, tzinfo=timezone.utc),
                         content={"feedback": "The lesson reports help us talk about his day.", "from": "Jo"}, recorded_by="parent1"))
    on(date(2025, 12, 22), hour=12)
    governors.save_report(core, head, "Autumn 2025", "Autumn: one pupil placed, attending half the sessions so far.")
    on(date(2026, 2, 2))
    policy_review.start_policy_reviews(core)
    ours = review_of(core, SCHOOL, 2026)
    asked = [n for n in world.notes("senco") if n.link == f"/policy-reviews/{ours.id}/feedback"]
    assert len(asked) == 1
    assert not [n for n in world.notes("othercoord") if n.link == f"/policy-reviews/{ours.id}/feedback"]

    app = create_app(core=core, run_scheduler=False)
    senco = browser(app, "senco")
    assert post(senco, f"/policy-reviews/{ours.id}/feedback", {"works_well": "", "to_change": "", "rating": "9"}).status_code == 422
    assert post(senco, f"/policy-reviews/{ours.id}/feedback", {"works_well": "Quick placements.", "to_change": "Earlier reviews.",
                                                               "rating": "4"}).status_code == 302
    assert post(senco, f"/policy-reviews/{ours.id}/feedback", {"works_well": "Quick placements.", "to_change": "Reviews in week one.",
                                                               "rating": "4"}).status_code == 302  # sent again: replaces
    for who in ("tutor", "parent1", "othercoord"):
        client = browser(app, who)
        assert client.get(f"/policy-reviews/{ours.id}").status_code == 404, who
        assert client.get(f"/policy-reviews/{ours.id}/feedback").status_code == 404, who
        assert post(client, f"/policy-reviews/{ours.id}/feedback", {"works_well": "x"}).status_code == 404, who
        assert client.get(f"/api/v1/policy-reviews/{ours.id}").status_code == 404, who

    evidence = policy_review.review_evidence(core, head, ours.id)
    assert [r["term"] for r in evidence["reports"]] == ["Autumn 2025"]
    assert [f["term"]["name"] for f in evidence["figures"]] == ["Autumn 2025"]
    assert evidence["value_for_money"]["attendance_percent"] == 50.0 and evidence["value_for_money"]["pupils"] == 1
    assert [(s["works_well"], s["to_change"], s["rating"]) for s in evidence["feedback"]["staff"]] == [("Quick placements.", "Reviews in week one.", 4)]
    assert [f["words"] for f in evidence["feedback"]["families"]] == ["The lesson reports help us talk about his day. · Jo"]
    page = browser(app, "head").get(f"/policy-reviews/{ours.id}").get_data(as_text=True)
    assert "Reviews in week one." in page and "The lesson reports help us" in page and "Autumn 2025" in page

    [task] = instances.list_ready_tasks(core, head, ours.instance_id)
    with pytest.raises(ServiceError) as early:
        instances.complete_task(core, head, task["id"], {**OUTCOME, "next_review_on": "2026-01-01"})
    assert "next_review_on" in early.value.details["fields"]
    instances.complete_task(core, head, task["id"], OUTCOME)
    done = review_of(core, SCHOOL, 2026)
    assert done.next_review_on == date(2027, 2, 15) and done.outcome["policy_changes"] == OUTCOME["policy_changes"]
    assert "Reviews booked in the first week" in browser(app, "head").get(f"/policy-reviews/{ours.id}").get_data(as_text=True)
    assert post(senco, f"/policy-reviews/{ours.id}/feedback", {"works_well": "Late words."}).status_code == 422  # closed
