"""Ingest state: the feed registry with each feed's schedule and health, and the links
already published."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text, func, true
from sqlalchemy.orm import Mapped, mapped_column

from wiredesk.db.base import Base


class SeenLinkRow(Base):
    """Links the feed poller has already published, so a re-poll emits nothing new."""

    __tablename__ = "seen_links"

    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    feed_id: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class FeedRow(Base):
    """A registered feed: its settings, HTTP validators, schedule and health."""

    __tablename__ = "feeds"

    feed_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # registry (ingest_0001)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    interval_s: Mapped[int | None] = mapped_column(Integer)  # fixed interval; None = adaptive
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    added_from: Mapped[str | None] = mapped_column(String(16))  # config, opml, cli
    # schedule and health (ingest_0001)
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_interval_s: Mapped[float | None] = mapped_column(Float)
    last_status: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_feeds_next_poll_at", "next_poll_at"),)


class ArticleRecheckRow(Base):
    """The re-check schedule of one published article, and what its last fetch saw.

    The schedule lives in the database beside ``seen_links`` (not in memory, not on the
    bus): it survives restarts, is shared by every poller, and is advanced in the same
    transaction that records the links as published (:meth:`ingest.feeds.FeedPoller.
    confirm`), so a crash re-publishes a re-check rather than skipping one. Times derive
    from ``first_seen_at`` and ``checks_done`` only (``ingest.recheck``): deterministic.
    ``etag``/``last_modified``/``body_sha256`` are written by the fetcher after each 200
    (the validators of the next conditional GET); ``entry_digest`` is the feed entry's
    fingerprint (title, updated date, summary) last seen by the poller.
    """

    __tablename__ = "article_rechecks"

    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    feed_id: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    entry_digest: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_outcome: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_article_rechecks_next_check_at", "next_check_at"),)
