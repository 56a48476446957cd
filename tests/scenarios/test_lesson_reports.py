"""Lesson reports per session (R72, R7): the provider's tutor writes one for each timetabled session on a phone, the
school reads it with the comment meant for it, the family reads it without; nobody else learns it exists; repeated
low engagement opens one review per episode and tells the school's coordinator."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from apflow.errors import Invalid, NotFound
from apflow.placements import lessons as rules
from apflow.placements.models import EngagementReview, LessonReport, LogEntry
from apflow.services import lessons
from apflow.store.models import Notification, OutboxEmail
from tests.scenarios.lessons_world import LESSON, build, next_school_day
from tests.support import browser, post

GOOD = {"participation": 4, "behaviour": 5, "relationships": 4, "progress": 3, "wellbeing": 4}
LOW = {"participation": 2, "behaviour": 2, "relationships": 1, "progress": 2, "wellbeing": 2}
SECRET = "Arrived hungry again; mentioned money worries at home."
REVIEW_TASK = "Invite everyone to the review"


@pytest.fixture
def world(core, terms, lifecycle_deployed, frozen_clock):
    return build(core, frozen_clock)


def _today(frozen_clock) -> str:
    from apflow.placements.common import today

    return today().isoformat()


def test_R72_R7_the_tutor_writes_a_report_the_school_reads_it_and_the_parent_reads_it_without_the_school_only_comment(app, core, world):
    life, people, iid, pid = world
    tutor = browser(app, "tutor")
    page = tutor.get("/lessons").get_data(as_text=True)
    assert "Jordan T." in page and "Write the report" in page
    form = tutor.get(f"/lessons/report/{pid}/2026-01-12/{LESSON}")
    assert form.status_code == 200 and 'name="viewport"' in form.get_data(as_text=True)
    assert "Took part with encouragement" in form.get_data(as_text=True)  # every score in plain words
    sent = post(tutor, f"/lessons/report/{pid}/2026-01-12/{LESSON}", {"covered": "Fractions with engine parts.", "school_comment": SECRET,
                                                                      **{k: str(v) for k, v in GOOD.items()}})
    assert sent.status_code == 302
    day = lessons.tutor_sessions(core, people["tutor"])
    assert day["today"][0]["report"]["covered"] == "Fractions with engine parts." and day["missing"] == []

    # the school reads it, with the comment for the school, on the placement's lessons page and through the API
    coord = browser(app, "coord")
    school_page = coord.get(f"/placements/{iid}/lessons").get_data(as_text=True)
    assert "Fractions with engine parts." in school_page and SECRET in school_page and "By Tutor" in school_page
    assert "Lessons: reports, plans and materials" in coord.get(f"/placements/{iid}").get_data(as_text=True)
    api = coord.get(f"/api/v1/placements/{pid}/lesson-reports").get_json()
    [report] = api["reports"]
    assert report["school_comment"] == SECRET and report["engagement"] == GOOD and report["labels"]["behaviour"] == "Excellent"

    # the family reads what was covered and how it went, never the comment for the school
    parent = browser(app, "parent1")
    family = parent.get(f"/api/v1/placements/{pid}/lesson-reports")
    assert family.status_code == 200 and SECRET not in family.get_data(as_text=True)
    assert family.get_json()["reports"][0]["covered"] == "Fractions with engine parts."
    family_page = parent.get(f"/placements/{iid}/lessons").get_data(as_text=True)
    assert "Fractions with engine parts." in family_page and SECRET not in family_page and "pupil-views" not in family_page
    with core.db.session(readonly=True) as s:
        [shared] = rules.family_lesson_reports(s, pid)
    assert shared == {"day": "2026-01-12", "starts": LESSON, "ends": "14:30", "activity": "Engineering", "covered": "Fractions with engine parts.",
                      "engagement": GOOD, "labels": rules.labels(GOOD), "by": "Tutor"}


def test_R72_another_school_another_provider_and_another_parent_get_404(app, core, world):
    life, people, iid, pid = world
    lessons.write_report(core, people["tutor"], pid, "2026-01-12", LESSON, "Fractions.", GOOD, SECRET)
    for who in ("othercoord", "othersenco", "farmer", "parent2"):
        client = browser(app, who)
        for path in (f"/api/v1/placements/{pid}/lesson-reports", f"/placements/{iid}/lessons"):
            answer = client.get(path)
            assert answer.status_code == 404, (who, path)
            assert "Fractions" not in answer.get_data(as_text=True) and "Jordan" not in answer.get_data(as_text=True)
        with pytest.raises(NotFound):
            lessons.list_reports(core, people[who], pid)
    farmer = browser(app, "farmer")
    assert "Jordan" not in farmer.get("/lessons").get_data(as_text=True)
    refused = farmer.post(f"/api/v1/placements/{pid}/lesson-reports", json={"day": "2026-01-12", "starts": LESSON, "covered": "Made up.",
                                                                           "engagement": GOOD}, headers={"X-CSRF-Token": farmer.csrf})
    assert refused.status_code == 404
    # the school reads reports but does not write them
    coord = browser(app, "coord")
    assert coord.post(f"/api/v1/placements/{pid}/lesson-reports", json={"day": "2026-01-12", "starts": LESSON, "covered": "x y z",
                                                                       "engagement": GOOD}, headers={"X-CSRF-Token": coord.csrf}).status_code == 403
    assert coord.get("/lessons").status_code == 403


def test_R72_three_low_reports_open_one_review_and_tell_the_coordinator(core, world, frozen_clock):
    life, people, iid, pid = world
    tutor = people["tutor"]
    reviews = life.names(iid).count(REVIEW_TASK)  # the half-termly review is already under way from the first day
    assert not lessons.write_report(core, tutor, pid, _today(frozen_clock), LESSON, "Engines.", LOW)["review_opened"]
    next_school_day(frozen_clock)
    assert not lessons.write_report(core, tutor, pid, _today(frozen_clock), LESSON, "Engines.", LOW)["review_opened"]
    assert life.names(iid).count(REVIEW_TASK) == reviews
    next_school_day(frozen_clock)
    third = lessons.write_report(core, tutor, pid, _today(frozen_clock), LESSON, "Engines again.", LOW)
    assert third["review_opened"] and life.names(iid).count(REVIEW_TASK) == reviews + 1  # the requested review
    next_school_day(frozen_clock)
    assert not lessons.write_report(core, tutor, pid, _today(frozen_clock), LESSON, "Still low.", LOW)["review_opened"]
    assert life.names(iid).count(REVIEW_TASK) == reviews + 1
    with core.db.session(readonly=True) as s:
        [episode] = s.scalars(select(EngagementReview).where(EngagementReview.placement_id == pid)).all()
        assert "Low engagement in 3 of the last 3 lesson reports" in episode.reason and episode.closed_at is None
        assert s.scalar(select(func.count()).select_from(LogEntry).where(LogEntry.placement_id == pid, LogEntry.kind == "review_requested")) == 1
        told = s.scalars(select(Notification).where(Notification.kind == "low_engagement")).all()
        assert [n.user_id for n in told] == [people["coord"].id]  # the school's coordinator, not another school's
        assert "Jordan T." in told[0].message and "review" in told[0].message
        emails = s.scalars(select(OutboxEmail).where(OutboxEmail.subject == "A pupil's engagement needs a review")).all()
        assert [e.to_address for e in emails] == ["coord@example.test"] and "Jordan" not in emails[0].body
    assert lessons.list_reports(core, people["coord"], pid)["low_engagement"]["reason"] == episode.reason

    # engagement recovers: the episode closes, and a new pattern later opens a new one
    for _ in range(3):
        next_school_day(frozen_clock)
        lessons.write_report(core, tutor, pid, _today(frozen_clock), LESSON, "Good day.", GOOD)
    with core.db.session(readonly=True) as s:
        assert s.get(EngagementReview, episode.id).closed_at is not None


def test_R72_wellbeing_at_its_lowest_twice_running_opens_a_review(core, world, frozen_clock):
    life, people, iid, pid = world
    upset = {**GOOD, "wellbeing": 1}
    reviews = life.names(iid).count(REVIEW_TASK)
    assert not lessons.write_report(core, people["tutor"], pid, _today(frozen_clock), LESSON, "Engines.", upset)["review_opened"]
    next_school_day(frozen_clock)
    second = lessons.write_report(core, people["tutor"], pid, _today(frozen_clock), LESSON, "Engines.", upset)
    assert second["review_opened"] and life.names(iid).count(REVIEW_TASK) == reviews + 1
    assert "Wellbeing was scored 'Very unhappy or upset' in the last 2 lesson reports running" in \
        lessons.list_reports(core, people["coord"], pid)["low_engagement"]["reason"]


def test_R72_a_report_can_be_corrected_until_the_end_of_the_next_school_day_then_it_is_locked(app, core, world, frozen_clock):
    life, people, iid, pid = world
    first = lessons.write_report(core, people["tutor"], pid, "2026-01-12", LESSON, "Fractions.", GOOD)
    assert first["created"] and first["changed_by"] is None
    again = lessons.write_report(core, people["tutor"], pid, "2026-01-12", LESSON, "Fractions.", dict(GOOD))  # a double submit
    assert not again["created"] and not again["changed"]
    next_school_day(frozen_clock)
    assert [m["day"] for m in lessons.tutor_sessions(core, people["tutor"])["missing"]] == ["2026-01-13"]
    fixed = lessons.write_report(core, people["tutor"], pid, "2026-01-12", LESSON, "Fractions and decimals.", GOOD)
    assert fixed["changed"] and fixed["changed_by"] == "Tutor" and fixed["by"] == "Tutor"
    frozen_clock.advance(timedelta(hours=6))  # 16:00 on Tuesday: after the end of the next school day (15:30)
    with pytest.raises(Invalid) as err:
        lessons.write_report(core, people["tutor"], pid, "2026-01-12", LESSON, "Too late.", GOOD)
    assert "locked" in err.value.message
    page = browser(app, "tutor").get(f"/lessons/report/{pid}/2026-01-12/{LESSON}").get_data(as_text=True)
    assert "This report is locked" in page and "Fractions and decimals." in page and "changed by Tutor" in page
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(LessonReport.covered).where(LessonReport.placement_id == pid)) == "Fractions and decimals."


def test_R72_bad_input_is_named_per_field_and_nothing_is_saved(app, core, world, frozen_clock):
    life, people, iid, pid = world
    with pytest.raises(Invalid) as err:
        lessons.write_report(core, people["tutor"], pid, "2026-01-12", LESSON, "", {"participation": 0, "behaviour": 6, "relationships": "x",
                                                                                    "progress": True}, "y" * 2001)
    assert set(err.value.details["fields"]) == {"covered", "participation", "behaviour", "relationships", "progress", "wellbeing", "school_comment"}
    tutor = browser(app, "tutor")
    page = post(tutor, f"/lessons/report/{pid}/2026-01-12/{LESSON}", {"covered": "Fractions.", "participation": "3"})
    assert page.status_code == 422 and "Choose a score from 1 to 5 for behaviour." in page.get_data(as_text=True)
    assert 'value="Fractions.' in page.get_data(as_text=True) or "Fractions." in page.get_data(as_text=True)  # the words are kept
    for day, starts in (("2026-01-12", "11:00"), ("2026-01-17", LESSON), ("2026-02-16", LESSON), ("not-a-day", LESSON)):
        with pytest.raises((NotFound, Invalid)):
            lessons.write_report(core, people["tutor"], pid, day, starts, "Fractions.", GOOD)
    frozen_clock.freeze(frozen_clock.now().replace(hour=9, minute=0))  # 09:00: the 09:30 session has not started
    with pytest.raises(Invalid) as early:
        lessons.write_report(core, people["tutor"], pid, "2026-01-12", LESSON, "Fractions.", GOOD)
    assert "not started yet" in early.value.details["fields"]["day"][0]
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(LessonReport)) == 0
