"""The trends page in the browser (R112): the coordinator opens it from the menu, every chart is drawn by Chart.js loaded
from the app's own /vendor/ URL (no CDN, nothing from another origin), with no console error; a filter narrows the
figures; on a phone nothing scrolls sideways. Saves docs/screenshots/trends.png. The records are those of the trends
scenarios (tests/scenarios/trends_world.py)."""
import shutil

import pytest

from apflow.config import ROOT
from tests.browser.conftest import served
from tests.scenarios.trends_world import FARM, build
from tests.support import SHOTS, sign_in

PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1200, "height": 900}
TABLES = ("attendance", "progress", "engagement", "destinations", "qualifications", "orders", "providers")


@pytest.fixture
def world(tmp_path, sqlite_template, frozen_clock):
    from apflow.config import Settings
    from apflow.services import calendars, processes
    from apflow.services.core import Core

    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{target}", instance_dir=tmp_path, run_scheduler=False, secret_key="browser"))
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    processes.deploy_paths(core, [ROOT / "bpmn" / "referral_triage.bpmn"], by="test")
    build(core)
    with served(core) as base:
        yield base
    core.db.dispose()


def test_R112_the_trends_page_draws_every_chart_from_served_assets(chromium, world):
    base = world
    page = chromium.new_page(viewport=DESKTOP)
    problems, requests = [], []
    # the browser's own request for /favicon.ico (apflow has none) is not the page's: every other console error is
    page.on("console", lambda m: problems.append(f"{m.text} {m.location}")
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, base, "coord")
    page.get_by_role("link", name="Trends").click()
    page.get_by_role("heading", name="Trends", exact=True).wait_for()
    for key in TABLES:
        page.locator(f"#chart-{key}[data-drawn]").wait_for()
    assert page.evaluate("typeof window.Chart") == "function"
    assert f"{base}/vendor/chartjs/chart.umd.min.js" in requests
    assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]
    drawn = page.evaluate("""() => [...document.querySelectorAll('canvas')].map(c => {
        const chart = window.Chart.getChart(c);
        const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) inked++; }
        return {id: c.id, datasets: chart ? chart.data.datasets.length : 0, width: c.width, inked};
    })""")
    assert [d["id"] for d in drawn] == [f"chart-{k}" for k in TABLES]
    assert all(d["datasets"] >= 1 and d["width"] > 100 and d["inked"] > 500 for d in drawn), drawn
    # the chart plots the table's own numbers: attendance 75% in the autumn, 50% in the spring
    assert page.evaluate("window.Chart.getChart(document.getElementById('chart-attendance')).data.datasets[0].data") == [75, 50, None]
    page.get_by_role("cell", name="75.0").first.wait_for()
    page.screenshot(path=str(SHOTS / "trends.png"), full_page=True)

    page.get_by_label("Provider", exact=True).select_option(label=FARM)
    page.get_by_role("button", name="Show").click()
    page.locator("#chart-attendance[data-drawn]").wait_for()
    assert page.evaluate("window.Chart.getChart(document.getElementById('chart-attendance')).data.datasets[0].data") == [None, 100, None]
    assert not problems, problems

    phone = chromium.new_page(viewport=PHONE)
    sign_in(phone, base, "coord")
    phone.goto(f"{base}/trends")
    phone.locator("#chart-providers[data-drawn]").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
