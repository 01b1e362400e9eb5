"""Queries of the read side: latest stories and full-text search over title and text.

PostgreSQL: ``SEARCH_DOCUMENT`` is exactly the expression of the GIN index
``ix_articles_search`` (migration sink_0001), so the planner uses the index; queries use
``websearch_to_tsquery`` (quoted phrases, ``or``, ``-word``). SQLite (the embedded mode):
every word must occur in the title or text (case-insensitive LIKE; no ranking beyond
newest first).

Every answer carries the rights flags (ingest.rights): per article, and per story the
number of its articles with each flag; :func:`rights_label` is their compact form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal_column, or_, select

from wiredesk.db.tables import ArticleRow, SourceRow, StoryRow

SEARCH_DOCUMENT = "to_tsvector('english'::regconfig, title || ' ' || left(text, 100000))"


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    source: str | None
    published_at: datetime | None
    story_id: str | None
    snippet: str
    paywalled: bool | None = None
    tdm_reserved: bool | None = None
    ai_opt_out: bool | None = None
    text_withheld: bool = False

    @property
    def rights(self) -> str:
        return rights_label(self)


RIGHTS_COLUMNS = (
    ArticleRow.paywalled,
    ArticleRow.tdm_reserved,
    ArticleRow.ai_opt_out,
    ArticleRow.text_withheld,
)
_LABELS = (("paywalled", "paywall"), ("tdm_reserved", "tdm"), ("ai_opt_out", "noai"))


def rights_label(row: Any) -> str:
    """``paywall tdm noai`` for the flags that hold (a count each for a story row), and
    ``no-text`` when the rights policy withheld the text; empty when none holds."""
    words = []
    for column, word in _LABELS:
        value = getattr(row, column, None)
        if value is True:
            words.append(word)
        elif isinstance(value, int) and value > 0:  # a story: how many of its articles
            words.append(f"{word} {value}")
    if getattr(row, "text_withheld", False) is True:
        words.append("no-text")
    return " ".join(words)


def search(conn: Connection, query: str, limit: int = 20) -> list[Hit]:
    source = func.coalesce(ArticleRow.site_name, SourceRow.name, SourceRow.host)
    columns = (
        ArticleRow.article_id,
        ArticleRow.title,
        source.label("source"),
        ArticleRow.published_at,
        ArticleRow.story_id,
        ArticleRow.text,
        *RIGHTS_COLUMNS,
    )
    stmt = select(*columns).outerjoin(SourceRow, SourceRow.source_id == ArticleRow.source_id)
    if conn.dialect.name == "postgresql":
        tsquery = func.websearch_to_tsquery(literal_column("'english'::regconfig"), query)
        document = literal_column(SEARCH_DOCUMENT)
        stmt = stmt.where(document.op("@@")(tsquery)).order_by(
            func.ts_rank(document, tsquery).desc(), ArticleRow.published_at.desc()
        )
    else:
        words = [w for w in re.findall(r"\w+", query) if w] or [query]
        stmt = stmt.where(
            and_(
                *(
                    or_(ArticleRow.title.ilike(f"%{w}%"), ArticleRow.text.ilike(f"%{w}%"))
                    for w in words
                )
            )
        ).order_by(ArticleRow.published_at.desc())
    rows = conn.execute(stmt.limit(limit)).all()
    return [
        Hit(
            r.article_id,
            r.title,
            r.source,
            r.published_at,
            r.story_id,
            "(text withheld)" if r.text_withheld else snippet(r.text, query),
            r.paywalled,
            r.tdm_reserved,
            r.ai_opt_out,
            bool(r.text_withheld),
        )
        for r in rows
    ]


def snippet(text: str, query: str, width: int = 70) -> str:
    """A piece of ``text`` around the first word of ``query`` found in it."""
    lowered = text.lower()
    for word in re.findall(r"\w+", query.lower()):
        at = lowered.find(word)
        if at >= 0:
            start = max(0, at - width // 2)
            piece = " ".join(text[start : start + width].split())
            return ("…" if start else "") + piece + "…"
    return " ".join(text[:width].split()) + "…"


def latest_stories(conn: Connection, limit: int = 20) -> list[Any]:
    """The latest stories, each with how many of its articles carry each rights flag."""
    top = (
        select(StoryRow)
        .order_by(StoryRow.last_update_at.desc().nulls_last(), StoryRow.story_id)
        .limit(limit)
        .subquery()
    )
    flagged = [
        func.sum(case((getattr(ArticleRow, column).is_(True), 1), else_=0)).label(column)
        for column, _ in _LABELS
    ]
    counts = (
        select(ArticleRow.story_id, *flagged)
        .where(ArticleRow.story_id.in_(select(top.c.story_id)))
        .group_by(ArticleRow.story_id)
        .subquery()
    )
    totals = [func.coalesce(counts.c[column], 0).label(column) for column, _ in _LABELS]
    return list(
        conn.execute(
            select(*top.c, *totals)
            .outerjoin(counts, counts.c.story_id == top.c.story_id)
            .order_by(top.c.last_update_at.desc().nulls_last(), top.c.story_id)
        ).all()
    )


def story_articles(conn: Connection, story_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(
                ArticleRow.article_id,
                ArticleRow.title,
                ArticleRow.site_name,
                ArticleRow.published_at,
                ArticleRow.duplicate_of,
                *RIGHTS_COLUMNS,
            )
            .where(ArticleRow.story_id == story_id)
            .order_by(ArticleRow.published_at, ArticleRow.article_id)
        ).all()
    )
