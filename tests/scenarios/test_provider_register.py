"""The provider register through the product (R22, R23, R30): the approved list with sites, agreement and notice period,
and each provider's record of criteria, due diligence, agreement and QA visits; staff only."""
from sqlalchemy import select

from apflow.placements.models import Provider
from apflow.services import placements
from tests.support import browser


def _approved(life):
    life.approve_provider()
    with life.core.db.session(readonly=True) as s:
        return s.scalar(select(Provider.id).where(Provider.name == "Bridges Learning"))


def test_R22_R30_the_coordinator_reads_the_register_and_a_providers_whole_record(app, life):
    pid = _approved(life)
    coord = browser(app, "coord")
    register = coord.get("/providers").get_data(as_text=True)
    assert "Bridges Learning" in register and "10 school days' notice" in register and "Mill Lane" in register
    record = coord.get(f"/providers/{pid}").get_data(as_text=True)
    for shown in ("Safeguarding policy and procedures reviewed", "Appropriate insurance cover", "Curriculum delivery expectations",
                  "10 school days", "takes new placements"):
        assert shown in record, shown
    api = coord.get(f"/api/v1/providers/{pid}").get_json()
    assert api["sla"]["notice_period_school_days"] == 10 and {"label": "Health and safety policies reviewed", "value": "Yes"} in api["due_diligence"]


def test_R23_qa_visits_and_a_withdrawn_provider_show_on_the_record_and_leave_the_approved_list(app, life):
    pid = _approved(life)
    life.do("Termly quality assurance visit", quality="requires_improvement", qa_findings="Registers not kept on Fridays.")
    record = placements.provider_record(life.core, life.people["coordinator"], pid)
    assert record["qa_visits"][0]["findings"] == "Registers not kept on Fridays."
    with life.core.db.session() as s:
        s.get(Provider, pid).status = "withdrawn"
    coord = browser(app, "coord")
    assert "Bridges Learning" not in coord.get("/providers").get_data(as_text=True)
    assert "Bridges Learning" in coord.get("/providers?all=1").get_data(as_text=True)
    assert "does not take new placements" in coord.get(f"/providers/{pid}").get_data(as_text=True)


def test_R22_families_have_no_register(app, life):
    pid = _approved(life)
    for who in ("parent1", "pupil1"):
        client = browser(app, who)
        assert client.get("/providers").status_code == 404
        assert client.get(f"/api/v1/providers/{pid}").status_code == 404
        assert "Providers</a>" not in client.get("/inbox").get_data(as_text=True)
