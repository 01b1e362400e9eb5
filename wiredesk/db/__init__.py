"""Database access shared by every stage: engine factory, upsert helper, migrations.

The schema lives here rather than in ``sink/`` because three roles use it: ingest keeps
feed state, transform keeps dedup/story state, and the sink writes articles. All of it
runs on PostgreSQL (services) and SQLite (embedded mode, tests) through the same models.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError

MIGRATIONS = Path(__file__).parent / "migrations"

# Dialect-specific objects created by migrations but not declared on the models (see
# wiredesk.db.tables); autogenerate and the model/migration comparison skip them.
MIGRATION_ONLY_OBJECTS = frozenset({"ix_articles_search"})


def json_loads(data: str | bytes) -> Any:
    """JSON columns as Python values: orjson (several times faster than the standard
    library on the story profiles every story lookup reads; BENCHMARKS.md), falling back
    to :func:`json.loads` for what orjson refuses and the standard library reads (``NaN``,
    ``Infinity``, integers beyond 64 bits), so a row the old reader took is never lost."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def include_in_autogenerate(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: everything except MIGRATION_ONLY_OBJECTS."""
    return not (type_ == "index" and name in MIGRATION_ONLY_OBJECTS)


def make_engine(
    url: str,
    *,
    lock_timeout_s: float | None = None,
    statement_timeout_s: float | None = None,
    idle_in_transaction_timeout_s: float | None = None,
    synchronous_commit: bool = True,
    **kwargs: Any,
) -> Engine:
    """An engine that survives dropped connections (:func:`ping_when_idle`) and, on
    SQLite, concurrency.

    On PostgreSQL the optional timeouts become session settings of every connection: a
    writer that waits for a lock, runs a statement, or sits idle inside a transaction
    (e.g. a frozen process holding row locks) longer than that gets an error (the
    runner retries, readiness goes false) or has its session ended, never stalls the
    other writers for ever."""
    kwargs.setdefault("json_deserializer", json_loads)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", 5)
    connect_args: dict[str, Any] = {"connect_timeout": 10, "application_name": "wiredesk"}
    options = [
        f"-c {name}={int(seconds * 1000)}"
        for name, seconds in (
            ("lock_timeout", lock_timeout_s),
            ("statement_timeout", statement_timeout_s),
            ("idle_in_transaction_session_timeout", idle_in_transaction_timeout_s),
        )
        if seconds is not None
    ]
    if not synchronous_commit:  # commits do not wait for their WAL flush (best-effort data)
        options.append("-c synchronous_commit=off")
    if options:  # kept with any options of the URL itself (e.g. a search_path)
        given = make_url(url).query.get("options")
        given = " ".join(given) if isinstance(given, tuple) else given
        connect_args["options"] = " ".join(([given] if given else []) + options)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_S = 1.0


def ping_when_idle(engine: Engine, idle_s: float = PING_AFTER_IDLE_S) -> None:
    """Ping a pooled connection at checkout only if it sat in the pool ``idle_s`` or more.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a ``SELECT 1`` round trip per
    transaction, which the profile found in every stage (a twentieth of the poller's
    CPU: BENCHMARKS.md, Cut 10). A connection used a moment ago is as good as the ping
    would say; one that sat out a database restart is pinged and, if dead, replaced (the
    pool's ``DisconnectionError`` protocol, as pre-ping does). A connection lost within
    ``idle_s`` of its last use fails its first statement instead, like one lost in the
    middle of a transaction: the callers retry those already."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:  # the pool drops this connection and takes another
            raise DisconnectionError(repr(exc)) from exc


def insert_for(engine: Engine, table: Table) -> Any:
    """The dialect's INSERT with ``on_conflict_do_update/nothing`` (PostgreSQL and SQLite)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert_many(conn: Any, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """Execute an INSERT .. ON CONFLICT for many rows in one round trip.

    A plain executemany: psycopg 3 sends the rows in pipeline mode, one prepared
    statement for all of them. Adding RETURNING would make SQLAlchemy build multi-row
    VALUES statements ("insertmanyvalues") instead, whose text differs with every row
    count, so psycopg re-parses each one: about 1.5 times the client CPU and 1.3 times
    the wall time per row in batches of 100 (BENCHMARKS.md, Cut 9).
    """
    conn.execute(stmt, rows)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (``wiredesk db upgrade``).

    Each domain (ingest, transform, sink) keeps its own branch of migrations on top of
    ``0001``, so "heads" (all branch tips) is the default target.
    """
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The applied revision(s), comma-separated (one per migration branch), or None."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
            return ",".join(sorted(heads)) or None
    finally:
        engine.dispose()
