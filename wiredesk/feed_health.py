"""Feed health: read from the ``feeds`` table (kept by the poller), for the terminal
(``wiredesk feeds``) and for Prometheus (gauges exported by the sink service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from wiredesk.db.feed_tables import FeedRow

STATUSES = ("ok", "erroring", "failing", "stale", "never_polled")


@dataclass(frozen=True)
class FeedHealth:
    feed_id: str
    url: str
    title: str | None
    status: str
    consecutive_failures: int
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None


def status_of(row: Any, now: datetime, failing_after: int, stale_after_s: float) -> str:
    """failing: ``failing_after`` polls in a row failed; erroring: the last one did;
    stale: no success for ``stale_after_s``; never_polled; else ok."""
    failures = row.consecutive_failures or 0
    if failures >= failing_after:
        return "failing"
    if failures > 0:
        return "erroring"
    if row.last_polled_at is None:
        return "never_polled"
    success = _aware(row.last_success_at)
    if success is None or (now - success).total_seconds() > stale_after_s:
        return "stale"
    return "ok"


def feed_health(
    conn: Connection, failing_after: int = 3, stale_after_s: float = 3600.0
) -> list[FeedHealth]:
    now = datetime.now(UTC)
    rows = conn.execute(select(FeedRow.__table__).order_by(FeedRow.url)).all()
    return [
        FeedHealth(
            feed_id=r.feed_id,
            url=r.url,
            title=r.title,
            status=status_of(r, now, failing_after, stale_after_s),
            consecutive_failures=r.consecutive_failures or 0,
            last_polled_at=_aware(r.last_polled_at),
            last_success_at=_aware(r.last_success_at),
            last_error=r.last_error,
        )
        for r in rows
    ]


def _aware(when: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)
