"""Alembic environment: runs migrations on the URL given by ``wiredesk db upgrade``."""

from __future__ import annotations

from alembic import context

from wiredesk.db import include_in_autogenerate, make_engine
from wiredesk.db.tables import Base  # imports every table module

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Fail fast instead of queueing behind a long transaction (ACCESS EXCLUSIVE
                # lock queue blocks every reader); the caller retries.
                connection.exec_driver_sql("SET lock_timeout = '5s'")
                connection.commit()  # the SET autobegan a transaction alembic would not end
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                include_name=include_in_autogenerate,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
