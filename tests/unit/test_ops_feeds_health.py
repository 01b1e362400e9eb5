"""Feed health on SQLite: statuses, the `wiredesk feeds` table and exit code, and the
gauges the sink service exports from the feeds table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from rich.console import Console

from sink.articles import ArticleWriter
from sink.db_metrics import DatabaseCollector
from tests.unit.test_sink_tables import article
from wiredesk.app.ops.feeds_view import show_feeds
from wiredesk.db import insert_for
from wiredesk.db.feed_tables import FeedRow
from wiredesk.settings import Settings


def add_feeds(engine) -> datetime:
    """The feeds of every status, relative to now (not to import time: a long run would
    turn the healthy feed stale); returns that now."""
    now = datetime.now(UTC)
    rows = [
        dict(
            feed_id="f-ok",
            url="https://ok.example/rss",
            title="OK",
            last_polled_at=now,
            last_success_at=now,
            consecutive_failures=0,
        ),
        dict(
            feed_id="f-bad",
            url="https://bad.example/rss",
            last_polled_at=now,
            last_success_at=now - timedelta(days=2),
            consecutive_failures=4,
            last_error="http_5xx: https://bad.example/rss answered 503",
        ),
        dict(
            feed_id="f-flaky",
            url="https://flaky.example/rss",
            last_polled_at=now,
            last_success_at=now - timedelta(minutes=5),
            consecutive_failures=1,
        ),
        dict(
            feed_id="f-old",
            url="https://old.example/rss",
            last_polled_at=now,
            last_success_at=now - timedelta(days=3),
            consecutive_failures=0,
        ),
    ]
    keys = ("title", "last_error")
    with engine.begin() as conn:
        for row in rows:
            conn.execute(insert_for(engine, FeedRow.__table__), [dict.fromkeys(keys) | row])
    return now


def test_feeds_table_shows_each_status_and_fails_when_a_feed_is_failing(sqlite_url, sqlite_engine):
    add_feeds(sqlite_engine)
    out = Console(width=200, record=True)
    code = show_feeds(Settings(database_url=sqlite_url, poll_interval_s=600), out)
    text = out.export_text()
    assert code == 1
    for status, url in (
        ("ok", "ok.example"),
        ("failing", "bad.example"),
        ("erroring", "flaky.example"),
        ("stale", "old.example"),
    ):
        line = next(line for line in text.splitlines() if url in line)
        assert status in line, line
    assert "answered 503" in text and "1 failing" in text


def test_the_sink_exports_feed_health_and_row_counts(sqlite_engine):
    now = add_feeds(sqlite_engine)
    ArticleWriter(sqlite_engine).write([article(1), article(2)])
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(sqlite_engine, 3, 1800, refresh_s=60))
    value = registry.get_sample_value
    assert value("wiredesk_db_up") == 1
    assert value("wiredesk_feeds", {"status": "failing"}) == 1
    assert value("wiredesk_feeds", {"status": "stale"}) == 1
    assert value("wiredesk_feed_consecutive_failures", {"feed_id": "f-bad"}) == 4
    assert value("wiredesk_feed_last_success_timestamp_seconds", {"feed_id": "f-ok"}) == (
        now.timestamp()
    )
    assert value("wiredesk_db_rows", {"table": "articles"}) == 2
    assert value("wiredesk_db_rows", {"table": "entities"}) == 2


def test_a_database_that_cannot_be_read_gives_db_up_0_not_a_failed_scrape(tmp_path):
    from wiredesk import db

    engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no schema
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(engine, 3, 1800, refresh_s=60))
    assert registry.get_sample_value("wiredesk_db_up") == 0
    engine.dispose()
