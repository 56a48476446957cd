"""Fixtures for the browser tests: Debian's headless Chromium (driven by Playwright) and a live apflow server
on a copy of the migrated SQLite template, with three staff, the referral diagram and three referrals."""
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from apflow.config import ROOT
from apflow.services import instances, processes, users
from apflow.web import create_app
from tests.support import PASSWORD


@contextmanager
def served(core):
    """The app on a free port, served by waitress in a thread as `apflow serve` would; its base URL."""
    from waitress.server import create_server

    server = create_server(create_app(core=core, run_scheduler=False), host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Playwright gives up on a wait after 30 s; on a busy machine a page can take that long without anything being
# wrong. The tests wait for what the page shows, and this ceiling is only a hang guard.
PATIENCE_MS = int(os.environ.get("APFLOW_TEST_PATIENCE_MS", "300000"))  # shorter only when debugging a test


class _PatientBrowser:
    """The browser, whose new pages wait up to PATIENCE_MS instead of Playwright's 30 s."""

    def __init__(self, browser):
        self._browser = browser

    def new_page(self, **options):
        page = self._browser.new_page(**options)
        page.set_default_timeout(PATIENCE_MS)
        page.set_default_navigation_timeout(PATIENCE_MS)
        return page

    def __getattr__(self, name):
        return getattr(self._browser, name)


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
        yield _PatientBrowser(browser)
        browser.close()


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def live(tmp_path, sqlite_url, frozen_clock):
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
    with served(core) as base:
        yield base, core
    core.db.dispose()
