"""Pupil feedback gathered in adapted ways (R115): school staff, or the provider's staff teaching the pupil, record the
pupil's views from a one-to-one discussion or an adapted questionnaire, in the pupil's words, with who recorded it and
how. It answers the pupil's own form when that waits this term, shows where pupil views are read, and a pupil who
says they do not feel safe alerts the DSL."""
import pytest
from sqlalchemy import select

from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements.models import PupilViewRecord
from apflow.services import lessons, placement_file
from apflow.services import placements as service
from apflow.store.models import Event, Notification
from tests.scenarios.lessons_world import build
from tests.support import browser, post

VIEWS_TASK = "Your views on your placement"
SAID = "I like the engines. The bus is scary. Aisha helps me."


@pytest.fixture
def world(core, terms, lifecycle_deployed, frozen_clock):
    return build(core, frozen_clock)


def _views(**changes):
    return {"held_on": "2026-01-12", "method": "questionnaire", "adaptation": "symbols", "adaptation_detail": "", "pupil_words": SAID,
            "going_well": "The engines.", "could_be_better": "The bus.", "feel_safe": "mostly", "want_to_continue": "yes", **changes}


def test_R115_the_senco_records_views_from_an_adapted_questionnaire_and_they_answer_the_terms_pupil_views(app, core, world):
    life, people, iid, pid = world
    life.do("Termly assessment against the plan", iid)
    life.do("Review the risk assessments", iid)
    life.do("Send the termly progress update", iid)
    assert VIEWS_TASK in life.names(iid)
    senco = browser(app, "senco")
    assert post(senco, f"/placements/{iid}/lessons/pupil-views", _views()).status_code == 302
    assert VIEWS_TASK not in life.names(iid)  # the term's pupil views are in: the pupil is not asked again
    with core.db.session(readonly=True) as s:
        [event] = s.scalars(select(Event).where(Event.instance_id == iid, Event.task_name == VIEWS_TASK, Event.kind == "task_completed")).all()
        assert event.actor == "senco"
        assert event.detail["recorded_for_family"] == "Pupil's views recorded by staff: Adapted questionnaire (Symbols or pictures) with Senco on 2026-01-12"
        [record] = s.scalars(select(PupilViewRecord)).all()
        assert (record.method, record.adaptation, record.recorded_by, record.pupil_words) == ("questionnaire", "symbols", "Senco", SAID)
    # where pupil views are read: the placement's record, its file, and the lessons page
    [views] = [c for c in service.get_placement(core, people["coord"], pid)["communications"] if c["kind"] == "pupil_feedback"]
    assert views["content"]["going_well"] == "The engines." and views["content"]["pupil_words"] == SAID
    entry = next(e for e in placement_file.placement_file(core, people["coord"], iid)["entries"] if e["name"] == VIEWS_TASK)
    assert {a["title"]: a["text"] for a in entry["answers"]}["What is going well"] == "The engines."
    page = browser(app, "coord").get(f"/placements/{iid}/lessons").get_data(as_text=True)
    assert SAID in page and "Adapted questionnaire (Symbols or pictures)" in page and "recorded by Senco" in page
    [listed] = browser(app, "coord").get(f"/api/v1/placements/{pid}/pupil-views").get_json()["views"]
    assert listed["source"] == "staff" and listed["feel_safe"] == "Mostly" and listed["recorded_by"] == "Senco"


def test_R115_the_tutor_records_a_one_to_one_discussion_and_a_pupil_who_feels_unsafe_alerts_the_dsl(app, core, world):
    life, people, iid, pid = world
    assert VIEWS_TASK not in life.names(iid)  # no form waits on the first day: the views are recorded all the same
    tutor = browser(app, "tutor")
    sent = tutor.post(f"/api/v1/placements/{pid}/pupil-views", json=_views(method="one_to_one", adaptation="", feel_safe="no"),
                      headers={"X-CSRF-Token": tutor.csrf})
    assert sent.status_code == 201 and sent.get_json()["answered_pupil_task"] is False
    assert sent.get_json()["method_label"] == "One-to-one discussion" and sent.get_json()["recorded_by"] == "Tutor"
    with core.db.session(readonly=True) as s:
        told = s.scalars(select(Notification).where(Notification.kind == "pupil_feels_unsafe")).all()
        assert [n.user_id for n in told] == [people["dsl"].id]
    [views] = [c for c in service.get_placement(core, people["coord"], pid)["communications"] if c["kind"] == "pupil_feedback"]
    assert views["content"]["feel_safe"] == "no" and "One-to-one discussion with Tutor" in views["content"]["recorded_by_staff"]


def test_R115_only_the_pupils_school_and_provider_record_views_and_bad_input_is_named(app, core, world):
    life, people, iid, pid = world
    for who in ("othercoord", "othersenco", "farmer", "parent2"):
        with pytest.raises(NotFound):
            lessons.record_pupil_views(core, people[who], pid, **_views())
        assert browser(app, who).get(f"/api/v1/placements/{pid}/pupil-views").status_code == 404, who
    for who in ("dsl", "la1"):
        with pytest.raises(Forbidden):
            lessons.record_pupil_views(core, people[who], pid, **_views())
    assert browser(app, "parent1").get(f"/api/v1/placements/{pid}/pupil-views").status_code == 404  # staff's record, not the family's
    with pytest.raises(Invalid) as err:
        lessons.record_pupil_views(core, people["coord"], pid, **_views(held_on="2026-02-01", method="survey", adaptation="other",
                                                                         pupil_words="", going_well="", feel_safe="maybe",
                                                                         want_to_continue=""))
    assert set(err.value.details["fields"]) == {"held_on", "method", "adaptation_detail", "pupil_words", "going_well", "feel_safe",
                                                "want_to_continue"}
    with pytest.raises(Invalid) as err:
        lessons.record_pupil_views(core, people["coord"], pid, **_views(adaptation=""))
    assert set(err.value.details["fields"]) == {"adaptation"}  # a questionnaire says how it was adapted
    page = post(browser(app, "coord"), f"/placements/{iid}/lessons/pupil-views", _views(pupil_words=""))
    assert page.status_code == 422 and "Write down what the pupil said, in their own words." in page.get_data(as_text=True)
    with core.db.session(readonly=True) as s:
        assert s.scalars(select(PupilViewRecord)).all() == []
