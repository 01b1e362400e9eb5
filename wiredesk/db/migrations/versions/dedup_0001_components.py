"""Transform state as connected components: group and story membership, revisions.

Dedup entries get their discovery time, the story root and features, and a
per-article revision (with the pending flag and who emitted it); the stored entity list
goes (copies no longer reuse their canonical's entities). Story state moves from
per-story profiles (``story_state``, ``story_keys``) to per-article features indexed by
``story_article_keys``; the old story tables are dropped (their stories stay on the
articles rows; new decisions start from the new index).

Revision ID: dedup_0001
Revises: transform_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dedup_0001"
down_revision = "transform_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("dedup_entries") as batch:
        batch.add_column(sa.Column("discovered_at", TS))
        batch.add_column(sa.Column("story_root", sa.String(32)))
        batch.add_column(sa.Column("story_features", sa.JSON()))
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("pending", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("emitted_by", sa.String(32)))
        batch.drop_column("entities")  # copies run NER on their own text now
    op.create_index("ix_dedup_entries_duplicate_of", "dedup_entries", ["duplicate_of"])
    op.create_index("ix_dedup_entries_story_root", "dedup_entries", ["story_root"])
    op.create_index("ix_dedup_entries_pending", "dedup_entries", ["pending", "seq"])
    op.create_index("ix_dedup_entries_emitted_by", "dedup_entries", ["emitted_by"])
    op.drop_table("story_keys")
    op.drop_table("story_state")
    op.create_table(
        "story_article_keys",
        sa.Column("key", sa.BigInteger(), primary_key=True),
        sa.Column("entry_seq", sa.BigInteger(), primary_key=True),
    )
    op.create_index(
        "ix_story_article_keys_entry_seq",
        "story_article_keys",
        ["entry_seq"],
        postgresql_using="brin",
    )


def downgrade() -> None:
    op.drop_table("story_article_keys")
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
    for name in ("emitted_by", "pending", "story_root", "duplicate_of"):
        op.drop_index(f"ix_dedup_entries_{name}", "dedup_entries")
    with op.batch_alter_table("dedup_entries") as batch:
        batch.add_column(sa.Column("entities", sa.JSON()))
        for column in (
            "emitted_by",
            "pending",
            "revision",
            "story_features",
            "story_root",
            "discovered_at",
        ):
            batch.drop_column(column)
