"""Bounded consumers for replays: read one topic from a timestamp to a stop offset.

Each implements the runner's ``Consumer`` protocol, so a replay runs the stage's own code
through ``StageRunner``. The Kafka one assigns every partition to itself (no group
membership, so no rebalance of anyone) and commits to its own fresh group, which never
touches the live groups' offsets.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

import kafka.errors
from kafka import KafkaConsumer, TopicPartition

from wiredesk.bus import Message, next_offsets
from wiredesk.bus.kafka import _message, commit_offsets
from wiredesk.bus.memory import MemoryBus
from wiredesk.bus.sql import SqlBus


class TopicMissing(Exception):
    """The topic to replay does not exist."""


class _Bounded:
    """Positions and stop offsets per partition; subclasses fetch and commit."""

    topic: str
    start: dict[int, int]
    stop: dict[int, int]
    position: dict[int, int]

    @property
    def total(self) -> int:
        return sum(max(0, self.stop[p] - self.start[p]) for p in self.stop)

    @property
    def done_count(self) -> int:
        return sum(
            min(self.position[p], self.stop[p]) - self.start[p]
            for p in self.stop
            if self.stop[p] > self.start[p]
        )

    def caught_up(self) -> bool:
        return all(self.position[p] >= self.stop[p] for p in self.stop)

    def _keep(self, messages: list[Message]) -> list[Message]:
        kept = []
        for m in messages:
            if m.offset < self.stop[m.partition]:
                kept.append(m)
                self.position[m.partition] = max(self.position[m.partition], m.offset + 1)
        return kept

    def keepalive(self) -> None:
        """Not a group member: nothing to keep alive."""

    def lag(self) -> dict[tuple[str, int], int]:
        return {(self.topic, p): max(0, self.stop[p] - self.position[p]) for p in self.stop}

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        return {(self.topic, p): self.position[p] for p in self.stop}


class KafkaReplayConsumer(_Bounded):
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        from_ms: int | None,
        to_ms: int | None,
        namespace: str = "",
    ) -> None:
        self.topic = topic
        self.namespace = namespace
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=namespace + group,
            client_id=f"wiredesk-replay-{socket.gethostname()}-{os.getpid()}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=16 * 1024 * 1024,
        )
        partitions = self._consumer.partitions_for_topic(namespace + topic)
        if not partitions:
            self._consumer.close(autocommit=False)
            raise TopicMissing(f"topic {namespace + topic} does not exist")
        tps = [TopicPartition(namespace + topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        ends = self._consumer.end_offsets(tps)
        begins = self._consumer.beginning_offsets(tps)
        self.start = self._offsets(tps, from_ms, begins, ends)
        self.stop = self._offsets(tps, to_ms, ends, ends)
        self.position = dict(self.start)
        for tp in tps:
            # a group that already committed inside the range resumes from there
            committed = self._consumer.committed(tp)
            p = tp.partition
            if committed is not None and self.start[p] < committed:
                self.position[p] = min(committed, self.stop[p])
            self._consumer.seek(tp, self.position[p])

    def _offsets(self, tps, when_ms, default, ends) -> dict[int, int]:  # type: ignore[no-untyped-def]
        """First offset at/after ``when_ms`` per partition (the end if none is)."""
        if when_ms is None:
            return {tp.partition: default[tp] for tp in tps}
        found = self._consumer.offsets_for_times({tp: when_ms for tp in tps})
        return {tp.partition: (found[tp].offset if found[tp] else ends[tp]) for tp in tps}

    def poll(self, max_records: int, timeout_s: float) -> list[Message]:
        batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        messages = [_message(r, self.namespace) for rs in batches.values() for r in rs]
        kept = self._keep(messages)
        for p in self.stop:
            tp = TopicPartition(self.namespace + self.topic, p)
            if self.position[p] < self.stop[p] and self._consumer.position(tp) >= self.stop[p]:
                self.position[p] = self.stop[p]  # only gaps (e.g. control records) were left
        finished = [
            TopicPartition(self.namespace + self.topic, p)
            for p in self.stop
            if self.position[p] >= self.stop[p]
        ]
        if finished:
            self._consumer.pause(*finished)
        return kept

    def commit(self, messages: Sequence[Message]) -> None:
        # any broker error ends a bounded replay's commit: it is re-run, not retried
        commit_offsets(self._consumer, self.namespace, messages, (kafka.errors.KafkaError,))

    def close(self) -> None:
        self._consumer.close(autocommit=False)


class MemoryReplayConsumer(_Bounded):
    """The same over the in-process bus (for the embedded mode and tests)."""

    def __init__(
        self, bus: MemoryBus, topic: str, group: str, from_ms: int | None, to_ms: int | None
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.group = group
        bus.ensure_topics([topic])
        parts = bus._topics[topic]
        self.start, self.stop = {}, {}
        for p, messages in enumerate(parts):
            self.start[p] = _first_at(messages, from_ms, 0)
            self.stop[p] = _first_at(messages, to_ms, len(messages))
        self.position = dict(self.start)

    def poll(self, max_records: int, timeout_s: float) -> list[Message]:
        batch: list[Message] = []
        for p, messages in enumerate(self.bus._topics[self.topic]):
            want = max_records - len(batch)
            if want <= 0:
                break
            batch.extend(messages[self.position[p] : min(self.stop[p], self.position[p] + want)])
        return self._keep(batch)

    def commit(self, messages: Sequence[Message]) -> None:
        self.bus.consumer([self.topic], self.group).commit(messages)

    def close(self) -> None:
        pass


class SqlReplayConsumer(_Bounded):
    """The same over the sql bus: reads below the stop offsets, commits to its own group."""

    def __init__(
        self, bus: SqlBus, topic: str, group: str, from_ms: int | None, to_ms: int | None
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.group = group
        bus.ensure_topics([topic])
        self.start = bus.first_offsets_at(topic, from_ms)
        self.stop = bus.first_offsets_at(topic, to_ms) if to_ms is not None else {}
        self.stop = {p: self.stop.get(p, end) for p, end in bus.end_offsets(topic).items()}
        self.position = dict(self.start)
        for p, committed in bus.committed(group, topic).items():
            if self.start[p] < committed:  # a group that committed inside the range resumes
                self.position[p] = min(committed, self.stop[p])

    def poll(self, max_records: int, timeout_s: float) -> list[Message]:
        batch: list[Message] = []
        for p in sorted(self.stop):
            want = max_records - len(batch)
            if want <= 0:
                break
            if self.position[p] < self.stop[p]:
                batch.extend(self.bus.read(self.topic, p, self.position[p], self.stop[p], want))
        return self._keep(batch)

    def commit(self, messages: Sequence[Message]) -> None:
        self.bus.commit(self.group, next_offsets(messages))

    def close(self) -> None:
        pass


def _first_at(messages: list[Message], when_ms: int | None, default: int) -> int:
    if when_ms is None:
        return default
    for m in messages:
        if m.timestamp_ms >= when_ms:
            return m.offset
    return len(messages)
