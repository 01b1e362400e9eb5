"""Ingest: feed registry (enabled, interval, tags, origin) and schedule columns.

Revision ID: ingest_0001
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0001"
down_revision = "0001"
branch_labels = ("ingest",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("interval_s", sa.Integer()))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("added_from", sa.String(16)))
        batch.add_column(sa.Column("next_poll_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("current_interval_s", sa.Float()))
        batch.add_column(sa.Column("last_status", sa.Integer()))
    op.create_index("ix_feeds_next_poll_at", "feeds", ["next_poll_at"])


def downgrade() -> None:
    op.drop_index("ix_feeds_next_poll_at", "feeds")
    with op.batch_alter_table("feeds") as batch:
        for column in (
            "last_status",
            "current_interval_s",
            "next_poll_at",
            "added_from",
            "tags",
            "interval_s",
            "enabled",
        ):
            batch.drop_column(column)
