"""Articles: rights and access flags (``paywalled``, ``tdm_reserved``, ``ai_opt_out``;
NULL when unknown), their ``rights_evidence`` (a JSON list of short strings, see
ingest.rights) and ``text_withheld`` (the rights policy ``metadata`` kept the text out).

Revision ID: rights_0001
Revises: storyent_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rights_0001"
down_revision = "storyent_0001"
branch_labels = None
depends_on = None
COLUMNS = ("paywalled", "tdm_reserved", "ai_opt_out", "rights_evidence", "text_withheld")


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("paywalled", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("tdm_reserved", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("ai_opt_out", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("rights_evidence", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("text_withheld", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
