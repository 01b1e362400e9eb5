"""Shared-state plumbing for the transform: the state lock, retention, safe time helpers.

Lock: on PostgreSQL every decision transaction (dedup, story) first takes one
transaction-scoped advisory lock, :data:`STATE_LOCK`. Decisions merge groups and stories
(rewriting the verdicts of their members), so a decision may touch rows that share no
key with the arriving article; one lock makes every decision see all decisions committed
before it, on any worker, with no deadlock and no retry. The critical section is a few
database round trips (NER runs outside it). SQLite (the embedded mode) runs one
process, whose stages run one record at a time, so it needs no lock.

Times: every time the transform orders goes through :func:`as_utc`, which never raises
(year 1, year 9999, naive and aware mixes); story windows compare integer seconds
(:mod:`transform.storysim`); :func:`untrusted_date` says which publication dates are
treated as unknown.

Retention: rows whose first-seen (processing) time is older than the window are deleted
by :func:`prune`, which any worker may run at any time (it is idempotent). A pruned
article no longer links groups or stories: the components are a function of the set of
articles decided within the retention window.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, select, text
from sqlalchemy import table as sql_table

from wiredesk.db.dedup_tables import (
    ContentFingerprintRow,
    DedupBandRow,
    DedupEntryRow,
    StoryKeyRow,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC, aware; naive values are taken as UTC (SQLite returns those).

    Never raises: an offset that would carry the instant past year 1 or 9999 clamps it.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year < 5000 else datetime.max
        return edge.replace(tzinfo=UTC)


EARLIEST_TRUSTED = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def untrusted_date(published: datetime | None, fetched: datetime | None) -> str | None:
    """Why a page's publication date is not believable ("before_1990", "future"), or None.

    Believable: from 1990 to one day after the fetch time (now when it is unknown).
    """
    if published is None:
        return None
    when = as_utc(published)
    if when < EARLIEST_TRUSTED:
        return "before_1990"
    if when - as_utc(fetched or utcnow()) > FUTURE_SLACK:
        return "future"
    return None


STATE_LOCK = 0x7769726564657364  # "wiredesd": the one advisory lock of transform decisions


def lock_state(conn: Connection) -> None:
    """Serialise transform decisions across workers (PostgreSQL; SQLite has one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STATE_LOCK})


def key_of(kind: str, value: str) -> int:
    """A signed 64-bit key for ``value`` (index key and advisory lock id)."""
    digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def prune(engine: Engine, retention: timedelta, now: datetime | None = None) -> dict[str, int]:
    """Delete transform state first seen before ``now - retention``; rows deleted per table."""
    cutoff = (now or utcnow()) - retention
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        # Entries are numbered in insertion order, so the old ones are one range of seq
        # (which a BRIN index on dedup_bands.entry_seq serves cheaply).
        last_old = conn.scalar(
            select(func.max(DedupEntryRow.seq)).where(DedupEntryRow.first_seen_at < cutoff)
        )
        counts["dedup_bands"] = counts["dedup_entries"] = counts["story_article_keys"] = 0
        if last_old is not None:
            counts["dedup_bands"] = conn.execute(
                delete(DedupBandRow).where(DedupBandRow.entry_seq <= last_old)
            ).rowcount
            counts["story_article_keys"] = conn.execute(
                delete(StoryKeyRow).where(StoryKeyRow.entry_seq <= last_old)
            ).rowcount
            counts["dedup_entries"] = conn.execute(
                delete(DedupEntryRow).where(DedupEntryRow.seq <= last_old)
            ).rowcount
        counts["content_fingerprints"] = conn.execute(
            delete(ContentFingerprintRow).where(ContentFingerprintRow.first_seen_at < cutoff)
        ).rowcount
    return counts


STATE_TABLES = ("dedup_entries", "dedup_bands", "content_fingerprints", "story_article_keys")


def table_bytes(conn: Connection, table: str) -> int | None:
    """On-disk bytes of a table with its indexes (PostgreSQL, or SQLite with dbstat)."""
    try:
        if conn.dialect.name == "postgresql":
            size = conn.scalar(text("SELECT pg_total_relation_size(:t)"), {"t": table})
            return int(size or 0)
        size = conn.scalar(
            text(
                "SELECT sum(pgsize) FROM dbstat WHERE name = :t OR name IN "
                "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"
            ),
            {"t": table},
        )
        return int(size or 0)
    except Exception:  # dbstat is an optional SQLite extension
        conn.rollback()
        return None


def stats(engine: Engine) -> dict[str, object]:
    """Rows and bytes per state table, and bytes per remembered article."""
    result: dict[str, object] = {}
    total = 0
    with engine.connect() as conn:
        for table in STATE_TABLES:
            rows = int(conn.scalar(select(func.count()).select_from(sql_table(table))) or 0)
            size = table_bytes(conn, table)
            result[f"{table}.rows"] = rows
            result[f"{table}.bytes"] = size
            total += size or 0
        articles = result["dedup_entries.rows"]
    result["total.bytes"] = total
    result["bytes_per_article"] = round(total / articles) if articles else None
    return result
