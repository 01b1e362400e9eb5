"""Transform state: what the dedup and story stages remember across workers.

Every enrich worker reads and writes these tables, so copies landing on different
workers still meet, and a restarted worker finds the decisions already taken. Each row
carries ``first_seen_at``; rows older than the retention window are pruned
(``transform.state.prune``), which bounds the state. Bytes per article: one
``dedup_entries`` row (two 512-byte signatures, the verdict and, for canonical articles,
the compact entity list), 40 ``dedup_bands`` rows of 16 bytes and one
``content_fingerprints`` row;
BENCHMARKS.md gives the measured total.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from wiredesk.db.base import Base

TS = DateTime(timezone=True)


class ContentFingerprintRow(Base):
    """Exact-duplicate state: the first article seen with each normalised-text hash."""

    __tablename__ = "content_fingerprints"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())

    __table_args__ = (Index("ix_content_fingerprints_first_seen_at", "first_seen_at"),)


class DedupEntryRow(Base):
    """One article the enricher has decided on: its signature, verdict and story.

    ``duplicate_of`` is NULL for a canonical article. ``story_id`` is set once the story
    step ran (for a copy: its canonical's story). ``entities`` (canonical articles only)
    is the compact entity list copies reuse instead of running NER again.
    """

    __tablename__ = "dedup_entries"

    # A compact surrogate key, increasing with insertion: band rows refer to it (8 bytes,
    # not a 32-character id) and retention deletes ranges of it.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    article_id: Mapped[str] = mapped_column(String(32), unique=True)
    first_seen_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(TS)
    content_hash: Mapped[str] = mapped_column(String(64))
    shingle_count: Mapped[int] = mapped_column(Integer)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    lead_signature: Mapped[bytes] = mapped_column(LargeBinary)
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    similarity: Mapped[float | None] = mapped_column(Float)
    story_id: Mapped[str | None] = mapped_column(String(32))
    entities: Mapped[list[list[str]] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_dedup_entries_first_seen_at", "first_seen_at"),)


class DedupBandRow(Base):
    """LSH index: articles whose signatures agree on one band are candidate copies."""

    __tablename__ = "dedup_bands"

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    # Rows arrive in entry_seq order, so a BRIN index (a few pages) serves the range
    # deletes of retention on PostgreSQL; SQLite makes it a plain index.
    __table_args__ = (Index("ix_dedup_bands_entry_seq", "entry_seq", postgresql_using="brin"),)


class StoryRow(Base):
    """A story: a group of articles about one event, with a bounded profile.

    ``profile`` maps feature keys (entity ids and lead terms) to weights summed over the
    members, capped to the strongest features. ``started_at``/``last_seen_at`` are the
    oldest and newest members' times (published, else first seen), which the story time
    window compares against; ``touched_at`` (processing time) drives retention.
    """

    __tablename__ = "story_state"

    story_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    started_at: Mapped[datetime] = mapped_column(TS)
    last_seen_at: Mapped[datetime] = mapped_column(TS)
    size: Mapped[int] = mapped_column(Integer)
    profile: Mapped[dict[str, float]] = mapped_column(JSON)

    __table_args__ = (Index("ix_story_state_touched_at", "touched_at"),)


class StoryKeyRow(Base):
    """Inverted index from a story feature key (hashed) to the stories that have it."""

    __tablename__ = "story_keys"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    story_id: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (Index("ix_story_keys_story_id", "story_id"),)
