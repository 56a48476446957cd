"""The inbox in a real browser (Debian's headless Chromium driven by Playwright).

Saves the screenshots the README shows into docs/screenshots/.
"""
import os
import shutil
import threading
from pathlib import Path

import pytest

from apflow.config import ROOT
from apflow.services import instances, processes, users
from apflow.web import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        reason = "Debian's chromium is not installed (apt-get install chromium); .ci/test installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking",
                                                                     "--disable-component-update", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def live(tmp_path, sqlite_url, frozen_clock):
    from waitress.server import create_server

    from apflow.config import Settings
    from apflow.services.core import Core

    core = Core(Settings.from_env({}, database_url=sqlite_url, instance_dir=tmp_path, run_scheduler=False, secret_key="browser"))
    with core.db.session() as s:
        for name, display, roles in [("priya", "Priya Shah", ["coordinator"]), ("tom", "Tom Reilly", ["coordinator"]),
                                     ("sam", "Sam Carter", ["manager", "coordinator"])]:
            users.add_user(s, name, PASSWORD, roles, display_name=display)
    processes.deploy_paths(core, [ROOT / "bpmn" / "referral_triage.bpmn"], by="test")
    with core.db.session() as s:
        priya = users.user_by_name(s, "priya")
    for name, ref, reasons in [("Jordan T.", "NEST-0142", ["attendance"]), ("Mia K.", "NEST-0178", ["medical", "send"]),
                               ("Leo B.", "NEST-0203", ["needs_not_met"])]:
        instances.start_instance(core, priya, "referral_triage", {"pupil_name": name, "pupil_ref": ref, "reasons": reasons})
    server = create_server(create_app(core=core, run_scheduler=False), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", core
    server.close()
    core.db.dispose()


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_coordinator_claims_fixes_a_form_error_and_moves_the_placement_on(chromium, live):
    base, core = live
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, base, "priya")
    page.get_by_role("heading", name="Inbox").wait_for()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)

    page.get_by_role("link", name="Triage referral").first.click()
    page.get_by_role("button", name="Claim").click()
    page.get_by_text("You have claimed this task").wait_for()
    page.get_by_label("Accept for placement").check()
    page.get_by_label("Why").fill("short")
    page.get_by_role("button", name="Complete task").click()
    summary = page.get_by_role("alert")
    summary.get_by_text("There is a problem").wait_for()
    assert page.get_by_label("Why").input_value() == "short"  # kept on error
    assert page.get_by_label("Accept for placement").is_checked()
    page.screenshot(path=str(SHOTS / "task-form.png"), full_page=True)
    summary.get_by_role("link").first.click()  # the summary links to the field
    assert page.url.endswith("#f-rationale")

    page.get_by_label("Why").fill("Attendance has been below 50% since September; needs a fresh start.")
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("is done and the placement process has finished").wait_for()
    page.get_by_text("Task completed").first.wait_for()
    page.screenshot(path=str(SHOTS / "placement.png"), full_page=True)
    page.close()


def test_manager_bulk_reassigns_tasks(chromium, live):
    base, core = live
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, base, "sam")
    page.get_by_role("link", name="All tasks").click()
    boxes = page.get_by_role("checkbox", name="Select Triage referral")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_label("Action").select_option("assign")
    page.get_by_label("Colleague's username").fill("tom")
    page.get_by_role("button", name="Apply to ticked tasks").click()
    page.get_by_text("2 task(s) updated.").wait_for()
    assert page.get_by_role("cell", name="Tom Reilly").count() == 2
    page.close()


def test_pages_work_on_a_phone_sized_screen_with_the_keyboard(chromium, live):
    base, _ = live
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}/login")
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"
    page.get_by_label("Username").fill("priya")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Inbox").wait_for()
    page.screenshot(path=str(SHOTS / "inbox-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 391  # no sideways scrolling of the page
    page.close()
