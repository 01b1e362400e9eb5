"""Tables and engines of the sql bus (:mod:`wiredesk.bus.sql`).

The bus creates its tables itself (``metadata.create_all``): they live in the bus's own
database (by default a SQLite file beside the main one), outside the Alembic migrations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)

metadata = MetaData()
topics_table = Table(
    "bus_topics",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partitions", Integer, nullable=False),
)
heads = Table(
    "bus_heads",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("next_seq", BigInteger, nullable=False),
)
messages = Table(
    "bus_messages",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("key", Text),
    Column("value", LargeBinary),
    Column("headers", Text, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False, index=True),
)
offsets = Table(
    "bus_offsets",
    metadata,
    Column("grp", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)
meta = Table(
    "bus_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def make_engines(url: str) -> tuple[Engine, Engine]:
    """(writer, reader). On SQLite the writer takes the write lock at BEGIN (IMMEDIATE):
    two writers queue on busy_timeout instead of deadlocking; the reader never blocks."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        return engine, engine
    engines = []
    for immediate in (True, False):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=FULL")
            dbapi_conn.execute("PRAGMA busy_timeout=30000")

        @event.listens_for(engine, "begin")
        def _begin(conn: Any, immediate: bool = immediate) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        engines.append(engine)
    return engines[0], engines[1]
