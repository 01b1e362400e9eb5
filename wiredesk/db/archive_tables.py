"""The raw archive's index (ingest.archive): where each archived page is stored.

``archive_pages``: one row per fetched page version, keyed by ``(article_id,
fetched_at)``, pointing at a byte range of a WARC file (``file``: a local path or an
fsspec URL; ``offset``/``length``: the page's response and metadata records, each its
own gzip member, so the range reads on its own). ``wiredesk replay --stage extract
--source archive`` reads it by ``fetched_at``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from wiredesk.db.base import Base


class ArchivePageRow(Base):
    __tablename__ = "archive_pages"

    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    file: Mapped[str] = mapped_column(Text)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)
    archived_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        Index("ix_archive_pages_fetched_at", "fetched_at", "article_id"),
        Index("ix_archive_pages_file", "file"),  # wiredesk archive prune deletes by file
    )
