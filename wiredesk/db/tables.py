"""SQLAlchemy 2 models of the sink (and operations). Migrations must match these.

Every table is keyed by a stable id derived from content or URL, so re-delivered and
replayed records upsert onto the same row instead of adding new ones:

* ``sources``: one row per outlet, keyed by the hash of its host name;
* ``articles``: one row per canonical URL; ``record_hash`` fingerprints everything the
  record says, so an upsert rewrites a row (and bumps ``updated_at``) only when it changed;
* ``entities``: one row per canonical entity (every spelling shares its id);
* ``article_entities``: which entities an article mentions, with surface forms and offsets;
* ``entity_names``: mentions per entity, name and label, which pick the entity's name;
* ``stories``: per story id, aggregates recomputed from its articles on every write;
* ``dlq_resends``: dead letters already re-published by ``wiredesk dlq resend``.

Full-text search: on PostgreSQL the migration ``sink_0001`` adds a GIN expression index
``ix_articles_search`` over ``to_tsvector('english', title || ' ' || left(text, 100000))``
(see ``sink.search``). It is dialect-specific DDL, so it is not declared here; Alembic's
comparison skips it by name (``wiredesk.db.include_in_autogenerate``). SQLite (the embedded
mode) has no such index: search there is a case-insensitive LIKE scan.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from wiredesk.db.base import Base


class SourceRow(Base):
    """An outlet, identified by its host name (``www.`` dropped)."""

    __tablename__ = "sources"

    source_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ArticleRow(Base):
    __tablename__ = "articles"

    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    discovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str | None] = mapped_column(String(16))
    detected_language: Mapped[str | None] = mapped_column(String(16))
    site_name: Mapped[str | None] = mapped_column(Text)
    feed_id: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("sources.source_id", name="fk_articles_source_id")
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    extractor_version: Mapped[str] = mapped_column(String(64))
    # extractor_version as a byte-wise sortable key (wiredesk.versions); NULL: unparseable.
    # Collation "C" on PostgreSQL: compared byte-wise, as in Python, whatever the locale.
    extractor_rank: Mapped[str | None] = mapped_column(
        String(128).with_variant(String(128, collation="C"), "postgresql")
    )
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    similarity: Mapped[float | None] = mapped_column(Float)
    story_id: Mapped[str | None] = mapped_column(String(32))
    # A copy of the record's mentions for readers of one row; the relational form is
    # article_entities.
    entities: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    record_hash: Mapped[str | None] = mapped_column(String(64))
    truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Where the row's version came from on news.enriched: with ``fetched_at`` a total
    # version order (sink.fence), so a replayed or zombie write cannot move a row back.
    source_partition: Mapped[int | None] = mapped_column(Integer)
    source_offset: Mapped[int | None] = mapped_column(BigInteger)
    # The verdict's revision (duplicate_of, similarity, story_id): a newer one replaces it.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The page's publication date when it was not believable (published_at is then NULL).
    published_at_claimed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Rights and access (ingest.rights): NULL = unknown; the evidence they rest on; and
    # whether the rights policy ``metadata`` kept the text out (``text`` is then empty).
    paywalled: Mapped[bool | None] = mapped_column(Boolean)
    tdm_reserved: Mapped[bool | None] = mapped_column(Boolean)
    ai_opt_out: Mapped[bool | None] = mapped_column(Boolean)
    rights_evidence: Mapped[list[str] | None] = mapped_column(JSON)
    text_withheld: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Updates (sink.versions): the first publication date seen, the page's own date of
    # modification, and the number of the version the row shows (article_versions).
    first_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_story_id", "story_id"),
        Index("ix_articles_duplicate_of", "duplicate_of"),
        Index("ix_articles_source_published", "source_id", "published_at"),
    )


class ArticleVersionRow(Base):
    """One version of an article: written when its extracted title or text changed
    (:mod:`sink.versions`). ``diff`` summarises the change from the previous version
    (``words_added``, ``words_removed``, ``title_changed``); ``correction_notice`` is the
    correction or update notice found in it (:mod:`wiredesk.corrections`), if any."""

    __tablename__ = "article_versions"

    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    text_chars: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    diff: Mapped[dict[str, object] | None] = mapped_column(JSON)
    correction: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    correction_notice: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EntityRow(Base):
    """A canonical entity: ``name`` is its preferred spelling, ``label`` PER/ORG/LOC/..."""

    __tablename__ = "entities"

    canonical_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ArticleEntityRow(Base):
    """One entity in one article: its spellings there and every ``[start, end]`` offset."""

    __tablename__ = "article_entities"

    article_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("articles.article_id", ondelete="CASCADE"), primary_key=True
    )
    canonical_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("entities.canonical_id"), primary_key=True
    )
    surfaces: Mapped[list[str]] = mapped_column(JSON)
    offsets: Mapped[list[list[int]]] = mapped_column(JSON)
    mentions: Mapped[int] = mapped_column(Integer)
    # how this article names the entity (its majority spelling and label): counted in
    # entity_names, which decides the entity's own name and label (sink.entity_names)
    name: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_article_entities_entity", "canonical_id", "article_id"),)


class EntityNameRow(Base):
    """Mentions of one entity per (name, label) over every stored article."""

    __tablename__ = "entity_names"

    canonical_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    mentions: Mapped[int] = mapped_column(Integer)


class StoryRow(Base):
    """A story: articles sharing a ``story_id``; every column is derived from them."""

    __tablename__ = "stories"

    story_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_update_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    article_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_stories_last_update_at", "last_update_at"),)


class StoryEntityRow(Base):
    """Within one story, an entity id resolved to the story's full id for it (a surname to
    the full name, an acronym to the name): :mod:`transform.story_entities`; rewritten
    with the story row. Ids that resolve to themselves have no row."""

    __tablename__ = "story_entities"

    story_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("stories.story_id", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    resolved_id: Mapped[str] = mapped_column(String(128))

    __table_args__ = (Index("ix_story_entities_resolved", "resolved_id", "story_id"),)


class VerdictRevisionRow(Base):
    """A verdict revision that arrived before its article's row; applied when it comes."""

    __tablename__ = "verdict_revisions"

    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    similarity: Mapped[float | None] = mapped_column(Float)
    story_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DlqResendRow(Base):
    """A dead letter (topic, partition, offset of news.dlq) that was re-published."""

    __tablename__ = "dlq_resends"

    dlq_topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    dlq_partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    dlq_offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stage: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    source_topic: Mapped[str] = mapped_column(String(255))
    resent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Every table module, so importing this one gives the complete metadata (for Alembic's
# comparisons and for tests). Each domain owns its module: feed_tables and archive_tables
# (ingest), dedup_tables (transform); the tables above belong to the sink.
from wiredesk.db import (  # noqa: E402,F401
    archive_tables,
    dedup_tables,
    feed_tables,
    runner_tables,
)
