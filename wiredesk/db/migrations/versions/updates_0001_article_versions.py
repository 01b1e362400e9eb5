"""Article updates: ``article_versions``, the re-check schedule ``article_rechecks``,
``articles.first_published_at`` / ``modified_at`` / ``version`` and
``dedup_entries.version_fetched_at``.

Revision ID: updates_0001
Revises: warc_0001, dedup_0001, ingest_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "updates_0001"
down_revision = ("warc_0001", "dedup_0001", "ingest_0001")
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "article_versions",
        sa.Column("article_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.Column("fetched_at", TS),
        sa.Column("modified_at", TS),
        sa.Column("diff", sa.JSON()),
        sa.Column("correction", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("correction_notice", sa.Text()),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "version"),
    )
    op.create_table(
        "article_rechecks",
        sa.Column("article_id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("feed_id", sa.String(64)),
        sa.Column("first_seen_at", TS),
        sa.Column("checks_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_check_at", TS),
        sa.Column("entry_digest", sa.String(64)),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("body_sha256", sa.String(64)),
        sa.Column("last_checked_at", TS),
        sa.Column("last_outcome", sa.String(16)),
    )
    op.create_index("ix_article_rechecks_next_check_at", "article_rechecks", ["next_check_at"])
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("first_published_at", TS))
        batch.add_column(sa.Column("modified_at", TS))
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("dedup_entries") as batch:
        batch.add_column(sa.Column("version_fetched_at", TS))
    # existing rows: their one version is the first; its publication date the first one
    articles = sa.table(
        "articles", sa.column("published_at", TS), sa.column("first_published_at", TS)
    )
    op.get_bind().execute(articles.update().values(first_published_at=articles.c.published_at))


def downgrade() -> None:
    with op.batch_alter_table("dedup_entries") as batch:
        batch.drop_column("version_fetched_at")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("version")
        batch.drop_column("modified_at")
        batch.drop_column("first_published_at")
    op.drop_index("ix_article_rechecks_next_check_at", table_name="article_rechecks")
    op.drop_table("article_rechecks")
    op.drop_table("article_versions")
