"""Emitting verdict revisions: bounded per call, re-emitted on redelivery.

A decision that merges dedup groups or stories changes the verdicts of articles already
emitted; it bumps their ``revision`` and marks them ``pending`` in the state (same
transaction). After each article, the enricher takes at most ``limit`` pending rows (oldest
first), marks them emitted by that article and publishes one :class:`VerdictRevision`
each. So a merge of two stories of 10,000 articles costs 10,000 row updates in the state
but never more than ``limit`` records in one ``process()`` call: the rest go out with the
following articles. If the worker dies before publishing, the article is redelivered and
:func:`re_emit` publishes again what it had claimed (the sink ignores a revision it has).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from transform import state_sql as sql
from wiredesk.records import VerdictRevision


def _record(row: Any) -> VerdictRevision:
    return VerdictRevision(
        article_id=row.article_id,
        revision=row.revision,
        duplicate_of=row.duplicate_of,
        similarity=row.similarity,
        story_id=row.story_id,
    )


def take_pending(conn: Connection, emitter: str, limit: int) -> list[VerdictRevision]:
    """Up to ``limit`` pending revisions, now marked emitted by ``emitter`` (state lock held)."""
    rows = conn.execute(sql.PENDING, {"limit": limit}).all()
    if rows:
        conn.execute(sql.MARK_EMITTED, {"seqs": [r.seq for r in rows], "emitter": emitter})
    return [_record(r) for r in rows]


def re_emit(conn: Connection, emitter: str, limit: int) -> list[VerdictRevision]:
    """The current verdicts of the articles whose revision ``emitter`` last emitted."""
    rows = conn.execute(sql.EMITTED_BY, {"emitter": emitter, "limit": limit}).all()
    return [_record(r) for r in rows]


def current(conn: Connection, article_id: str) -> VerdictRevision:
    """The article's verdict as stored now (one consistent row)."""
    row = conn.execute(sql.CURRENT, {"article_id": article_id}).one()
    return _record(row)
