"""Migration 0024 (issue 17) upgrades a database where people and instances belong to no organisation, on SQLite and
PostgreSQL: the installation gets its own organisation and everything with none joins it."""
from __future__ import annotations

import os

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from apflow.store.db import alembic_config
from tests.conftest import POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request, tmp_path):
    """A database with no tables yet (a schema of its own on PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails under CI) when PostgreSQL is not there
    schema = f"apflow_m0024_{os.getpid()}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def _old_rows(engine, with_school: bool) -> None:
    with engine.begin() as conn:
        if with_school:
            conn.execute(text("INSERT INTO organisations (name, kind) VALUES ('Hill School', 'school')"))
        conn.execute(text("INSERT INTO users (username, display_name, password_hash, active, failed_logins, created_at) "
                          "VALUES ('alone', 'Alone', 'x', true, 0, '2026-01-01 09:00:00')"))
        conn.execute(text("INSERT INTO process_versions (process_id, name, version, content_hash, source_file, sources, spec, forms, "
                          "deployed_at, deployed_by, note) VALUES ('p', 'P', 1, 'h', 'p.bpmn', '{}', '{}', '{}', '2026-01-01 09:00:00', "
                          "'test', '')"))
        conn.execute(text("INSERT INTO instances (process_version_id, process_id, status, state, lock_version, created_at, updated_at) "
                          "VALUES (1, 'p', 'running', '{}', 1, '2026-01-01 09:00:00', '2026-01-01 09:00:00')"))


@pytest.mark.parametrize("with_school", [False, True])
def test_issue17_migration_0024_puts_people_instances_and_processes_in_the_installations_organisation(empty_database, with_school,
                                                                                                      monkeypatch):
    monkeypatch.setenv("APFLOW_ORGANISATION_NAME", "St Anne's School")
    config = alembic_config(empty_database)
    command.upgrade(config, "0023")
    engine = create_engine(empty_database)
    try:
        _old_rows(engine, with_school)
        command.upgrade(config, "head")
        with engine.connect() as conn:
            defaults = conn.execute(text("SELECT id, name, kind FROM organisations WHERE is_default")).all()
            assert len(defaults) == 1
            own, name, kind = defaults[0]
            # a single-school install keeps its school as its own; otherwise one is made with the configured name
            assert (name, kind) == (("Hill School", "school") if with_school else ("St Anne's School", "school"))
            assert conn.execute(text("SELECT organisation_id FROM user_organisations uo JOIN users u ON u.id = uo.user_id "
                                     "WHERE u.username = 'alone'")).scalars().all() == [own]
            assert conn.execute(text("SELECT organisation_id FROM instances")).scalars().all() == [own]
            assert conn.execute(text("SELECT organisation_id FROM process_versions")).scalars().all() == [own]
        command.downgrade(config, "0023")  # and back, for an operator who must
        command.upgrade(config, "head")
    finally:
        engine.dispose()
