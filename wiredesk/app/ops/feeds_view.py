"""``wiredesk feeds``: the health of every polled feed, as a table."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from wiredesk.app.ops.views import age, console, open_database
from wiredesk.feed_health import FeedHealth, feed_health
from wiredesk.settings import Settings

STYLE = {"ok": "green", "erroring": "yellow", "failing": "bold red", "stale": "yellow"}


def feeds_table(feeds: list[FeedHealth], now: datetime | None = None) -> Table:
    now = now or datetime.now(UTC)
    table = Table(title=f"{len(feeds)} feeds")
    for column in ("status", "feed", "title", "last success", "last poll", "fails", "last error"):
        table.add_column(column, overflow="fold")
    for f in feeds:
        table.add_row(
            f"[{STYLE.get(f.status, 'dim')}]{f.status}[/]",
            f.url,
            (f.title or "")[:40],
            age(f.last_success_at, now),
            age(f.last_polled_at, now),
            str(f.consecutive_failures),
            (f.last_error or "")[:60],
        )
    return table


def show_feeds(settings: Settings, out: Console | None = None) -> int:
    """Print the feed health table; exit 0 if no feed is failing, 1 otherwise."""
    out = out or console()
    with open_database(settings) as conn:
        feeds = feed_health(conn, settings.feed_failing_after, settings.poll_interval_s * 3)
    if not feeds:
        out.print("no feeds polled yet (the poller records each feed after its first poll)")
        return 0
    out.print(feeds_table(feeds))
    failing = sum(f.status == "failing" for f in feeds)
    out.print(f"{failing} failing (>= {settings.feed_failing_after} failed polls in a row)")
    return 1 if failing else 0
