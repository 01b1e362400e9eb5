"""State of the runner and the sink's fence (issue 13).

* ``record_attempts``: how often a batch, then a record, was started on a partition
  without finishing (:mod:`wiredesk.attempts`). One row per (group, topic, partition,
  kind): the table stays as small as the number of partitions.
* ``sink_offsets``: the last source offset a sink group wrote, per input partition,
  updated in the sink's own transaction (:mod:`sink.fence`): a sink that lost its
  partitions cannot write a batch another member already wrote past.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from wiredesk.db.base import Base


class RecordAttemptRow(Base):
    __tablename__ = "record_attempts"

    group_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # batch | record
    offset: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    open: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SinkOffsetRow(Base):
    __tablename__ = "sink_offsets"

    group_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
