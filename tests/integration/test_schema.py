"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import apflow.placements.models  # noqa: F401 - the domain tables are part of the schema
from apflow.store.models import Base


def test_migrated_schema_matches_the_models(core):
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (ix_pending_timers_next_at); PostgreSQL compares it.
        warnings.simplefilter("ignore")
        with core.db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
