"""Examination entries and qualifications gained (R15, N 5.4): recorded on a placement by the school or the provider
delivering it, checked field by field, a double submit kept once; shown on the placement and pupil pages and counted
in the governors' report; nobody else sees them (404)."""
from datetime import datetime, timezone

from sqlalchemy import func, select

from apflow.clock import clock
from apflow.placements.models import Qualification
from apflow.services import governors
from apflow.web import create_app
from tests.scenarios.registers_world import world_fixture  # noqa: F401
from tests.support import browser, post

ENTRY = {"subject": "English language", "kind": "gcse", "level": "level_2", "awarding_body": "AQA", "entered_on": "2026-01-12"}


def count(core) -> int:
    with core.db.session(readonly=True) as s:
        return s.scalar(select(func.count(Qualification.id)))


def test_R15_the_school_and_the_provider_record_exam_entries_and_results_on_the_placement(world):
    core = world.core
    iid, pid = world.placement()
    app = create_app(core=core, run_scheduler=False)
    coord, tutor = browser(app, "coord"), browser(app, "tutor")

    assert post(coord, f"/placements/{iid}/qualifications", ENTRY).status_code == 302
    assert post(coord, f"/placements/{iid}/qualifications", ENTRY).status_code == 302  # a double submit
    assert count(core) == 1
    bad = tutor.post(f"/api/v1/placements/{pid}/qualifications", json={"subject": "", "kind": "degree", "level": "level_2",
                                                                       "entered_on": "12/01/2026"}, headers={"X-CSRF-Token": tutor.csrf})
    assert bad.status_code == 422 and set(bad.get_json()["error"]["details"]["fields"]) == {"subject", "kind", "entered_on"}
    assert count(core) == 1
    made = tutor.post(f"/api/v1/placements/{pid}/qualifications", headers={"X-CSRF-Token": tutor.csrf},
                      json={"subject": "Maths", "kind": "functional_skills", "level": "level_1", "entered_on": "2026-01-12"})
    assert made.status_code == 201
    maths = made.get_json()["id"]

    no_grade = tutor.put(f"/api/v1/qualifications/{maths}", json={"gained": "yes"}, headers={"X-CSRF-Token": tutor.csrf})
    assert no_grade.status_code == 422 and "result" in no_grade.get_json()["error"]["details"]["fields"]
    clock.freeze(datetime(2026, 3, 2, 12, tzinfo=timezone.utc))
    done = tutor.put(f"/api/v1/qualifications/{maths}", json={"gained": "yes", "result": "Pass"}, headers={"X-CSRF-Token": tutor.csrf})
    assert done.status_code == 200 and done.get_json()["result_on"] == "2026-03-02" and done.get_json()["gained_words"] == "Gained"

    placement_page = coord.get(f"/placements/{iid}").get_data(as_text=True)
    pupil_page = coord.get("/pupils/P-0001").get_data(as_text=True)
    for page in (placement_page, pupil_page):
        assert "English language" in page and "Waiting for the result" in page and "Gained (Pass)" in page
    assert "Enter the pupil for an examination" in placement_page

    figures = governors.figures(core, world.people["head"], "Spring 2026")["qualifications"]
    assert figures == {"entered": 2, "results": 1, "gained": 1, "not_gained": 0, "gained_by_type": {"Functional Skills Level 1": 1}}


def test_R15_exam_entries_are_not_shown_to_other_providers_parents_or_other_schools(world):
    core = world.core
    iid, pid = world.placement()
    app = create_app(core=core, run_scheduler=False)
    coord = browser(app, "coord")
    post(coord, f"/placements/{iid}/qualifications", ENTRY)
    [entry] = coord.get(f"/api/v1/placements/{pid}/qualifications").get_json()["qualifications"]
    for who in ("farmer", "othercoord", "parent1", "pupil1"):
        client = browser(app, who)
        assert client.get(f"/api/v1/placements/{pid}/qualifications").status_code == 404, who
        assert client.post(f"/api/v1/placements/{pid}/qualifications", json=ENTRY, headers={"X-CSRF-Token": client.csrf}).status_code == 404, who
        assert client.put(f"/api/v1/qualifications/{entry['id']}", json={"gained": "no"}, headers={"X-CSRF-Token": client.csrf}).status_code == 404, who
        assert post(client, f"/placements/{iid}/qualifications", ENTRY).status_code == 404, who
        assert post(client, f"/placements/{iid}/qualifications/{entry['id']}", {"gained": "no"}).status_code == 404, who
    assert count(core) == 1
    la = browser(app, "la1")  # the LA officer sees the placement but does not record exams
    assert post(la, f"/placements/{iid}/qualifications", {**ENTRY, "subject": "Science"}).status_code in (302, 403, 404)
    assert count(core) == 1
