"""Verdict revisions in the sink: the newest revision of an article's verdict wins.

An article's verdict (``duplicate_of``, ``similarity``, ``story_id``) has a ``revision``
(see ``wiredesk.records.VerdictRevision``). A revision record updates the article's row
only if it is newer than the row's; one that arrives before its article (it can: another
worker's merge may be published first) waits in ``verdict_revisions`` and is applied when
the article's record is written. Full records carry a revision too and never replace a
newer verdict (``sink.articles``). So the row ends with the newest verdict whatever order
the records of one article arrive in, and a replay changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from sink import metrics
from wiredesk.db import insert_for, upsert_many
from wiredesk.db.tables import ArticleRow, VerdictRevisionRow
from wiredesk.records import VerdictRevision

VERDICT = ("duplicate_of", "similarity", "story_id", "revision")


def apply(conn: Connection, revisions: Mapping[str, VerdictRevision]) -> set[str]:
    """Apply the newest revision per article; the story ids whose membership changed."""
    ids = sorted(revisions)
    rows = {
        r.article_id: r
        for r in conn.execute(
            select(ArticleRow.article_id, ArticleRow.revision, ArticleRow.story_id).where(
                ArticleRow.article_id.in_(ids)
            )
        )
    }
    touched: set[str] = set()
    waiting = []
    for article_id in ids:
        rev, row = revisions[article_id], rows.get(article_id)
        if row is None:
            waiting.append({"article_id": article_id, **_verdict(rev)})
            metrics.REVISIONS.labels("waiting").inc()
            continue
        if row.revision >= rev.revision:
            metrics.REVISIONS.labels("stale").inc()
            continue
        conn.execute(
            update(ArticleRow)
            .where(ArticleRow.article_id == article_id, ArticleRow.revision < rev.revision)
            .values(**_verdict(rev), updated_at=func.now())
        )
        metrics.REVISIONS.labels("applied").inc()
        touched |= {s for s in (row.story_id, rev.story_id) if s}
    if waiting:
        table = VerdictRevisionRow.__table__
        stmt = insert_for(conn.engine, table)
        newer = stmt.excluded.revision > table.c.revision
        upsert_many(
            conn,
            stmt.on_conflict_do_update(
                index_elements=["article_id"],
                set_={c: stmt.excluded[c] for c in VERDICT},
                where=newer,
            ),
            waiting,
        )
    return touched


def take_waiting(conn: Connection, articles: dict[str, dict[str, Any]]) -> None:
    """Put waiting revisions newer than the record's into the article rows to be written."""
    waiting = conn.execute(
        select(VerdictRevisionRow).where(VerdictRevisionRow.article_id.in_(sorted(articles)))
    ).all()
    for w in waiting:
        article = articles[w.article_id]
        if w.revision > article["revision"]:
            article.update({c: getattr(w, c) for c in VERDICT})
    if waiting:
        conn.execute(
            delete(VerdictRevisionRow).where(
                VerdictRevisionRow.article_id.in_([w.article_id for w in waiting])
            )
        )


def _verdict(rev: VerdictRevision) -> dict[str, Any]:
    return {c: getattr(rev, c) for c in VERDICT}
