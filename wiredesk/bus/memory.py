"""In-process bus: partitioned lists and per-group offsets, Kafka's semantics in one process.

Used by the embedded mode and the unit tests. A group started afresh reads from the
beginning (``auto_offset_reset=earliest``), so a replay works exactly as on Kafka.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

from wiredesk.bus import MAX_MESSAGE_BYTES, Message, next_offsets, partition_for
from wiredesk.errors import RecordRejected


class MemoryBus:
    def __init__(self, partitions: int = 1) -> None:
        self.partitions = partitions
        self._lock = threading.Lock()
        self._topics: dict[str, list[list[Message]]] = {}
        self._committed: dict[tuple[str, str, int], int] = {}
        self._round_robin = 0

    def ensure_topics(self, topics: Iterable[str]) -> None:
        with self._lock:
            for name in topics:
                self._topics.setdefault(name, [[] for _ in range(self.partitions)])

    def publish(
        self, topic: str, key: str | None, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        if len(value) > MAX_MESSAGE_BYTES:
            raise RecordRejected("too_large", f"{len(value)} bytes > {MAX_MESSAGE_BYTES}")
        with self._lock:
            parts = self._topics.setdefault(topic, [[] for _ in range(self.partitions)])
            self._round_robin += 1
            p = partition_for(key, len(parts), self._round_robin)
            parts[p].append(
                Message(topic, p, len(parts[p]), key, value, int(time.time() * 1000), headers or {})
            )

    def flush(self, timeout_s: float = 30.0) -> None:
        """Publishing to memory cannot fail, so there is nothing to wait for."""

    def consumer(self, topics: Sequence[str], group: str) -> MemoryConsumer:
        self.ensure_topics(topics)
        return MemoryConsumer(self, list(topics), group)

    def close(self) -> None:
        pass

    # -- used by MemoryConsumer and tests -------------------------------------------
    def messages(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for part in self._topics.get(topic, []) for m in part]

    def end_offset(self, topic: str, partition: int) -> int:
        with self._lock:
            return len(self._topics[topic][partition])

    def committed(self, group: str, topic: str, partition: int) -> int:
        with self._lock:
            return self._committed.get((group, topic, partition), 0)


class MemoryConsumer:
    """The only member of its group: it owns every partition of its topics."""

    def __init__(self, bus: MemoryBus, topics: list[str], group: str) -> None:
        self.bus = bus
        self.topics = topics
        self.group = group
        self._position = {
            (t, p): bus.committed(group, t, p) for t in topics for p in range(len(bus._topics[t]))
        }

    def poll(self, max_records: int, timeout_s: float) -> list[Message]:
        batch: list[Message] = []
        with self.bus._lock:
            for (topic, p), pos in self._position.items():
                part = self.bus._topics[topic][p]
                take = part[pos : pos + max_records - len(batch)]
                batch.extend(take)
                self._position[(topic, p)] = pos + len(take)
                if len(batch) >= max_records:
                    break
        return batch

    def commit(self, messages: Sequence[Message]) -> None:
        with self.bus._lock:
            for (topic, p), offset in next_offsets(messages).items():
                key = (self.group, topic, p)
                self.bus._committed[key] = max(self.bus._committed.get(key, 0), offset)

    def rewind(self) -> None:
        """Go back to the committed offsets (what a restart after a crash does)."""
        for topic, p in self._position:
            self._position[(topic, p)] = self.bus.committed(self.group, topic, p)

    def keepalive(self) -> None:
        pass

    def lag(self) -> dict[tuple[str, int], int]:
        return {
            (t, p): self.bus.end_offset(t, p) - self.bus.committed(self.group, t, p)
            for t, p in self._position
        }

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        return {(t, p): self.bus.committed(self.group, t, p) for t, p in self._position}

    def close(self) -> None:
        pass
