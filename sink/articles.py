"""Article writer: news.enriched -> ``articles`` table.

One transaction per batch; an upsert keyed by ``article_id`` makes re-delivery and
replay harmless. A row is only rewritten when what it says changed (content, verdicts,
extractor), so a replay of unchanged records leaves ``updated_at`` alone. NUL bytes,
which PostgreSQL refuses in text, are removed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, or_

from wiredesk.db import insert_for
from wiredesk.db.tables import ArticleRow
from wiredesk.records import EnrichedArticle, Record

CHANGE_COLUMNS = ("content_hash", "extractor_version", "duplicate_of", "story_id", "title")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def row_for(article: EnrichedArticle) -> dict[str, Any]:
    data = article.model_dump(exclude={"schema_name"}, mode="python")
    data["entities"] = [e.model_dump() for e in article.entities]
    return {k: _clean(v) for k, v in data.items()}


def _key(record: EnrichedArticle) -> str:
    return record.article_id


class ArticleWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, records: Sequence[Record]) -> None:
        # Sorted by key: concurrent writers of overlapping ids then lock rows in the same
        # order and cannot deadlock (found by the reliability suite, catalogue P7).
        ordered = sorted((r for r in records if isinstance(r, EnrichedArticle)), key=_key)
        rows = {r.article_id: row_for(r) for r in ordered}
        if not rows:
            return
        table = ArticleRow.__table__
        stmt = insert_for(self.engine, table)
        update = {c: stmt.excluded[c] for c in rows[next(iter(rows))] if c != "article_id"}
        update["updated_at"] = func.now()
        changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in CHANGE_COLUMNS))
        stmt = stmt.on_conflict_do_update(index_elements=["article_id"], set_=update, where=changed)
        with self.engine.begin() as conn:
            conn.execute(stmt, list(rows.values()))
