"""Incidents of any kind are logged and make the placement review its risk assessment and plan (R76, R82); a parent
or the pupil can ask for a review (R73)."""
import pytest

from apflow.errors import Forbidden, Invalid
from apflow.services import incidents
from apflow.services import placements as service
from apflow.web import create_app
from tests.support import browser, make_user, post

AFTER = "Review the risk assessment and plan after the incident"



def test_R82_R76_a_behaviour_incident_is_logged_and_the_risk_assessment_and_plan_are_reviewed(running):
    life, iid, pid = running
    logged = incidents.record_incident(life.core, life.people["provider"], pid, "behaviour", "2026-01-12T11:30",
                                       "Threw a chair in the workshop; nobody hurt.", "Calmed in the quiet room.")
    assert logged["review_opened"] and AFTER in life.names(iid)
    [listed] = incidents.list_incidents(life.core, life.people["coordinator"], pid)
    assert listed["kind"] == "Behaviour" and listed["review_opened"]
    life.do(AFTER, iid, reviewed_on="2026-01-12", risk_assessment_still_suitable=False, incident_overall_risk="high",
            risk_changes="Workshop only with two adults.", plan_still_right=True)
    placement = service.get_placement(life.core, life.people["coordinator"], pid)
    assert [r["reason"] for r in placement["risk_assessments"]][-1] == "incident"
    assert [r["kind"] for r in placement["reviews"]][-1] == "incident"
    # a second incident opens the review again
    incidents.record_incident(life.core, life.people["provider"], pid, "injury", "", "Cut his hand on a file; first aid given.")
    assert AFTER in life.names(iid)


def test_R82_families_do_not_log_incidents_and_bad_input_is_named(running):
    life, iid, pid = running
    with pytest.raises(Forbidden):
        incidents.record_incident(life.core, life.people["parent"], pid, "behaviour", "", "Something happened at the site.")
    with pytest.raises(Invalid) as err:
        incidents.record_incident(life.core, life.people["provider"], pid, "fight", "yesterday", "short")
    assert set(err.value.details["fields"]) == {"kind", "summary", "occurred_at"}


def test_R73_a_parent_asks_for_a_review_from_the_placement_page(core, running):
    life, iid, pid = running
    app = create_app(core=core, run_scheduler=False)
    parent = browser(app, "parent1")
    assert "Ask for a review of the placement" in parent.get(f"/placements/{iid}").get_data(as_text=True)
    assert "Incidents: log one" not in parent.get(f"/placements/{iid}").get_data(as_text=True)
    post(parent, f"/placements/{iid}/review-request", {"reason": "He is unhappy on the farm days."})
    assert "Invite everyone to the review" in life.names(iid)
    again = post(parent, f"/placements/{iid}/review-request", {"reason": "Still unhappy."})
    assert again.status_code == 200 and "a review is already under way" in again.get_data(as_text=True)
    make_user(core, "parent2", "parent")
    assert browser(app, "parent2").get(f"/placements/{iid}/review-request").status_code == 404
    tutor = browser(app, "tutor")
    page = post(tutor, f"/placements/{iid}/incidents", {"kind": "safeguarding", "summary": "Found a note about being hit at home."})
    assert page.headers["Location"].endswith(f"/placements/{iid}/concern")  # sent on to raise the concern
