"""wiredesk.db.make_engine on a real PostgreSQL: a pooled connection that died while it
sat idle is pinged at checkout and replaced; one used a moment ago is not pinged."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from wiredesk import db

pytestmark = pytest.mark.integration


def _kill_pooled_connection(engine) -> None:
    """Terminate the backend of the engine's one pooled connection, from another session."""
    with engine.connect() as conn:
        pid = conn.connection.dbapi_connection.info.backend_pid
    killer = db.make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with killer.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()


def test_a_connection_that_died_while_idle_is_replaced_at_checkout(pg_url):
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        _kill_pooled_connection(engine)
        time.sleep(db.PING_AFTER_IDLE_S + 0.2)  # idle long enough to be pinged
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 41 + 1")) == 42
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_url):
    """The price of skipping the ping: its first statement fails, the pool is renewed and
    the caller's retry (every stage has one) succeeds."""
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        _kill_pooled_connection(engine)
        with pytest.raises(DBAPIError) as failed, engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        with engine.connect() as conn:  # the retry
            assert conn.scalar(text("SELECT 41 + 1")) == 42
    finally:
        engine.dispose()
