"""Starting work from the product (issue 13): "New referral" from the inbox opens the referral's first task; a
double submit starts one placement, not two."""
import re

import pytest
from sqlalchemy import func, select

from apflow.config import ROOT
from apflow.services import calendars, processes
from apflow.store.models import Instance
from tests.support import browser, make_user, post


@pytest.fixture
def deployed(core):
    processes.deploy_paths(core, [ROOT / "bpmn"], by="test")
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")


def test_a_coordinator_starts_a_referral_from_the_inbox_and_lands_on_its_first_task(app, core, deployed):
    make_user(core, "coord", "coordinator")
    client = browser(app, "coord")
    assert "New referral or other work" in client.get("/inbox").get_data(as_text=True)
    page = client.get("/start").get_data(as_text=True)
    assert "New referral" in page and "Placement planning" not in page  # stages start with their parent, not alone
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    first = post(client, "/start/placement", {"nonce": nonce})
    assert first.status_code == 302 and "/tasks/" in first.headers["Location"]
    assert "Record the referral" in client.get(first.headers["Location"]).get_data(as_text=True)
    again = post(client, "/start/placement", {"nonce": nonce})
    assert again.headers["Location"] == first.headers["Location"]
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Instance)) == 1


def test_people_who_may_start_nothing_are_told_so_and_cannot_start(app, core, deployed):
    make_user(core, "parent1", "parent")
    client = browser(app, "parent1")
    assert "New referral or other work" not in client.get("/inbox").get_data(as_text=True)
    assert "There is nothing you can start" in client.get("/start").get_data(as_text=True)
    refused = post(client, "/start/placement", {"nonce": "x"})
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/start")
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Instance)) == 0


def test_a_start_the_diagram_cannot_make_is_refused_with_its_reason_and_keeps_nothing(app, core):
    processes.deploy_paths(core, [ROOT / "bpmn"], by="test")  # no term dates: the referral's school-day deadline cannot be set
    make_user(core, "coord", "coordinator")
    client = browser(app, "coord")
    response = post(client, "/start/placement", {"nonce": "n1"})
    assert response.status_code == 302
    assert "could not start" in client.get(response.headers["Location"]).get_data(as_text=True)
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Instance)) == 0
