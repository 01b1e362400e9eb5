"""Sink schema: sources, entities, article_entities, stories, dlq_resends; article
source and record hash; indexes for latest-by-source, by-entity, by-story; full-text
search (PostgreSQL only).

Revision ID: sink_0001
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sink_0001"
down_revision = "0001"
branch_labels = ("sink",)
depends_on = None

TS = sa.DateTime(timezone=True)

# Must stay identical to sink.search.SEARCH_DOCUMENT, or PostgreSQL will not use the index.
SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_articles_search ON articles USING gin "
    "(to_tsvector('english'::regconfig, title || ' ' || left(text, 100000)))"
)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("source_id", sa.String(32), primary_key=True),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        *_timestamps(),
        sa.UniqueConstraint("host"),
    )
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("source_id", sa.String(32)))
        batch.add_column(sa.Column("record_hash", sa.String(64)))
        batch.create_foreign_key("fk_articles_source_id", "sources", ["source_id"], ["source_id"])
    op.create_index("ix_articles_source_published", "articles", ["source_id", "published_at"])
    op.create_table(
        "entities",
        sa.Column("canonical_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "article_entities",
        sa.Column(
            "article_id",
            sa.String(32),
            sa.ForeignKey("articles.article_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "canonical_id",
            sa.String(128),
            sa.ForeignKey("entities.canonical_id"),
            primary_key=True,
        ),
        sa.Column("surfaces", sa.JSON(), nullable=False),
        sa.Column("offsets", sa.JSON(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_article_entities_entity", "article_entities", ["canonical_id", "article_id"]
    )
    op.create_table(
        "stories",
        sa.Column("story_id", sa.String(32), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("first_seen_at", TS),
        sa.Column("last_update_at", TS),
        sa.Column("article_count", sa.Integer(), nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_stories_last_update_at", "stories", ["last_update_at"])
    op.create_table(
        "dlq_resends",
        sa.Column("dlq_topic", sa.String(255), primary_key=True),
        sa.Column("dlq_partition", sa.Integer(), primary_key=True),
        sa.Column("dlq_offset", sa.BigInteger(), primary_key=True),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("source_topic", sa.String(255), nullable=False),
        sa.Column("resent_at", TS, server_default=sa.func.now(), nullable=False),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(SEARCH_INDEX)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_search")
    op.drop_table("dlq_resends")
    op.drop_index("ix_stories_last_update_at", "stories")
    op.drop_table("stories")
    op.drop_index("ix_article_entities_entity", "article_entities")
    op.drop_table("article_entities")
    op.drop_table("entities")
    op.drop_index("ix_articles_source_published", "articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_constraint("fk_articles_source_id", type_="foreignkey")
        batch.drop_column("record_hash")
        batch.drop_column("source_id")
    op.drop_table("sources")
