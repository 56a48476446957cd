"""Evidence packs in the browser (issue 16: R110): the coordinator opens a placement's page in Chromium, clicks
"Evidence pack (PDF)" and gets a PDF of the placement marked OFFICIAL-SENSITIVE; the page then lists the pack as
printed. The placement is set up through the services (its pages are proven elsewhere)."""
import io
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader

from apflow.config import ROOT
from tests.browser.conftest import served
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD, sign_in

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def world(tmp_path, sqlite_template, frozen_clock):
    from apflow.config import Settings
    from apflow.services import calendars, processes, users
    from apflow.services.core import Core

    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{target}", instance_dir=tmp_path, run_scheduler=False, secret_key="browser"))
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    processes.deploy_paths(core, [ROOT / "bpmn"], by="test")
    users.ensure_organisation(core, "The Nest School", "school")
    users.ensure_organisation(core, "Northshire Council", "la")
    seed_approved_provider(core)
    staff = [("coord", "Priya Shah", "coordinator", "The Nest School"), ("head", "Helen Ward", "headteacher", "The Nest School"),
             ("dsl", "Dee Lewis", "dsl", "The Nest School"), ("senco", "Sam Okafor", "senco", "The Nest School"),
             ("tutor", "Aisha Begum", "provider", "Bridges Learning"), ("la1", "Graham Hughes", "la_officer", "Northshire Council"),
             ("parent1", "Jo Taylor", "parent", None), ("pupil1", "Jordan T.", "pupil", None), ("boss", "Morgan Price", "manager", "The Nest School")]
    people = {name: users.create_user(core, name, PASSWORD, [role], display_name=shown, organisations=[org] if org else [])
              for name, shown, role, org in staff}
    life = Lifecycle(core, {role: people[name] for name, _, role, _ in staff}, frozen_clock)
    frozen_clock.freeze(datetime(2026, 1, 12, 8, 0, tzinfo=timezone.utc))
    iid = life.active_placement()
    life.to_running(iid)
    with served(core) as base:
        yield base, iid
    core.db.dispose()


def test_R110_the_coordinator_downloads_a_placements_evidence_pack_from_its_page(chromium, world):
    base, iid = world
    page = chromium.new_page(viewport=PHONE, accept_downloads=True)
    sign_in(page, base, "coord")
    page.goto(f"{base}/placements/{iid}")
    button = page.get_by_role("button", name="Evidence pack (PDF)")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # nothing scrolls sideways
    with page.expect_download() as started:
        button.click()
    download = started.value
    assert download.suggested_filename == "Evidence pack P-0001 2026-01-12.pdf"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    first = reader.pages[0].extract_text()
    assert "OFFICIAL-SENSITIVE" in first and "Evidence pack: Jordan T. (P-0001)" in first and f"of {len(reader.pages)}" in first
    page.reload()
    page.get_by_text("Packs printed (1 latest)").click()
    page.get_by_text("Priya Shah").first.wait_for()
