"""The Alembic migrations produce exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from wiredesk import db
from wiredesk.db.tables import Base  # imports every table module


def test_migrations_match_the_models(sqlite_engine):
    with sqlite_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reports_head(sqlite_url):
    db.upgrade(sqlite_url)
    assert db.current_revision(sqlite_url) is not None
