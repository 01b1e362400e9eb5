"""``wiredesk dlq list|resend``: inspect dead letters and re-publish them.

Dead letters are kept by Kafka or the sql bus (``wiredesk run``). Reading news.dlq never
joins a consumer group (partitions are read from the beginning to the end offsets taken
at the start). ``resend`` re-publishes each
letter's original bytes, with its original key, to the topic it came from, then records
the letter's (topic, partition, offset) in ``dlq_resends`` - only after the broker
acknowledged the publish - so a second resend skips it. A crash between the two can
re-publish a letter once more; every stage is idempotent, so that is harmless.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Engine, select

from wiredesk.bus import Bus
from wiredesk.db import insert_for
from wiredesk.db.tables import DlqResendRow
from wiredesk.records import DeadLetter, DecodeError, Link
from wiredesk.topics import DLQ, LINKS

if TYPE_CHECKING:
    from wiredesk.bus.sql import SqlBus


@dataclass(frozen=True)
class Letter:
    topic: str  # news.dlq as dlq_resends names it (topic_label)
    partition: int
    offset: int
    letter: DeadLetter


def topic_label(bus: Bus) -> str:
    """The name ``dlq_resends`` remembers letters by: news.dlq with its namespace on
    Kafka; on the sql bus, with the bus's id (a recreated bus restarts its offsets)."""
    from wiredesk.bus.sql import SqlBus

    if isinstance(bus, SqlBus):
        return f"{DLQ.name}@sql:{bus.identity}"
    return getattr(bus, "namespace", "") + DLQ.name


def read_letters(bus: Bus) -> Iterator[Letter]:
    """Every dead letter now in news.dlq (undecodable entries are skipped)."""
    from wiredesk.bus.kafka import KafkaBus
    from wiredesk.bus.sql import SqlBus

    if isinstance(bus, KafkaBus):
        entries = _kafka_entries(bus.bootstrap, bus.namespace)
    elif isinstance(bus, SqlBus):
        entries = _sql_entries(bus)
    else:
        raise TypeError(f"dead letters are kept by Kafka or the sql bus, not {type(bus)}")
    label = topic_label(bus)
    for partition, offset, value in entries:
        try:
            letter = DeadLetter.decode(value)
        except DecodeError:
            continue
        assert isinstance(letter, DeadLetter)
        yield Letter(label, partition, offset, letter)


def _sql_entries(bus: SqlBus) -> Iterator[tuple[int, int, bytes | None]]:
    for partition, end in sorted(bus.end_offsets(DLQ.name).items()):
        position = 0
        while position < end:
            chunk = bus.read(DLQ.name, partition, position, end, 500)
            if not chunk:
                break
            for m in chunk:
                yield partition, m.offset, m.value
            position = chunk[-1].offset + 1


def _kafka_entries(bootstrap: str, namespace: str) -> Iterator[tuple[int, int, bytes | None]]:
    """news.dlq from the beginning to the end offsets taken now, joining no group."""
    topic = namespace + DLQ.name
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > consumer.position(tp)}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000, max_records=500).items():
                for r in records:
                    if r.offset < ends[tp]:
                        yield r.partition, r.offset, r.value
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close(autocommit=False)


def resent_keys(engine: Engine, topic: str) -> set[tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(DlqResendRow.dlq_partition, DlqResendRow.dlq_offset).where(
                DlqResendRow.dlq_topic == topic
            )
        )
        return {(r.dlq_partition, r.dlq_offset) for r in rows}


@dataclass
class Summary:
    stage: str
    reason: str
    count: int = 0
    resent: int = 0
    examples: list[str] = field(default_factory=list)


def summarise(letters: list[Letter], resent: set[tuple[int, int]]) -> list[Summary]:
    groups: dict[tuple[str, str], Summary] = {}
    for item in letters:
        d = item.letter
        summary = groups.setdefault((d.stage, d.reason), Summary(d.stage, d.reason))
        summary.count += 1
        summary.resent += (item.partition, item.offset) in resent
        if len(summary.examples) < 2:
            summary.examples.append(f"{d.source_key or '-'}: {d.detail[:80]}")
    return sorted(groups.values(), key=lambda s: (-s.count, s.stage, s.reason))


def matches(item: Letter, stage: str | None, reason: str | None) -> bool:
    return (stage is None or item.letter.stage == stage) and (
        reason is None or item.letter.reason == reason
    )


def _current_key(topic: str, stored: str | None, original: bytes) -> str | None:
    """The key the record would get today: a link written before news.links was keyed by
    host (its letter holds its URL key) is re-keyed by host, so it lands where its host's
    fetcher is; anything else, or a link that does not parse, keeps its stored key."""
    if topic.endswith(LINKS.name):
        try:
            return Link.decode(original).key()
        except DecodeError:
            return stored
    return stored


def resend(bus: Bus, engine: Engine, letters: list[Letter], batch: int = 200) -> tuple[int, int]:
    """Re-publish ``letters`` not resent before. Returns (resent, skipped as done)."""
    if not letters:
        return 0, 0
    done = resent_keys(engine, letters[0].topic)
    todo = [item for item in letters if (item.partition, item.offset) not in done]
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        for item in chunk:
            d = item.letter
            original = base64.b64decode(d.original)
            bus.publish(
                d.source_topic,
                _current_key(d.source_topic, d.source_key, original),
                original,
                {"wiredesk-resent-from": f"{item.topic}:{item.partition}:{item.offset}"},
            )
        bus.flush()
        rows = [
            {
                "dlq_topic": item.topic,
                "dlq_partition": item.partition,
                "dlq_offset": item.offset,
                "stage": item.letter.stage,
                "reason": item.letter.reason,
                "source_topic": item.letter.source_topic,
            }
            for item in chunk
        ]
        with engine.begin() as conn:
            conn.execute(insert_for(engine, DlqResendRow.__table__).on_conflict_do_nothing(), rows)
    return len(todo), len(letters) - len(todo)
