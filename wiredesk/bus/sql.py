"""SQL bus: Kafka's semantics in a database, for one machine without a broker.

Topics are an append-only table (``bus_messages``: topic, partition, offset, key, value,
headers, timestamp); ``bus_heads`` holds each partition's next offset, ``bus_offsets``
each consumer group's committed offsets. The same contract as the other buses:
partitioned by key, explicit commits, a fresh group reads from the beginning, a publish
is durable once ``flush()`` returned (one transaction, ``synchronous=FULL`` on SQLite),
records over MAX_MESSAGE_BYTES are refused.

Offsets are handed out by ``UPDATE bus_heads ... RETURNING``: the row lock (PostgreSQL)
or the write lock taken by ``BEGIN IMMEDIATE`` (SQLite, WAL) is held until the commit,
so a reader never sees offset N+1 before N is visible, whatever the number of writers.
A consumer is the only member of its group: it owns every partition of its topics
(one process per group; Kafka is how wiredesk scales out).

Retention (:meth:`SqlBus.prune`): messages older than ``retention_hours`` are deleted,
except in ``keep_topics`` (news.raw and news.dlq by default: the raw pages replays read
and the dead letters), which have their own ``keep_hours`` (0, the default: kept for
ever), and never one that a consumer group has not committed past (a replay group,
``<stage>.replay.<time>``, only while it committed within the period), so a service
stopped for longer than the retention loses nothing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, case, delete, func, select, update

from wiredesk.bus import MAX_MESSAGE_BYTES, Message, next_offsets, partition_for
from wiredesk.bus.sql_tables import (
    heads,
    make_engines,
    messages,
    meta,
    metadata,
    offsets,
    topics_table,
)
from wiredesk.db import insert_for
from wiredesk.errors import RecordRejected

DEFAULT_KEEP = ("news.raw", "news.dlq")
REPLAY_MARK = ".replay."  # replay groups (wiredesk.app.ops.replay) protect only while active
IDLE_WAIT_S = 0.2  # a poll with nothing to read re-checks this often (other processes)


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqlBus:
    def __init__(
        self,
        url: str,
        partitions: int = 6,
        *,
        retention_hours: float = 168.0,
        keep_topics: Iterable[str] = DEFAULT_KEEP,
        keep_hours: float = 0.0,
    ) -> None:
        self.url = url
        self.partitions = partitions
        self.retention_hours = retention_hours
        self.keep_topics = frozenset(keep_topics)
        self.keep_hours = keep_hours  # retention of keep_topics; 0: kept for ever
        self.writer, self.reader = make_engines(url)
        metadata.create_all(self.writer)
        self._lock = threading.Lock()
        self._published = threading.Condition()
        self._pending: list[tuple[str, str | None, bytes, dict[str, str], int]] = []
        self._partitions_of: dict[str, int] = {}
        self._round_robin = 0
        self.identity = self._identity()

    def _identity(self) -> str:
        """A random id made with the tables: names this bus in ``dlq_resends``, so a
        recreated bus (offsets from 0 again) is never mistaken for the old one."""
        with self.writer.begin() as conn:
            conn.execute(
                insert_for(self.writer, meta).on_conflict_do_nothing(),
                {"name": "bus_id", "value": uuid.uuid4().hex[:12]},
            )
            return str(conn.scalar(select(meta.c.value).where(meta.c.name == "bus_id")))

    # -- topics ----------------------------------------------------------------------
    def ensure_topics(self, topics: Iterable[str]) -> None:
        missing = [t for t in topics if t not in self._partitions_of]
        if not missing:
            return
        with self.writer.begin() as conn:
            for topic in missing:
                conn.execute(
                    insert_for(self.writer, topics_table).on_conflict_do_nothing(),
                    {"topic": topic, "partitions": self.partitions},
                )
                count = int(
                    conn.scalar(
                        select(topics_table.c.partitions).where(topics_table.c.topic == topic)
                    )
                )
                conn.execute(
                    insert_for(self.writer, heads).on_conflict_do_nothing(),
                    [{"topic": topic, "part": p, "next_seq": 0} for p in range(count)],
                )
                self._partitions_of[topic] = count

    def partitions_of(self, topic: str) -> int:
        self.ensure_topics([topic])
        return self._partitions_of[topic]

    # -- producer --------------------------------------------------------------------
    def publish(
        self, topic: str, key: str | None, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        if len(value) > MAX_MESSAGE_BYTES:
            raise RecordRejected("too_large", f"{len(value)} bytes > {MAX_MESSAGE_BYTES}")
        if key is not None:  # a lone surrogate cannot be stored (Kafka would refuse it too)
            key = key.encode("utf-8", "replace").decode("utf-8")
        count = self.partitions_of(topic)
        with self._lock:
            self._round_robin += 1
            part = partition_for(key, count, self._round_robin)
            self._pending.append((topic, key, value, headers or {}, part))

    def flush(self, timeout_s: float = 30.0) -> None:
        """Write every pending publish in one transaction; raises if it did not commit
        (the caller publishes again: nothing of the failed transaction is visible)."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        grouped: dict[tuple[str, int], list[tuple[str | None, bytes, dict[str, str]]]] = {}
        for topic, key, value, headers, part in pending:
            grouped.setdefault((topic, part), []).append((key, value, headers))
        now = _now_ms()
        with self.writer.begin() as conn:
            for (topic, part), items in sorted(grouped.items()):  # one lock order
                end = conn.execute(
                    update(heads)
                    .where(heads.c.topic == topic, heads.c.part == part)
                    .values(next_seq=heads.c.next_seq + len(items))
                    .returning(heads.c.next_seq)
                ).scalar_one()
                first = int(end) - len(items)
                conn.execute(
                    messages.insert(),
                    [
                        {
                            "topic": topic,
                            "part": part,
                            "seq": first + i,
                            "key": key,
                            "value": value,
                            "headers": json.dumps(headers, sort_keys=True),
                            "timestamp_ms": now,
                        }
                        for i, (key, value, headers) in enumerate(items)
                    ],
                )
        with self._published:
            self._published.notify_all()

    # -- consumer --------------------------------------------------------------------
    def consumer(self, topics: Sequence[str], group: str) -> SqlConsumer:
        self.ensure_topics(topics)
        return SqlConsumer(self, list(topics), group)

    def read(
        self, topic: str, part: int, start: int, stop: int | None, limit: int
    ) -> list[Message]:
        """Messages of one partition from offset ``start`` (below ``stop``), in order."""
        query = select(messages).where(
            messages.c.topic == topic, messages.c.part == part, messages.c.seq >= start
        )
        if stop is not None:
            query = query.where(messages.c.seq < stop)
        with self.reader.connect() as conn:
            rows = conn.execute(query.order_by(messages.c.seq).limit(limit)).all()
        return [
            Message(r.topic, r.part, r.seq, r.key, r.value, r.timestamp_ms, json.loads(r.headers))
            for r in rows
        ]

    def end_offsets(self, topic: str) -> dict[int, int]:
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(heads.c.part, heads.c.next_seq).where(heads.c.topic == topic)
            ).all()
        return {r.part: int(r.next_seq) for r in rows}

    def first_offsets_at(self, topic: str, when_ms: int | None) -> dict[int, int]:
        """Per partition, the first offset stored at/after ``when_ms`` (None: the first
        offset still stored); the end offset where there is none."""
        ends = self.end_offsets(topic)
        query = select(messages.c.part, func.min(messages.c.seq).label("seq")).where(
            messages.c.topic == topic
        )
        if when_ms is not None:
            query = query.where(messages.c.timestamp_ms >= when_ms)
        with self.reader.connect() as conn:
            found = {r.part: int(r.seq) for r in conn.execute(query.group_by(messages.c.part))}
        return {p: found.get(p, end) for p, end in ends.items()}

    def committed(self, group: str, topic: str) -> dict[int, int]:
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(offsets.c.part, offsets.c.seq).where(
                    offsets.c.grp == group, offsets.c.topic == topic
                )
            ).all()
        return {r.part: int(r.seq) for r in rows}

    def commit(self, group: str, positions: dict[tuple[str, int], int]) -> None:
        """Store committed offsets; an offset never moves back."""
        if not positions:
            return
        stmt = insert_for(self.writer, offsets)
        stmt = stmt.on_conflict_do_update(
            index_elements=["grp", "topic", "part"],
            set_={
                "seq": case(
                    (stmt.excluded.seq > offsets.c.seq, stmt.excluded.seq), else_=offsets.c.seq
                ),
                "updated_ms": stmt.excluded.updated_ms,
            },
        )
        now = _now_ms()
        rows = [
            {"grp": group, "topic": t, "part": p, "seq": o, "updated_ms": now}
            for (t, p), o in sorted(positions.items())
        ]
        with self.writer.begin() as conn:
            conn.execute(stmt, rows)

    def wait_for_publish(self, timeout_s: float) -> None:
        with self._published:
            self._published.wait(timeout_s)

    # -- retention -------------------------------------------------------------------
    def prune(self, now_ms: int | None = None) -> int:
        """Delete what retention allows (see the module docstring). Returns rows deleted."""
        now_ms = now_ms or _now_ms()
        with self.reader.connect() as conn:
            parts = conn.execute(select(heads.c.topic, heads.c.part, heads.c.next_seq)).all()
            groups = conn.execute(
                select(offsets.c.grp, offsets.c.topic, offsets.c.part, offsets.c.seq).add_columns(
                    offsets.c.updated_ms
                )
            ).all()
        deleted = 0
        for r in parts:
            hours = self.keep_hours if r.topic in self.keep_topics else self.retention_hours
            if hours <= 0:
                continue
            cutoff = now_ms - int(hours * 3_600_000)
            below = min(
                [int(r.next_seq)]
                + [
                    int(g.seq)
                    for g in groups
                    if (g.topic, g.part) == (r.topic, r.part)
                    and (REPLAY_MARK not in g.grp or g.updated_ms >= cutoff)
                ]
            )
            with self.writer.begin() as conn:
                deleted += conn.execute(
                    delete(messages).where(
                        and_(
                            messages.c.topic == r.topic,
                            messages.c.part == r.part,
                            messages.c.seq < below,
                            messages.c.timestamp_ms < cutoff,
                        )
                    )
                ).rowcount
        return deleted

    def close(self) -> None:
        self.flush()
        self.writer.dispose()
        self.reader.dispose()


