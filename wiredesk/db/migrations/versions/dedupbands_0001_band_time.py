"""Dedup band rows carry the article's time (``dedup_bands.at``: with ``dedup_window_hours``
set, postings outside the window are not candidates) and a hash of its id (``tie``:
candidates sharing as many bands are ranked by it, not by arrival order).

Rows stored before this revision keep both NULL: an unknown time (always a candidate, as
before) and, among candidates sharing as many bands, a place after those with a hash;
retention removes them in time.

Revision ID: dedupbands_0001
Revises: storykeys_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dedupbands_0001"
down_revision = "storykeys_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dedup_bands") as batch:
        batch.add_column(sa.Column("at", sa.BigInteger()))
        batch.add_column(sa.Column("tie", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("dedup_bands") as batch:
        batch.drop_column("tie")
        batch.drop_column("at")
