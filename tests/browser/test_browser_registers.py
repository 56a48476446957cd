"""Registers in the browser (issue 15: R62, R71, R79): a tutor on a phone (390 px) marks the register for several
pupils at once with one absence; the school's coordinator sees the alert within the test's moved-clock minutes and
where each pupil is. The placements are set up through the services (their pages are proven elsewhere); the register,
the alert and the whereabouts are seen and done only by clicking in Chromium."""
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from apflow.config import ROOT
from tests.browser.conftest import served
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD, SHOTS, sign_in

PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1200, "height": 900}
PUPILS = [("Jordan T.", "P-0001"), ("Amir H.", "P-0002"), ("Mia K.", "P-0003")]


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
    people = {name: users.create_user(core, name, PASSWORD, [role], display_name=shown, email=f"{name}@example.test",
                                      organisations=[org] if org else [])
              for name, shown, role, org in staff}
    life = Lifecycle(core, {role: people[name] for name, _, role, _ in staff}, frozen_clock)
    frozen_clock.freeze(datetime(2026, 1, 12, 8, 0, tzinfo=timezone.utc))
    placements = []
    for name, ref in PUPILS:
        iid = life.active_placement(pupil_name=name, pupil_ref=ref)
        life.to_running(iid)
        placements.append(life.placement_id(iid))
    with served(core) as base:
        yield base, core, placements, frozen_clock
    core.db.dispose()


def test_R71_R79_R62_a_tutor_marks_on_a_phone_and_the_school_sees_the_absence_and_where_each_pupil_is(chromium, world):
    base, core, placements, clock = world
    from apflow.services import watches

    clock.freeze(datetime(2026, 1, 13, 9, 45, tzinfo=timezone.utc))  # Tuesday, a quarter of an hour into the session
    tutor = chromium.new_page(viewport=PHONE)
    sign_in(tutor, base, "tutor")
    tutor.get_by_role("link", name="Today").click()
    tutor.get_by_role("heading", name="Registers for Tuesday 13 January 2026").wait_for()
    rows = {name: tutor.locator(".register-row", has=tutor.get_by_role("heading", name=name)) for name, _ in PUPILS}
    rows["Jordan T."].get_by_label("Present", exact=True).check()
    rows["Mia K."].get_by_label("Late", exact=True).check()
    rows["Mia K."].get_by_label("Minutes late").fill("10")
    rows["Amir H."].get_by_label("Absent", exact=True).check()
    rows["Amir H."].get_by_label("Why absent").select_option("unknown")
    rows["Amir H."].get_by_label("Note for the school (optional)").fill("No answer on the family's phone.")
    assert tutor.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # nothing scrolls sideways
    tutor.screenshot(path=str(SHOTS / "register-grid-phone.png"), full_page=True)
    tutor.get_by_role("button", name="Save the register").click()
    tutor.get_by_text("Saved 3 marks. The school has been told of the absence.").wait_for()
    tutor.go_back()  # a second send of the same register is harmless
    tutor.get_by_role("heading", name="Registers for Tuesday 13 January 2026").wait_for()

    clock.advance(timedelta(minutes=1))  # the scheduler's minute check runs (nothing left to chase or open)
    watches.run_all(core)

    coord = chromium.new_page(viewport=DESKTOP)
    sign_in(coord, base, "coord")
    coord.get_by_role("link", name="Notifications").click()
    coord.get_by_text("Unexplained absence: Amir H. (P-0002) did not arrive for the 09:30 session on Tue 13 Jan").wait_for()
    coord.get_by_role("link", name="Where now").click()
    coord.get_by_role("heading", name="Where are our AP pupils now").wait_for()
    amir = coord.locator("tr", has=coord.get_by_role("link", name="Amir H."))
    assert "reported them absent" in amir.inner_text() and "Absent" in amir.inner_text()
    jordan = coord.locator("tr", has=coord.get_by_role("link", name="Jordan T."))
    assert "In a session at Hill Farm, Northtown NT9 9ZZ" in jordan.inner_text() and "Present" in jordan.inner_text()
    coord.screenshot(path=str(SHOTS / "whereabouts.png"), full_page=True)
    coord.get_by_role("link", name="Amir H.").click()
    coord.get_by_role("heading", name="Where is Amir H. now").wait_for()
    assert "Aisha Begum" in coord.locator("main").inner_text()
    coord.get_by_role("link", name="The placement's register").click()
    coord.get_by_text("No answer on the family's phone.").wait_for()
    coord.get_by_role("link", name="Follow up now").click()
    coord.get_by_role("heading", name="Follow up the absence", level=1).wait_for()

    on_phone = chromium.new_page(viewport=PHONE)  # the school's list works on a phone too
    sign_in(on_phone, base, "coord")
    on_phone.goto(f"{base}/whereabouts")
    on_phone.get_by_role("heading", name="Where are our AP pupils now").wait_for()
    assert on_phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
