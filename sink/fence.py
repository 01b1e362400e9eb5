"""Fenced writes: a row only moves forward, and a stale writer cannot write (catalogue B4).

Two guards, both inside the sink's own transaction:

* **Offset fence.** ``sink_offsets`` holds, per (group, topic, partition) of the input,
  the last source offset the group wrote. The transaction locks those rows first (in a
  fixed order, ``SELECT .. FOR UPDATE``), drops every record at or below its fence
  (already written: a redelivery, or a zombie that was evicted while another member
  wrote past it), writes the rest and advances the fence, guarded so it can never move
  back. A sink frozen mid-batch, evicted and resumed finds the fence past its records
  and writes nothing; its offset commit then fails as before. The group is part of the
  key, so ``wiredesk replay`` (a fresh group) still rewrites deleted rows.
* **Total version order per row.** ``(fetched_at, extractor_rank, source_partition,
  source_offset)`` of the news.enriched record a row came from: a later fetch of the
  page wins; for the same fetch (an extract or enrich replay of one raw page) a newer
  extractor wins (:mod:`wiredesk.versions`; compared only when both versions parse), so
  replaying with an older extractor never overwrites a newer extraction, whatever the
  offsets say; then records of one article share a partition (keyed by article id), so
  the offset breaks the remaining ties in the order the versions were produced. A dedup
  verdict revision published later on news.enriched is simply a later offset.

Limit: the fence trusts offsets to grow, so recreating news.enriched (offsets back at 0)
needs ``DELETE FROM sink_offsets`` (README, Operations).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from wiredesk.db import insert_for
from wiredesk.db.runner_tables import SinkOffsetRow
from wiredesk.stage import Position
from wiredesk.versions import newer_extractor

FenceKey = tuple[str, str, int]
NO_OFFSET = -1


def key(p: Position) -> FenceKey:
    return (p.group, p.topic, p.partition)


def lock(conn: Connection, keys: set[FenceKey]) -> dict[FenceKey, int]:
    """The fences of ``keys``, row-locked until the transaction ends (-1: none yet)."""
    if not keys:
        return {}
    t = SinkOffsetRow.__table__
    found: dict[FenceKey, int] = {}
    for group, topic, partition in sorted(keys):  # one order: no deadlock between sinks
        offset = conn.scalar(
            select(t.c.offset)
            .where(t.c.group_name == group, t.c.topic == topic, t.c.partition == partition)
            .with_for_update()
        )
        found[(group, topic, partition)] = NO_OFFSET if offset is None else offset
    return found


def advance(conn: Connection, offsets: dict[FenceKey, int]) -> None:
    """Move each fence up to ``offsets`` (never down), in the caller's transaction."""
    if not offsets:
        return
    t = SinkOffsetRow.__table__
    stmt = insert_for(conn.engine, t)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["group_name", "topic", "partition"],
            set_={"offset": stmt.excluded.offset, "updated_at": stmt.excluded.updated_at},
            where=t.c.offset < stmt.excluded.offset,
        ),
        [
            {
                "group_name": g,
                "topic": topic,
                "partition": p,
                "offset": o,
                "updated_at": datetime.now(UTC),
            }
            for (g, topic, p), o in sorted(offsets.items())
        ],
    )


def fresh(
    positions: Sequence[Position | None], fences: dict[FenceKey, int]
) -> tuple[list[int], dict[FenceKey, int]]:
    """Indexes of the records past their fence, and the fences' new values."""
    keep: list[int] = []
    new: dict[FenceKey, int] = {}
    for i, p in enumerate(positions):
        if p is None:
            keep.append(i)
            continue
        k = key(p)
        if p.offset > fences.get(k, NO_OFFSET):
            keep.append(i)
            new[k] = max(new.get(k, NO_OFFSET), p.offset)
    return keep, new


def older(
    incoming: datetime | None,
    incoming_at: tuple[Any, Any],
    stored: datetime | None,
    stored_at: tuple[Any, Any],
    extractors: tuple[str | None, str | None] = (None, None),
) -> bool:
    """Whether the incoming version is older than the stored one (see the module
    docstring): by fetch time, then by extractor version (``extractors`` = incoming's,
    stored's; skipped unless both parse), then by source position; a missing fetch time
    compares positions only, and a missing position counts as -1 (rows written before
    the fence)."""
    a, b = _position(*incoming_at), _position(*stored_at)
    if incoming is None or stored is None:
        return a < b
    if _utc(incoming) != _utc(stored):
        return _utc(incoming) < _utc(stored)
    by_extractor = newer_extractor(*extractors)
    if by_extractor:
        return by_extractor < 0
    return a < b


def _position(partition: Any, offset: Any) -> tuple[int, int]:
    return (
        NO_OFFSET if partition is None else int(partition),
        NO_OFFSET if offset is None else int(offset),
    )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite: naive
