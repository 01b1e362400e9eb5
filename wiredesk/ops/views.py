"""Terminal tables of the read side: stories, search hits, dead letters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy.exc
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from sink.search import Hit
from wiredesk import db
from wiredesk.ops.dlq import Summary
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


def stories_table(rows: list[object]) -> Table:
    table = Table(title=f"{len(rows)} latest stories")
    for column in ("last update", "articles", "title", "first seen", "story"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            when(r.last_update_at),  # type: ignore[attr-defined]
            str(r.article_count),  # type: ignore[attr-defined]
            r.title[:80],  # type: ignore[attr-defined]
            when(r.first_seen_at),  # type: ignore[attr-defined]
            r.story_id,  # type: ignore[attr-defined]
        )
    return table


def story_table(story_id: str, rows: list[object]) -> Table:
    table = Table(title=f"story {story_id}: {len(rows)} articles")
    for column in ("published", "source", "title", "duplicate of", "article"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            when(r.published_at),  # type: ignore[attr-defined]
            r.site_name or "?",  # type: ignore[attr-defined]
            r.title[:70],  # type: ignore[attr-defined]
            r.duplicate_of or "",  # type: ignore[attr-defined]
            r.article_id,  # type: ignore[attr-defined]
        )
    return table


def hits_table(query: str, hits: list[Hit]) -> Table:
    table = Table(title=f"{len(hits)} articles matching {query!r}")
    for column in ("published", "source", "title", "snippet", "article"):
        table.add_column(column, overflow="fold")
    for h in hits:
        table.add_row(when(h.published_at), h.source or "?", h.title[:60], h.snippet, h.article_id)
    return table


def dlq_table(summaries: list[Summary]) -> Table:
    total = sum(s.count for s in summaries)
    table = Table(title=f"{total} dead letters")
    for column in ("stage", "reason", "count", "resent", "examples"):
        table.add_column(column, overflow="fold")
    for s in summaries:
        table.add_row(s.stage, s.reason, str(s.count), str(s.resent), "\n".join(s.examples))
    return table
