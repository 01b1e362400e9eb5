"""Enricher: news.articles -> news.enriched.

Walking-skeleton logic: exact duplicates by normalised-text hash. The first article to
claim a hash in ``content_fingerprints`` is the canonical copy; the database's unique
key makes the claim atomic across workers, and a replay finds the same claim again.
Near-duplicates, stories and entities replace this in the transform issue.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, select

from wiredesk.db import insert_for
from wiredesk.db.dedup_tables import ContentFingerprintRow
from wiredesk.records import Article, EnrichedArticle, Record


class EnrichArticles:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, record: Record) -> Iterator[Record]:
        assert isinstance(record, Article)
        table = ContentFingerprintRow.__table__
        with self.engine.begin() as conn:
            claim = insert_for(self.engine, table).values(
                content_hash=record.content_hash, article_id=record.article_id
            )
            conn.execute(claim.on_conflict_do_nothing())
            owner = conn.scalar(
                select(ContentFingerprintRow.article_id).where(
                    ContentFingerprintRow.content_hash == record.content_hash
                )
            )
        duplicate_of = owner if owner != record.article_id else None
        yield EnrichedArticle(
            **record.model_dump(exclude={"schema_name"}),
            duplicate_of=duplicate_of,
            similarity=1.0 if duplicate_of else None,
        )
