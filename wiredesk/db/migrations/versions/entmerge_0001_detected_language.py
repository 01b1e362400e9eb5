"""Articles: ``detected_language``, the language detected from the text by the enricher
(``language`` stays the one the page declares).

Revision ID: entmerge_0001
Revises: sink_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "entmerge_0001"
down_revision = "sink_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("detected_language", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("detected_language")
