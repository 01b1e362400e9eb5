"""Story keys carry the article's story time (``story_article_keys.at``, an index on
(``key``, ``at``): a story-candidate lookup reads only the postings inside the window) and
a hash of its id (``tie``: the best candidates are chosen from this table alone).

Rows stored before this revision keep ``at`` NULL, which lookups treat as an unknown time
(always a candidate, as before); retention removes them in time.

Revision ID: storykeys_0001
Revises: updates_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "storykeys_0001"
down_revision = "updates_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("story_article_keys") as batch:
        batch.add_column(sa.Column("at", sa.BigInteger()))
        batch.add_column(sa.Column("tie", sa.BigInteger()))
    op.create_index("ix_story_article_keys_key_at", "story_article_keys", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_story_article_keys_key_at", table_name="story_article_keys")
    with op.batch_alter_table("story_article_keys") as batch:
        batch.drop_column("tie")
        batch.drop_column("at")
