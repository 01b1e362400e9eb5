"""Story rows: aggregates of the articles that share a ``story_id``.

Recomputed from the ``articles`` table for every story a batch touched, so the row is the
same however, and how often, its articles arrived (replays, restores, moves between
stories). On PostgreSQL a transaction-scoped advisory lock per story serialises two
workers refreshing the same story, so neither computes from a snapshot missing the
other's article.

In the same transaction and under the same lock, the story's entity map
(``story_entities``, :func:`wiredesk.story_entities.resolve_story`) is recomputed from the
(entity id, label) pairs of its current articles' mentions and rewritten where it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, or_, select, text, tuple_

from wiredesk.db import insert_for, upsert_many
from wiredesk.db.tables import ArticleRow, StoryEntityRow, StoryRow
from wiredesk.story_entities import resolve_story

STORY_COLUMNS = ("title", "first_seen_at", "last_update_at", "article_count")
# one round trip; sorted, so two workers take shared stories' locks in the same order
LOCK_STORIES = (
    "SELECT count(pg_advisory_xact_lock(hashtextextended(s, 0))) "
    "FROM (SELECT unnest(CAST(:ids AS text[])) AS s ORDER BY 1) AS sorted"
)


def _aggregates(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per story: title of the earliest original (else earliest) article, first and last
    time (published, else discovered, else fetched) and the article count, in SQL."""
    seen = func.coalesce(ArticleRow.published_at, ArticleRow.discovered_at, ArticleRow.fetched_at)
    totals = conn.execute(
        select(ArticleRow.story_id, func.count(), func.min(seen), func.max(seen))
        .where(ArticleRow.story_id.in_(ids))
        .group_by(ArticleRow.story_id)
    ).all()
    rank = (
        func.row_number()
        .over(
            partition_by=ArticleRow.story_id,
            order_by=(
                case((ArticleRow.duplicate_of.is_(None), 0), else_=1),
                case((seen.is_(None), 1), else_=0),
                seen,
                ArticleRow.article_id,
            ),
        )
        .label("rank")
    )
    ranked = (
        select(ArticleRow.story_id, ArticleRow.title, rank)
        .where(ArticleRow.story_id.in_(ids))
        .subquery()
    )
    titles = dict(
        conn.execute(select(ranked.c.story_id, ranked.c.title).where(ranked.c.rank == 1)).all()
    )
    return {
        sid: {
            "title": titles[sid],
            "first_seen_at": first,
            "last_update_at": last,
            "article_count": count,
        }
        for sid, count, first, last in totals
    }


def refresh(conn: Connection, story_ids: Iterable[str]) -> dict[str, int]:
    """Recompute and upsert the given stories; delete those left without articles."""
    ids = sorted(set(story_ids))
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    if not ids:
        return counts
    if conn.dialect.name == "postgresql":
        conn.execute(text(LOCK_STORIES), {"ids": ids})
    aggregates = _aggregates(conn, ids)
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
        if sid not in aggregates:
            continue
        row = {"story_id": sid, **aggregates[sid]}
        rows.append(row)
        old = existing.get(sid)
        if old is None:
            counts["inserted"] += 1
        elif any(_differs(getattr(old, c), row[c]) for c in STORY_COLUMNS):
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    empty = [sid for sid in ids if sid not in aggregates and sid in existing]
    if empty:
        conn.execute(delete(StoryEntityRow).where(StoryEntityRow.story_id.in_(empty)))
        conn.execute(delete(StoryRow).where(StoryRow.story_id.in_(empty)))
        counts["deleted"] = len(empty)
    if rows:
        table = StoryRow.__table__
        stmt = insert_for(conn.engine, table)
        changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in STORY_COLUMNS))
        update = {c: stmt.excluded[c] for c in STORY_COLUMNS} | {"updated_at": func.now()}
        upsert_many(
            conn,
            stmt.on_conflict_do_update(index_elements=["story_id"], set_=update, where=changed),
            rows,
        )
        _rewrite_entity_maps(conn, [r["story_id"] for r in rows])
    return counts


def _rewrite_entity_maps(conn: Connection, ids: list[str]) -> int:
    """Recompute the ``story_entities`` rows of these (existing) stories from their
    articles' (entity id, label) pairs; write only the difference. Returns how many
    stories' maps changed."""
    members: dict[str, set[tuple[str, str]]] = {sid: set() for sid in ids}
    # each article's own mentions (its row's copy: id and label as that article tagged
    # them), so the map is a function of the story's articles alone, not of the
    # last-written label in ``entities``
    for sid, mentions in conn.execute(
        select(ArticleRow.story_id, ArticleRow.entities).where(ArticleRow.story_id.in_(ids))
    ):
        for m in mentions or ():
            if isinstance(m, dict) and isinstance(m.get("canonical_id"), str):
                members[sid].add((m["canonical_id"], str(m.get("label") or "")))
    wanted = {(sid, eid): rid for sid in ids for eid, rid in resolve_story(members[sid]).items()}
    existing = {
        (r.story_id, r.entity_id): r.resolved_id
        for r in conn.execute(select(StoryEntityRow).where(StoryEntityRow.story_id.in_(ids)))
    }
    gone = sorted(k for k, rid in existing.items() if wanted.get(k) != rid)
    new = sorted(k for k, rid in wanted.items() if existing.get(k) != rid)
    table = StoryEntityRow.__table__
    if gone:
        conn.execute(delete(table).where(tuple_(table.c.story_id, table.c.entity_id).in_(gone)))
    if new:
        conn.execute(
            table.insert(),
            [{"story_id": s, "entity_id": e, "resolved_id": wanted[(s, e)]} for s, e in new],
        )
    return len({s for s, _ in gone} | {s for s, _ in new})


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        # SQLite gives back naive datetimes; compare wall-clock values then
        return old.replace(tzinfo=None) != new.replace(tzinfo=None)
    return old != new
