"""Raw archive index (``archive_pages``) and ``articles.extractor_rank``, the sortable
form of ``extractor_version`` (wiredesk.versions), filled in for the existing rows.

Revision ID: warc_0001
Revises: rights_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wiredesk.versions import extractor_rank

revision = "warc_0001"
down_revision = "rights_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_pages",
        sa.Column("article_id", sa.String(32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("article_id", "fetched_at"),
    )
    op.create_index("ix_archive_pages_fetched_at", "archive_pages", ["fetched_at", "article_id"])
    with op.batch_alter_table("articles") as batch:
        # collation "C" on PostgreSQL: compared byte-wise, as in Python, whatever the locale
        rank = sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")
        batch.add_column(sa.Column("extractor_rank", rank, nullable=True))
    conn = op.get_bind()
    articles = sa.table(
        "articles", sa.column("extractor_version", sa.String), sa.column("extractor_rank")
    )
    versions = conn.execute(sa.select(articles.c.extractor_version).distinct()).scalars()
    for version in list(versions):  # a handful of distinct versions, not one per row
        rank = extractor_rank(version)
        if rank is not None:
            conn.execute(
                articles.update()
                .where(articles.c.extractor_version == version)
                .values(extractor_rank=rank)
            )


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("extractor_rank")
    op.drop_index("ix_archive_pages_fetched_at", table_name="archive_pages")
    op.drop_table("archive_pages")
