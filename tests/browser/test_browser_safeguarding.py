"""A tutor raises a concern on a phone; the DSL sees it, answers it, grants a colleague access; the colleague's
reading appears in the file's read log (R80, R81, R111). Saves the README's safeguarding screenshots."""
import shutil
from datetime import timedelta

import pytest

from apflow.config import ROOT
from tests.browser.conftest import served
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import SHOTS, sign_in


@pytest.fixture
def placement(tmp_path, sqlite_template, frozen_clock):
    from apflow.config import Settings
    from apflow.services import calendars, processes
    from apflow.services.core import Core
    from tests.support import make_user

    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{target}", instance_dir=tmp_path, run_scheduler=False, secret_key="browser"))
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    processes.deploy_paths(core, [ROOT / "bpmn"], by="test")
    people = {role: make_user(core, name, role) for role, name in [
        ("coordinator", "coord"), ("headteacher", "head"), ("dsl", "dsl"), ("senco", "senco"), ("provider", "tutor"),
        ("la_officer", "la1"), ("parent", "parent1"), ("pupil", "pupil1"), ("manager", "boss")]}
    seed_approved_provider(core)
    life = Lifecycle(core, people, frozen_clock)
    iid = life.active_placement()
    life.to_running(iid)
    with served(core) as base:
        yield base, life, iid
    core.db.dispose()


def test_R80_R81_R111_a_concern_from_a_phone_to_the_dsl_and_a_granted_colleague_in_the_read_log(chromium, placement):
    base, life, iid = placement
    phone = chromium.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, base, "tutor")
    phone.goto(f"{base}/placements/{iid}")
    phone.get_by_role("button", name="Raise a safeguarding concern").click()
    phone.get_by_label("What happened").fill("Upset and withdrawn after lunch")
    phone.get_by_label("Details").fill("He said someone at home hurt his arm.")
    phone.get_by_label("at risk of significant harm").check()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    phone.screenshot(path=str(SHOTS / "safeguarding-raise-phone.png"), full_page=True)
    phone.get_by_role("button", name="Send to the DSL now").click()
    phone.get_by_role("heading", name="The concern has been passed on").wait_for()

    desk = chromium.new_page(viewport={"width": 1200, "height": 900})
    sign_in(desk, base, "dsl")
    desk.goto(f"{base}/concerns")
    desk.get_by_text("Upset and withdrawn after lunch").wait_for()
    desk.goto(f"{base}/inbox")
    desk.get_by_role("link", name="Respond to the concern and review the placement").first.click()
    desk.get_by_label("Your assessment").fill("Spoke to him with the tutor present; referral to children's social care made.")
    desk.get_by_label("This is a child protection matter").check()
    desk.get_by_label("Children's social care").check()
    desk.get_by_label("Continue", exact=True).check()
    desk.get_by_role("button", name="Complete task").click()
    desk.get_by_text("is done").first.wait_for()

    desk.goto(f"{base}/pupils/P-0001/child-protection")
    desk.get_by_text("referral to children's social care made").first.wait_for()
    desk.get_by_text("Grant a colleague access").click()
    desk.get_by_label("Colleague's username").fill("senco")
    desk.get_by_label("Why they need to read it").fill("Chairs the strategy meeting")
    until = (life.clock.now() + timedelta(days=14)).date().isoformat()
    desk.get_by_label("Until").fill(until)
    desk.get_by_role("button", name="Grant access").click()
    desk.get_by_text("senco can read this file").wait_for()

    colleague = chromium.new_page(viewport={"width": 1200, "height": 900})
    sign_in(colleague, base, "senco")
    colleague.goto(f"{base}/pupils/P-0001/child-protection")
    colleague.get_by_text("He said someone at home hurt his arm.").first.wait_for()

    desk.goto(f"{base}/pupils/P-0001/child-protection")
    log = desk.locator("table").last
    log.get_by_role("cell", name="senco", exact=True).wait_for()
    desk.screenshot(path=str(SHOTS / "safeguarding-cp-file.png"), full_page=True)
