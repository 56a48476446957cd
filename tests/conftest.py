"""Shared fixtures: an Core on SQLite and on PostgreSQL, users, the example diagram, a moved clock.

PostgreSQL comes from APFLOW_TEST_POSTGRES_URL (default: the local server's `test` database).
When it cannot be reached the PostgreSQL variants skip, except under CI=true, where they fail.
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from apflow.clock import clock
from apflow.config import ROOT, Settings
from apflow.services import users
from apflow.services.core import Core
from apflow.store.models import Base
from tests.support import make_user

POSTGRES_URL = os.environ.get("APFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MONDAY = datetime(2026, 1, 12, 9, 0, tzinfo=timezone.utc)
# Scripts are stopped by the sandbox's work limits (steps, sizes, depth) in tests, never by how fast the machine
# is: the wall-clock limit is only a backstop here (tests/engine/test_sandbox.py proves the clock limit itself).
SCRIPT_BACKSTOP_SECONDS = 3600.0


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as err:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {err.__class__.__name__}: {str(err).splitlines()[0]}"


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    """Argon2 at minimum cost: the same code path, without 100 ms per test user."""
    from argon2 import PasswordHasher

    saved = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    users._hasher = saved


@pytest.fixture(scope="session")
def postgres_url():
    problem = _postgres_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem} (CI=true: PostgreSQL tests must run)")
        pytest.skip(problem)
    schema = f"apflow_test_{os.getpid()}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    Core(Settings.from_env({}, database_url=url)).db.upgrade()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    Core(Settings.from_env({}, database_url=f"sqlite:///{path}")).db.upgrade()
    return path


# Folders whose tests never touch a database, so they stay fast (`pytest tests/unit tests/engine`).
NO_DATABASE = {"unit", "engine"}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if Path(request.node.path).relative_to(Path(__file__).parent).parts[0] in NO_DATABASE:
        pytest.fail("tests in tests/unit and tests/engine never touch a database; put this test in tests/integration")
    if request.param == "sqlite":
        target = tmp_path / "apflow.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        _empty_postgres(conn)
    engine.dispose()
    return url


def _empty_postgres(conn) -> None:
    """Empty every table an earlier test wrote to and restart its ids. Truncating only those (rows present, or an
    id sequence used even by a rolled-back insert) costs a few milliseconds instead of 150 for all fifty tables."""
    names = [t.name for t in Base.metadata.sorted_tables]
    holding = " UNION ALL ".join(f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM {n})" for n in names)
    dirty = set(conn.scalars(text(holding)))
    dirty |= {seq.removesuffix("_id_seq") for seq in conn.scalars(text(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"))}
    dirty &= set(names)
    if dirty:
        conn.execute(text(f"TRUNCATE {', '.join(sorted(dirty))} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(database_url, tmp_path):
    return Settings.from_env({}, database_url=database_url, instance_dir=tmp_path / "instance",
                             forms_dir=ROOT / "forms", bpmn_dir=ROOT / "bpmn", run_scheduler=False,
                             secret_key="test-secret", script_seconds=SCRIPT_BACKSTOP_SECONDS)


@pytest.fixture
def core(settings):
    app = Core(settings)
    yield app
    app.db.dispose()


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(MONDAY)
    yield clock
    clock.reset()


@pytest.fixture
def people(core):
    """One user per role used by the example diagram, plus a manager and an outsider."""
    return {
        "coordinator": make_user(core, "coord", "coordinator"),
        "coordinator2": make_user(core, "coord2", "coordinator"),
        "headteacher": make_user(core, "head", "headteacher"),
        "manager": make_user(core, "boss", "manager"),
        "parent": make_user(core, "parent", "parent"),
    }


@pytest.fixture
def triage(core):
    """The example referral triage diagram, deployed."""
    from apflow.services import processes

    return processes.deploy_paths(core, [ROOT / "bpmn" / "referral_triage.bpmn"], by="test")[0]

