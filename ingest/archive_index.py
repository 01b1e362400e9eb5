"""The raw archive's index in the database (table ``archive_pages``).

Written by the fetcher's :class:`ingest.archive.WarcArchive` after each page is durable
in its WARC file; read by ``wiredesk replay --source archive`` in fetch-time order
(keyset pages, so a replay of millions of pages holds one page of entries at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine, and_, func, or_, select

from ingest.archive import ArchivedPage
from wiredesk.db import insert_for
from wiredesk.db.archive_tables import ArchivePageRow


class SqlArchiveIndex:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, entries: list[ArchivedPage]) -> None:
        """Insert ``entries`` in one transaction; a page already indexed stays as it is."""
        if not entries:
            return
        table = ArchivePageRow.__table__
        rows = [
            {
                "article_id": e.article_id,
                "fetched_at": e.fetched_at,
                "url": e.url,
                "file": e.file,
                "offset": e.offset,
                "length": e.length,
            }
            for e in entries
        ]
        with self.engine.begin() as conn:
            stmt = insert_for(self.engine, table).on_conflict_do_nothing(
                index_elements=["article_id", "fetched_at"]
            )
            conn.execute(stmt, rows)

    def count(self, start: datetime | None, end: datetime | None) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count()).select_from(ArchivePageRow).where(*_range(start, end))
                )
                or 0
            )

    def entries(
        self,
        start: datetime | None,
        end: datetime | None,
        after: tuple[datetime, str] | None = None,
        limit: int = 500,
    ) -> list[ArchivedPage]:
        """Up to ``limit`` entries in [start, end) by (fetched_at, article_id), after ``after``."""
        t = ArchivePageRow
        where = _range(start, end)
        if after is not None:
            at, article_id = after
            where.append(
                or_(t.fetched_at > at, and_(t.fetched_at == at, t.article_id > article_id))
            )
        query = (
            select(t.article_id, t.fetched_at, t.url, t.file, t.offset, t.length)
            .where(*where)
            .order_by(t.fetched_at, t.article_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [ArchivedPage(*row) for row in conn.execute(query)]

    def all_entries(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[ArchivedPage]:
        after = None
        while batch := self.entries(start, end, after):
            yield from batch
            after = (batch[-1].fetched_at, batch[-1].article_id)


def _range(start: datetime | None, end: datetime | None) -> list:  # type: ignore[type-arg]
    where = []
    if start is not None:
        where.append(ArchivePageRow.fetched_at >= start)
    if end is not None:
        where.append(ArchivePageRow.fetched_at < end)
    return where
