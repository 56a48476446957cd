"""The caseload (R11): every placement in scope with its stage, next deadline and holder; a placement waiting on a
timer still shows; search and filters; people outside see only their own organisations' placements."""
from sqlalchemy import update

from apflow.placements.models import Placement
from apflow.services import caseload, instances
from tests.scenarios.conftest import seed_approved_provider
from tests.support import browser


def test_R11_the_caseload_lists_each_placement_with_what_it_waits_for_and_who_holds_it(app, core, life):
    seed_approved_provider(core)
    first = life.refer(pupil_name="Amir H.", pupil_ref="P-0002")
    life.refer(pupil_name="Jordan T.", pupil_ref="P-0001")
    rows = caseload.caseload(core, life.people["coordinator"], caseload.CaseloadQuery())["rows"]
    assert [r["pupil"] for r in rows] == ["Amir H.", "Jordan T."]
    assert rows[0]["next_task"] == "Choose the provider" and rows[0]["holder"] == "AP Coordinator role"
    page = browser(app, "coord").get("/placements?search=amir").get_data(as_text=True)
    assert "Amir H." in page and "Jordan T." not in page and "Choose the provider" in page
    # a placement with no open task (waiting on a timer or another organisation) does not vanish
    [task] = instances.list_ready_tasks(core, life.people["coordinator"], first)
    with core.db.session() as s:
        from apflow.store.models import HumanTask

        s.execute(update(HumanTask).where(HumanTask.id == task["id"]).values(state="cancelled"))
    waiting = [r for r in caseload.caseload(core, life.people["coordinator"], caseload.CaseloadQuery(search="P-0002"))["rows"]]
    assert waiting[0]["waiting"].startswith("No open task")
    api = browser(app, "coord").get("/api/v1/placements?search=Jordan").get_json()
    assert [p["ref"] for p in api["placements"]] == ["P-0001"]


def test_R11_families_have_no_caseload_and_filters_narrow_it(app, core, life):
    life.refer()
    assert caseload.caseload(core, life.people["parent"], caseload.CaseloadQuery())["rows"] == []
    with core.db.session() as s:
        s.execute(update(Placement).values(status="active"))
    assert caseload.caseload(core, life.people["coordinator"], caseload.CaseloadQuery(status="referred"))["rows"] == []
    assert len(caseload.caseload(core, life.people["coordinator"], caseload.CaseloadQuery(status="active"))["rows"]) == 1
    assert caseload.caseload(core, life.people["coordinator"], caseload.CaseloadQuery(reason="medical"))["rows"] == []
