"""The single seam between stages and infrastructure: a Bus with three implementations.

``MemoryBus`` (one process, no servers, nothing kept), ``SqlBus`` (tables in SQLite or
PostgreSQL: one machine, durable, no broker) and ``KafkaBus`` (kafka-python) give the same
semantics: partitioned append-only topics, consumer groups with their own committed
offsets, explicit commits, and publishes that are only durable after ``flush()``
returns without raising.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Kafka's default max.message.bytes is 1 MiB; stay a little under it for headers and
# batch overhead. Every bus refuses larger records, so the embedded mode catches them too.
MAX_MESSAGE_BYTES = 1_000_000


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    timestamp_ms: int
    headers: dict[str, str] = field(default_factory=dict)


def next_offsets(messages: Sequence[Message]) -> dict[tuple[str, int], int]:
    """The offsets to commit after ``messages``: last offset + 1 per partition."""
    offsets: dict[tuple[str, int], int] = {}
    for m in messages:
        tp = (m.topic, m.partition)
        offsets[tp] = max(offsets.get(tp, 0), m.offset + 1)
    return offsets


def partition_for(key: str | None, partitions: int, fallback: int) -> int:
    """Stable key → partition (crc32; Kafka uses murmur2, only stability matters here)."""
    if key is None:
        return fallback % partitions
    return zlib.crc32(key.encode("utf-8")) % partitions


class Consumer(Protocol):
    def poll(self, max_records: int, timeout_s: float) -> list[Message]: ...

    def commit(self, messages: Sequence[Message]) -> None:
        """Commit past ``messages``; raises CommitFailed if the group moved on."""

    def keepalive(self) -> None:
        """Stay in the group without taking new records (while output is blocked)."""

    def lag(self) -> dict[tuple[str, int], int]:
        """Committed-offset lag per (topic, partition) assigned to this consumer."""

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        """Committed offsets seen by the last ``lag()`` call, same keys."""

    def close(self) -> None: ...


class Bus(Protocol):
    def ensure_topics(self, topics: Iterable[str]) -> None: ...

    def publish(
        self, topic: str, key: str | None, value: bytes, headers: dict[str, str] | None = None
    ) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for every publish since the last flush; raise PublishError if any failed."""

    def consumer(self, topics: Sequence[str], group: str) -> Consumer: ...

    def close(self) -> None: ...


def make_bus(
    kind: str,
    *,
    kafka_bootstrap: str = "",
    partitions: int = 6,
    namespace: str = "",
    url: str = "",
    retention_hours: float = 168.0,
    keep_hours: float = 0.0,
    raw_retention_hours: float = 0.0,
    kafka_options: dict[str, Any] | None = None,
) -> Bus:
    """Build the bus named in the settings (``memory``, ``sql`` or ``kafka``)."""
    if kind == "memory":
        from wiredesk.bus.memory import MemoryBus

        return MemoryBus(partitions=partitions)
    if kind == "sql":
        from wiredesk.bus.sql import SqlBus

        return SqlBus(
            url, partitions=partitions, retention_hours=retention_hours, keep_hours=keep_hours
        )
    from wiredesk.bus.kafka import KafkaBus
    from wiredesk.topics import RAW

    # news.raw's retention (0: for ever); the raw archive keeps the pages beyond it
    raw_ms = int(raw_retention_hours * 3_600_000) if raw_retention_hours > 0 else -1
    return KafkaBus(
        kafka_bootstrap,
        partitions=partitions,
        namespace=namespace,
        topic_configs={RAW.name: {"retention.ms": str(raw_ms)}},
        **(kafka_options or {}),
    )
