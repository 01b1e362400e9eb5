"""Articles: the verdict's ``revision`` and the page's rejected publication date; revisions
that arrived before their article (``verdict_revisions``).

Revision ID: dedup_0002
Revises: sink_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dedup_0002"
down_revision = "sink_0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("published_at_claimed", TS))
    op.create_table(
        "verdict_revisions",
        sa.Column("article_id", sa.String(32), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("duplicate_of", sa.String(32)),
        sa.Column("similarity", sa.Float()),
        sa.Column("story_id", sa.String(32)),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("verdict_revisions")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("published_at_claimed")
        batch.drop_column("revision")
