"""Articles: ``truncated``, true when the extracted text was cut at the cap that keeps an
article under the broker's message limit (ingest.normalise.TEXT_MAX_BYTES).

Revision ID: sink_0002
Revises: sink_0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sink_0002"
down_revision = "sink_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "articles",
        sa.Column("truncated", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("truncated")
