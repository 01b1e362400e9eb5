"""Raw archive: an index on ``archive_pages.file``, for ``wiredesk archive prune``, which
deletes the rows of whole WARC files.

Revision ID: prune_0001
Revises: warc_0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "prune_0001"
down_revision = "warc_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_archive_pages_file", "archive_pages", ["file"])


def downgrade() -> None:
    op.drop_index("ix_archive_pages_file", "archive_pages")
