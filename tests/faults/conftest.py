"""Fault tests run apflow with short bounded waits and, on PostgreSQL, through a FaultProxy the test controls.

The waits are short so a test that proves "an error comes back instead of a hang" finishes soon; each such test
also has its own generous guard, so none depends on how fast the machine is.
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import make_url

from tests.faults.proxy import FaultProxy

SHORT_WAIT = 2.0  # seconds: statement timeout (SQLite: lock wait), pool timeout, connect timeout (libpq's least)
GUARD = 90.0  # seconds a test waits for an answer before calling it a hang


@pytest.fixture
def proxy(database_url):
    """The FaultProxy in front of PostgreSQL; None on SQLite (a file has no connection to cut)."""
    if database_url.startswith("sqlite"):
        yield None
        return
    url = make_url(database_url)
    running = FaultProxy(url.host or "127.0.0.1", url.port or 5432)
    yield running
    running.close()


@pytest.fixture
def settings(settings, database_url, proxy):
    """The usual test settings, through the proxy, with short bounded waits."""
    if proxy is not None:
        settings.database_url = make_url(database_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings.db_statement_timeout = settings.db_pool_timeout = settings.db_connect_timeout = SHORT_WAIT
    return settings


def answer_within_guard(call):
    """Run call() in a thread and return its result (or raise its error); fail the test if it hangs past GUARD."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), f"no answer within {GUARD:g} s: the wait is not bounded"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
