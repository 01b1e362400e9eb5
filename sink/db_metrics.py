"""Gauges read from the database on scrape: feed health and table sizes.

Registered by the sink service only (``wiredesk sink``). Results are cached for
``refresh_s`` so frequent scrapes cost one query round per interval. Labels: feed ids
(bounded by the feed registry), statuses, table names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import Engine, func, select, text

from wiredesk.db.tables import ArticleEntityRow, ArticleRow, EntityRow, SourceRow, StoryRow
from wiredesk.feed_health import STATUSES, feed_health

log = structlog.get_logger(__name__)
COUNTED = (SourceRow, ArticleRow, EntityRow, ArticleEntityRow, StoryRow)


class DatabaseCollector(Collector):
    def __init__(
        self, engine: Engine, failing_after: int, stale_after_s: float, refresh_s: float
    ) -> None:
        self.engine = engine
        self.failing_after = failing_after
        self.stale_after_s = stale_after_s
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._at = float("-inf")

    def describe(self) -> list[Metric]:
        return []  # no names to reserve; keeps registration from querying the database

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._at >= self.refresh_s:
                self._cached = self._read()
                self._at = time.monotonic()
            yield from self._cached

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily("wiredesk_db_up", "1 if the last database read succeeded")
        try:
            metrics = self._read_database()
        except Exception as exc:  # the scrape must not fail because the database did
            log.warning("db_metrics_failed", error=repr(exc)[:300])
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *metrics]

    def _read_database(self) -> list[Metric]:
        feeds = GaugeMetricFamily("wiredesk_feeds", "Feeds by health status", labels=["status"])
        failures = GaugeMetricFamily(
            "wiredesk_feed_consecutive_failures", "Polls in a row that failed", labels=["feed_id"]
        )
        success = GaugeMetricFamily(
            "wiredesk_feed_last_success_timestamp_seconds",
            "When the feed was last polled successfully",
            labels=["feed_id"],
        )
        rows = GaugeMetricFamily(
            "wiredesk_db_rows",
            "Rows per sink table (estimate on large PostgreSQL tables)",
            labels=["table"],
        )
        with self.engine.connect() as conn:
            health = feed_health(conn, self.failing_after, self.stale_after_s)
            for table in COUNTED:
                rows.add_metric([table.__tablename__], _row_count(conn, table))
        by_status = dict.fromkeys(STATUSES, 0)
        for feed in health:
            by_status[feed.status] += 1
            failures.add_metric([feed.feed_id], feed.consecutive_failures)
            if feed.last_success_at is not None:
                success.add_metric([feed.feed_id], feed.last_success_at.timestamp())
        for status, count in by_status.items():
            feeds.add_metric([status], count)
        return [feeds, failures, success, rows]


def _row_count(conn, table) -> float:  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        estimate = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
            {"t": table.__tablename__},
        ).scalar()
        if estimate is not None and estimate > 100_000:
            return float(estimate)
    return float(conn.scalar(select(func.count()).select_from(table)) or 0)


_registered: DatabaseCollector | None = None


def register(engine: Engine, failing_after: int, stale_after_s: float, refresh_s: float) -> None:
    """Install the collector in the default registry (once per process)."""
    global _registered
    if _registered is not None:
        REGISTRY.unregister(_registered)
    _registered = DatabaseCollector(engine, failing_after, stale_after_s, refresh_s)
    REGISTRY.register(_registered)
