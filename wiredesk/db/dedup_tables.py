"""Transform state: what the dedup and story stages remember across workers.

Every enrich worker reads and writes these tables, so copies landing on different
workers still meet, and a restarted worker finds the decisions already taken. Dedup
groups and stories are connected components kept in these rows (each entry names its
group's canonical and its story's earliest article), merged under one lock. Each row
carries ``first_seen_at``; rows older than the retention window are pruned
(``transform.state.prune``), which bounds the state. Bytes per article: one
``dedup_entries`` row (the body's 128 MinHash values with the lead and containment
sketches packed after them, at most 4.5 KiB, ~1.8 KiB on the dev set; the lead signature;
the verdict and revision; the story features, ~1.2 KB of JSON), 40 ``dedup_bands`` rows
of 32 bytes (key, entry, time, tie; 16 before ``dedupbands_0001``), 8
``story_article_keys`` rows and one ``content_fingerprints`` row; BENCHMARKS.md gives
the measured total (measured before the band rows' time and tie).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    false,
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
    """One article the enricher has decided on: signature, times, verdict, story, revision.

    ``duplicate_of`` is NULL for the canonical article of a dedup group, else the
    canonical's id (never a copy's). ``published_at`` is the trustworthy publication time
    (NULL when unknown or not believable), which with ``discovered_at`` and the id orders
    the members of a group and of a story. ``story_root`` is the earliest
    article of the story (``story_id`` derives from it), set by the story step;
    ``story_features`` is the article's story profile (with the time its window compares).

    ``revision`` counts the changes of this article's verdict; ``pending`` marks a
    revision not yet emitted, ``emitted_by`` the article whose processing last emitted it
    (re-emitted when that article is redelivered).
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
    discovered_at: Mapped[datetime | None] = mapped_column(TS)
    content_hash: Mapped[str] = mapped_column(String(64))
    shingle_count: Mapped[int] = mapped_column(Integer)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    lead_signature: Mapped[bytes] = mapped_column(LargeBinary)
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    similarity: Mapped[float | None] = mapped_column(Float)
    story_id: Mapped[str | None] = mapped_column(String(32))
    story_root: Mapped[str | None] = mapped_column(String(32))
    story_features: Mapped[dict[str, float] | None] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    emitted_by: Mapped[str | None] = mapped_column(String(32))
    # The fetch time of the version fingerprinted here: an older version replayed after a
    # newer one leaves the row alone (transform.dedup, updates).
    version_fetched_at: Mapped[datetime | None] = mapped_column(TS)

    __table_args__ = (
        Index("ix_dedup_entries_first_seen_at", "first_seen_at"),
        Index("ix_dedup_entries_duplicate_of", "duplicate_of"),
        Index("ix_dedup_entries_story_root", "story_root"),
        Index("ix_dedup_entries_pending", "pending", "seq"),
        Index("ix_dedup_entries_emitted_by", "emitted_by"),
    )


class DedupBandRow(Base):
    """LSH index: articles whose signatures agree on one band are candidate copies."""

    __tablename__ = "dedup_bands"

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The article's time (whole seconds since 1970: its publication, else discovery
    # time; None when unknown): with a dedup window set (transform.dedup), postings
    # outside it are left out of the candidates.
    at: Mapped[int | None] = mapped_column(BigInteger)
    # A fixed hash of the article id: ties between candidates sharing as many bands are
    # broken by it, so which are verified does not depend on arrival order.
    tie: Mapped[int | None] = mapped_column(BigInteger)

    # Rows arrive in entry_seq order, so a BRIN index (a few pages) serves the range
    # deletes of retention on PostgreSQL; SQLite makes it a plain index.
    __table_args__ = (Index("ix_dedup_bands_entry_seq", "entry_seq", postgresql_using="brin"),)


class StoryKeyRow(Base):
    """Story candidate index: an article's strongest story features (hashed) -> its entry."""

    __tablename__ = "story_article_keys"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The article's story time (whole seconds since 1970, ``StoryFeatures.when``; None when
    # unknown): a lookup reads only the keys' postings inside the story window, so its
    # cost follows the articles of the window, not all the state retention keeps.
    at: Mapped[int | None] = mapped_column(BigInteger)
    # A fixed hash of the article id: ties between candidates sharing as many keys are
    # broken by it, so which are the best does not depend on arrival order.
    tie: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_story_article_keys_entry_seq", "entry_seq", postgresql_using="brin"),
        Index("ix_story_article_keys_key_at", "key", "at"),
    )
