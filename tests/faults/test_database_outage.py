"""A database that cannot be reached gives 503 with Retry-After, as JSON on the API and as a plain page in the browser,
and everything works again as soon as it is back.

PostgreSQL: the proxy refuses and cuts every connection. SQLite, a file, has no connection to lose: its outage is
the write lock held elsewhere past the lock wait ("database is locked").
"""
import sqlite3
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from apflow.web import create_app
from tests.faults.conftest import answer_within_guard
from tests.support import browser

START = "/api/v1/processes/referral_triage/instances"
BODY = {"data": {"pupil_name": "Jordan T.", "reasons": ["attendance"]}}


@contextmanager
def write_lock_held(database_url):
    """Another process holding SQLite's write lock and not letting go."""
    holder = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@contextmanager
def outage(proxy, database_url):
    if proxy is None:
        with write_lock_held(database_url):
            yield
        return
    proxy.down()
    try:
        yield
    finally:
        proxy.up()


def assert_unavailable_json(response):
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"].isdigit()
    error = response.get_json()["error"]
    assert error["code"] == "unavailable"
    assert error["message"] == "The service is unavailable for a moment. Please try again in a few seconds."
    assert error["details"] == {}


def assert_unavailable_page(response):
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "The service is unavailable for a moment" in page and "try again" in page
    assert "{" not in page  # a page, not JSON


def test_an_outage_is_a_503_with_retry_after_on_the_api_and_the_pages_and_passes(core, people, triage, proxy, database_url):
    app = create_app(core=core, run_scheduler=False)
    client = browser(app, "coord")
    headers = {"X-CSRF-Token": client.csrf}
    assert client.get("/api/v1/tasks").status_code == 200

    with outage(proxy, database_url):
        started = answer_within_guard(lambda: client.post(START, json=BODY, headers=headers))
        assert_unavailable_json(started)
        page = answer_within_guard(lambda: client.post("/start/referral_triage", data={"csrf_token": client.csrf, "nonce": "n1"}))
        assert_unavailable_page(page)
        if proxy is not None:  # reads fail too when the server is gone (SQLite readers pass a held write lock)
            assert_unavailable_json(answer_within_guard(lambda: client.get("/api/v1/tasks")))
            assert_unavailable_page(answer_within_guard(lambda: client.get("/inbox")))

    assert client.get("/api/v1/tasks").get_json()["tasks"] == []  # nothing was half-made
    started = client.post(START, json=BODY, headers=headers)
    assert started.status_code == 201 and started.get_json()["status"] == "running"
    assert client.get("/inbox").status_code == 200
