"""One consumer of each group per sql bus: `wiredesk run` and `wiredesk local` hold an
exclusive lock on the bus while they run (each group has a single member there, so two
processes would both consume every record)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url, text

from wiredesk import db as database
from wiredesk.settings import Settings, SettingsError


@contextmanager
def only_one(settings: Settings) -> Iterator[None]:
    """Hold an exclusive lock on the bus for the life of the service: two `run`s on one
    bus would both consume every record (each group has one member). Released by the OS
    on any exit, kill -9 included (a file lock on SQLite, a session advisory lock on
    PostgreSQL)."""
    if settings.bus != "sql":
        yield
        return
    url = make_url(settings.sql_bus_url())
    message = (
        f"another `wiredesk run` or `wiredesk local` is using the bus {url.render_as_string()}"
    )
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database)).with_suffix(".run.lock")
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SettingsError(message) from None
            yield
        return
    engine = database.make_engine(settings.sql_bus_url(), pool_size=1)
    try:
        with engine.connect() as conn:
            if not conn.scalar(
                text("SELECT pg_try_advisory_lock(hashtext('wiredesk run ' || current_schema()))")
            ):
                raise SettingsError(message)
            conn.commit()
            yield
    finally:
        engine.dispose()
