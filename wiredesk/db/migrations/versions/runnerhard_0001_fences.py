"""Runner and sink fences: ``record_attempts`` (poison records across restarts),
``sink_offsets`` (transactional offset fence) and the source position of each article
row (``source_partition``, ``source_offset``: a total version order with ``fetched_at``).

Revision ID: runnerhard_0001
Revises: sink_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "runnerhard_0001"
down_revision = "sink_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_attempts",
        sa.Column("group_name", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "sink_offsets",
        sa.Column("group_name", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.add_column("articles", sa.Column("source_partition", sa.Integer(), nullable=True))
    op.add_column("articles", sa.Column("source_offset", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("source_offset")
        batch.drop_column("source_partition")
    op.drop_table("sink_offsets")
    op.drop_table("record_attempts")
