"""``story_entities``: per story, entity ids resolved to the story's full id (a surname to
the full name, an acronym to the name), rewritten by the sink with the story row.

Revision ID: storyent_0001
Revises: entmerge_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "storyent_0001"
down_revision = "entmerge_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_entities",
        sa.Column("story_id", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("resolved_id", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(["story_id"], ["stories.story_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("story_id", "entity_id"),
    )
    op.create_index("ix_story_entities_resolved", "story_entities", ["resolved_id", "story_id"])


def downgrade() -> None:
    op.drop_index("ix_story_entities_resolved", table_name="story_entities")
    op.drop_table("story_entities")
