"""Initial schema: articles, seen_links, feeds, content_fingerprints.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("article_id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text()),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("published_at", TS),
        sa.Column("discovered_at", TS),
        sa.Column("fetched_at", TS),
        sa.Column("language", sa.String(16)),
        sa.Column("site_name", sa.Text()),
        sa.Column("feed_id", sa.String(64)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("extractor_version", sa.String(64), nullable=False),
        sa.Column("duplicate_of", sa.String(32)),
        sa.Column("similarity", sa.Float()),
        sa.Column("story_id", sa.String(32)),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_articles_published_at", "articles", ["published_at"])
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    op.create_index("ix_articles_duplicate_of", "articles", ["duplicate_of"])
    op.create_table(
        "seen_links",
        sa.Column("article_id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("feed_id", sa.String(64)),
        sa.Column("first_seen_at", TS, server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "feeds",
        sa.Column("feed_id", sa.String(64), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("last_polled_at", TS),
        sa.Column("last_success_at", TS),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
    )
    op.create_table(
        "content_fingerprints",
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("article_id", sa.String(32), nullable=False),
        sa.Column("first_seen_at", TS, server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("content_fingerprints")
    op.drop_table("feeds")
    op.drop_table("seen_links")
    op.drop_index("ix_articles_duplicate_of", "articles")
    op.drop_index("ix_articles_story_id", "articles")
    op.drop_index("ix_articles_published_at", "articles")
    op.drop_table("articles")
