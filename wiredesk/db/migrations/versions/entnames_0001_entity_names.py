"""Entity names decided by all mentions: ``article_entities.name``/``label`` (how each
article names the entity) and ``entity_names`` (mentions per entity, name and label), so an
entity's preferred name and label no longer follow the last article written
(:mod:`sink.entity_names`). Existing rows take their entity's current name and label.

Revision ID: entnames_0001
Revises: sink_0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "entnames_0001"
down_revision = "sink_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("article_entities", sa.Column("name", sa.Text(), nullable=True))
    op.add_column("article_entities", sa.Column("label", sa.String(32), nullable=True))
    op.execute(
        "UPDATE article_entities SET"
        " name = (SELECT e.name FROM entities e"
        " WHERE e.canonical_id = article_entities.canonical_id),"
        " label = (SELECT e.label FROM entities e"
        " WHERE e.canonical_id = article_entities.canonical_id)"
    )
    with op.batch_alter_table("article_entities") as batch:
        batch.alter_column("name", existing_type=sa.Text(), nullable=False)
        batch.alter_column("label", existing_type=sa.String(32), nullable=False)
    op.create_table(
        "entity_names",
        sa.Column("canonical_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("mentions", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO entity_names (canonical_id, name, label, mentions)"
        " SELECT canonical_id, name, label, SUM(mentions) FROM article_entities"
        " GROUP BY canonical_id, name, label"
    )


def downgrade() -> None:
    op.drop_table("entity_names")
    with op.batch_alter_table("article_entities") as batch:
        batch.drop_column("label")
        batch.drop_column("name")