class SqlConsumer:
    """The only member of its group: it owns every partition of its topics."""

    def __init__(self, bus: SqlBus, topics: list[str], group: str) -> None:
        self.bus = bus
        self.topics = topics
        self.group = group
        self._position: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        for topic in topics:
            committed = bus.committed(group, topic)
            for p in range(bus.partitions_of(topic)):
                self._position[(topic, p)] = committed.get(p, 0)
                self._committed[(topic, p)] = committed.get(p, 0)
        self._start = 0  # partition read first, rotated so none is starved

    def poll(self, max_records: int, timeout_s: float) -> list[Message]:
        deadline = time.monotonic() + timeout_s
        while True:
            batch = self._read(max_records)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                return batch
            self.bus.wait_for_publish(min(IDLE_WAIT_S, remaining))

    def _read(self, max_records: int) -> list[Message]:
        batch: list[Message] = []
        order = list(self._position)
        self._start = (self._start + 1) % len(order) if order else 0
        for tp in order[self._start :] + order[: self._start]:
            want = max_records - len(batch)
            if want <= 0:
                break
            got = self.bus.read(tp[0], tp[1], self._position[tp], None, want)
            if got:
                batch.extend(got)
                self._position[tp] = got[-1].offset + 1
        return batch

    def commit(self, messages: Sequence[Message]) -> None:
        positions = next_offsets(messages)
        self.bus.commit(self.group, positions)
        for tp, o in positions.items():
            self._committed[tp] = max(self._committed.get(tp, 0), o)

    def keepalive(self) -> None:
        """No group membership to keep alive."""

    def lag(self) -> dict[tuple[str, int], int]:
        lags: dict[tuple[str, int], int] = {}
        for topic in self.topics:
            ends = self.bus.end_offsets(topic)
            committed = self.bus.committed(self.group, topic)
            for p, end in ends.items():
                self._committed[(topic, p)] = committed.get(p, 0)
                lags[(topic, p)] = max(0, end - committed.get(p, 0))
        return lags

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        return dict(self._committed)

    def rewind(self) -> None:
        """Go back to the committed offsets (what a restart after a crash does)."""
        for topic in self.topics:
            committed = self.bus.committed(self.group, topic)
            for tp in self._position:
                if tp[0] == topic:
                    self._position[tp] = committed.get(tp[1], 0)

    def close(self) -> None:
        pass
