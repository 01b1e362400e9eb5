"""Story rows: aggregates of the articles that share a ``story_id``.

Recomputed from the ``articles`` table for every story a batch touched, so the row is the
same however, and how often, its articles arrived (replays, restores, moves between
stories). On PostgreSQL a transaction-scoped advisory lock per story serialises two
workers refreshing the same story, so neither computes from a snapshot missing the
other's article.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, text

from wiredesk.db import insert_for
from wiredesk.db.tables import ArticleRow, StoryRow

STORY_COLUMNS = ("title", "first_seen_at", "last_update_at", "article_count")


def _seen_at(row: Any) -> datetime | None:
    return row.published_at or row.discovered_at or row.fetched_at


def aggregate(members: list[Any]) -> dict[str, Any]:
    """title of the earliest original (else earliest) article, first/last time, count."""
    times = [t for t in map(_seen_at, members) if t is not None]

    def order(row: Any) -> tuple[bool, bool, Any, str]:
        seen = _seen_at(row)
        return (row.duplicate_of is not None, seen is None, seen or 0, row.article_id)

    lead = min(members, key=order)
    return {
        "title": lead.title,
        "first_seen_at": min(times) if times else None,
        "last_update_at": max(times) if times else None,
        "article_count": len(members),
    }


def refresh(conn: Connection, story_ids: Iterable[str]) -> dict[str, int]:
    """Recompute and upsert the given stories; delete those left without articles."""
    ids = sorted(set(story_ids))
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    if not ids:
        return counts
    if conn.dialect.name == "postgresql":
        for sid in ids:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:s, 0))"), {"s": sid})
    members: dict[str, list[Any]] = {sid: [] for sid in ids}
    query = select(
        ArticleRow.story_id,
        ArticleRow.article_id,
        ArticleRow.title,
        ArticleRow.duplicate_of,
        ArticleRow.published_at,
        ArticleRow.discovered_at,
        ArticleRow.fetched_at,
    ).where(ArticleRow.story_id.in_(ids))
    for row in conn.execute(query):
        members[row.story_id].append(row)
    existing = {
        r.story_id: r
        for r in conn.execute(
            select(StoryRow.story_id, *(StoryRow.__table__.c[c] for c in STORY_COLUMNS)).where(
                StoryRow.story_id.in_(ids)
            )
        )
    }
    rows = []
    for sid in ids:
        if not members[sid]:
            continue
        row = {"story_id": sid, **aggregate(members[sid])}
        rows.append(row)
        old = existing.get(sid)
        if old is None:
            counts["inserted"] += 1
        elif any(_differs(getattr(old, c), row[c]) for c in STORY_COLUMNS):
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    empty = [sid for sid in ids if not members[sid] and sid in existing]
    if empty:
        conn.execute(delete(StoryRow).where(StoryRow.story_id.in_(empty)))
        counts["deleted"] = len(empty)
    if rows:
        table = StoryRow.__table__
        stmt = insert_for(conn.engine, table)
        changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in STORY_COLUMNS))
        update = {c: stmt.excluded[c] for c in STORY_COLUMNS} | {"updated_at": func.now()}
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["story_id"], set_=update, where=changed),
            rows,
        )
    return counts


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        # SQLite gives back naive datetimes; compare wall-clock values then
        return old.replace(tzinfo=None) != new.replace(tzinfo=None)
    return old != new
