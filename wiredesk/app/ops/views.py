"""Terminal tables of the read side: stories, search hits, dead letters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy.exc
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from sink.search import Hit, rights_label
from wiredesk import db
from wiredesk.app.ops.dlq import Summary
from wiredesk.settings import Settings, SettingsError


def console() -> Console:
    """The terminal's own width; 120 columns when writing to a pipe or file."""
    out = Console()
    return out if out.is_terminal else Console(width=120)


@contextlib.contextmanager
def open_database(settings: Settings) -> Iterator[Connection]:
    """A connection; a database without the sink schema is a usage error (exit 2)."""
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            yield conn
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            raise SettingsError(
                "the database has no wiredesk schema yet: run `wiredesk db upgrade`"
            ) from exc
        raise
    finally:
        engine.dispose()


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "?"


def age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    now = now or datetime.now(UTC)
    seconds = (now - (value if value.tzinfo else value.replace(tzinfo=UTC))).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def stories_table(rows: list[Any]) -> Table:
    return _table(
        f"{len(rows)} latest stories",
        ("last update", "articles", "title", "first seen", "rights", "story"),
        (
            (
                when(r.last_update_at),
                str(r.article_count),
                r.title[:80],
                when(r.first_seen_at),
                rights_label(r),
                r.story_id,
            )
            for r in rows
        ),
    )


def story_table(story_id: str, rows: list[Any]) -> Table:
    return _table(
        f"story {story_id}: {len(rows)} articles",
        ("published", "source", "title", "duplicate of", "rights", "article"),
        (
            (
                when(r.published_at),
                r.site_name or "?",
                r.title[:70],
                r.duplicate_of or "",
                rights_label(r),
                r.article_id,
            )
            for r in rows
        ),
    )


def hits_table(query: str, hits: list[Hit]) -> Table:
    return _table(
        f"{len(hits)} articles matching {query!r}",
        ("published", "source", "title", "snippet", "rights", "article"),
        (
            (
                when(h.published_at),
                h.source or "?",
                h.title[:60],
                h.snippet,
                h.rights,
                h.article_id,
            )
            for h in hits
        ),
    )


def dlq_table(summaries: list[Summary]) -> Table:
    return _table(
        f"{sum(s.count for s in summaries)} dead letters",
        ("stage", "reason", "count", "resent", "examples"),
        (
            (s.stage, s.reason, str(s.count), str(s.resent), "\n".join(s.examples))
            for s in summaries
        ),
    )
