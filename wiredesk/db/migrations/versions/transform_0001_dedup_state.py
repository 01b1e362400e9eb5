"""Transform state: near-duplicate signatures, LSH bands, stories.

Revision ID: transform_0001
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "transform_0001"
down_revision = "0001"
branch_labels = ("transform",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index(
        "ix_content_fingerprints_first_seen_at", "content_fingerprints", ["first_seen_at"]
    )
    op.create_table(
        "dedup_entries",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("article_id", sa.String(32), nullable=False, unique=True),
        sa.Column("first_seen_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", TS),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("shingle_count", sa.Integer(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("lead_signature", sa.LargeBinary(), nullable=False),
        sa.Column("duplicate_of", sa.String(32)),
        sa.Column("similarity", sa.Float()),
        sa.Column("story_id", sa.String(32)),
        sa.Column("entities", sa.JSON()),
    )
    op.create_index("ix_dedup_entries_first_seen_at", "dedup_entries", ["first_seen_at"])
    op.create_table(
        "dedup_bands",
        sa.Column("band_key", sa.BigInteger(), primary_key=True),
        sa.Column("entry_seq", sa.BigInteger(), primary_key=True),
    )
    op.create_index(
        "ix_dedup_bands_entry_seq", "dedup_bands", ["entry_seq"], postgresql_using="brin"
    )
    op.create_table(
        "story_state",
        sa.Column("story_id", sa.String(32), primary_key=True),
        sa.Column("touched_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
    )
    op.create_index("ix_story_state_touched_at", "story_state", ["touched_at"])
    op.create_table(
        "story_keys",
        sa.Column("key", sa.BigInteger(), primary_key=True),
        sa.Column("story_id", sa.String(32), primary_key=True),
    )
    op.create_index("ix_story_keys_story_id", "story_keys", ["story_id"])


def downgrade() -> None:
    op.drop_table("story_keys")
    op.drop_table("story_state")
    op.drop_table("dedup_bands")
    op.drop_table("dedup_entries")
    op.drop_index("ix_content_fingerprints_first_seen_at", "content_fingerprints")
