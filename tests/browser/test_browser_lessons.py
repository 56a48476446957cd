"""A tutor writes a lesson report on a phone (R72, R7): at 390 px, from "My sessions", with every score in plain words
and nothing wider than the screen; the school's coordinator then reads it on the placement's lessons page."""
import shutil

import pytest

from apflow.config import ROOT
from tests.browser.conftest import served
from tests.scenarios.lessons_world import build
from tests.support import SHOTS, sign_in

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def world(tmp_path, sqlite_template, frozen_clock):
    from apflow.config import Settings
    from apflow.services import calendars, processes
    from apflow.services.core import Core

    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{target}", instance_dir=tmp_path, run_scheduler=False, secret_key="browser"))
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    processes.deploy_paths(core, [ROOT / "bpmn"], by="test")
    life, people, iid, pid = build(core, frozen_clock)
    with served(core) as base:
        yield base, iid
    core.db.dispose()


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_R72_a_tutor_writes_a_lesson_report_on_a_phone_and_the_school_reads_it(chromium, world):
    base, iid = world
    tutor = chromium.new_page(viewport=PHONE)
    sign_in(tutor, base, "tutor")
    tutor.goto(f"{base}/lessons")
    assert _fits(tutor)
    tutor.get_by_role("button", name="Write the report").first.click()
    tutor.get_by_label("What was covered").fill("Stripped and rebuilt a carburettor.")
    for measure, words in [("Taking part", "4 · Took part well"), ("Behaviour", "4 · Good"), ("Getting on with others", "4 · Got on well"),
                           ("Progress", "3 · Some progress"), ("Wellbeing", "4 · Happy")]:
        tutor.get_by_role("group", name=measure).get_by_label(words, exact=True).check()
    assert _fits(tutor)
    tutor.get_by_label("A comment for the school only", exact=False).fill("Tired today.")
    tutor.screenshot(path=str(SHOTS / "lesson-report-phone.png"), full_page=True)
    tutor.get_by_role("button", name="Save the report").click()
    tutor.get_by_text("Report saved.").wait_for()
    assert tutor.get_by_text("Report written").is_visible()
    coord = chromium.new_page(viewport={"width": 1200, "height": 900})
    sign_in(coord, base, "coord")
    coord.goto(f"{base}/placements/{iid}/lessons")
    coord.get_by_text("Stripped and rebuilt a carburettor.").wait_for()
    assert coord.get_by_text("Tired today.").is_visible() and coord.get_by_text("Wellbeing: 4 · Happy").is_visible()
