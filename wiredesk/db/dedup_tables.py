"""Transform state: what the dedup and story stages remember across workers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from wiredesk.db.base import Base


class ContentFingerprintRow(Base):
    """Exact-duplicate state: the first article seen with each normalised-text hash."""

    __tablename__ = "content_fingerprints"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
