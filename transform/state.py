"""Shared-state plumbing for the transform: key locks, retention, time helpers.

Locks: on PostgreSQL every decision transaction first takes transaction-scoped advisory
locks on the keys it will read and write (LSH band keys for dedup, feature keys and the
dedup group for stories), in ascending order so two transactions can never deadlock.
Two copies of one story share band keys, so their decisions serialise: whichever takes
the locks second sees the first one's committed row, on any worker. Articles that share
no key never wait for each other. SQLite (the embedded mode) runs one process, whose
stages run one record at a time, so it needs no locks.

Retention: rows whose first-seen (processing) time is older than the window are deleted
by :func:`prune`, which any worker may run at any time (it is idempotent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, select, text
from sqlalchemy import table as sql_table

from wiredesk.db.dedup_tables import (
    ContentFingerprintRow,
    DedupBandRow,
    DedupEntryRow,
    StoryKeyRow,
    StoryRow,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def key_of(kind: str, value: str) -> int:
    """A signed 64-bit key for ``value`` (index key and advisory lock id)."""
    digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def lock_keys(conn: Connection, keys: Iterable[int]) -> None:
    """Take transaction-scoped advisory locks on ``keys`` in ascending order (PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return
    ordered = sorted(set(keys))
    if ordered:
        conn.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(k)) "
                "FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n)"
            ),
            {"keys": ordered},
        )


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
        counts["dedup_bands"] = counts["dedup_entries"] = 0
        if last_old is not None:
            counts["dedup_bands"] = conn.execute(
                delete(DedupBandRow).where(DedupBandRow.entry_seq <= last_old)
            ).rowcount
            counts["dedup_entries"] = conn.execute(
                delete(DedupEntryRow).where(DedupEntryRow.seq <= last_old)
            ).rowcount
        counts["content_fingerprints"] = conn.execute(
            delete(ContentFingerprintRow).where(ContentFingerprintRow.first_seen_at < cutoff)
        ).rowcount
        stale = select(StoryRow.story_id).where(StoryRow.touched_at < cutoff)
        counts["story_keys"] = conn.execute(
            delete(StoryKeyRow).where(StoryKeyRow.story_id.in_(stale))
        ).rowcount
        counts["story_state"] = conn.execute(
            delete(StoryRow).where(StoryRow.touched_at < cutoff)
        ).rowcount
    return counts


STATE_TABLES = ("dedup_entries", "dedup_bands", "content_fingerprints", "story_state", "story_keys")


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
