"""What the broker says about groups and topics: lag, members, offsets, contents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from wiredesk.topics import ARTICLES, ENRICHED, LINKS, RAW

# consumer group (stage name) -> the topic it reads
GROUP_TOPICS = {
    "fetch_pages": LINKS.name,
    "extract_articles": RAW.name,
    "enrich_articles": ARTICLES.name,
    "write_articles": ENRICHED.name,
}


@contextmanager
def _consumer(bootstrap: str, group: str | None = None) -> Iterator[KafkaConsumer]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=20_000,
    )
    try:
        yield consumer
    finally:
        consumer.close(autocommit=False)


def partition_progress(bootstrap: str, group: str, topic: str) -> dict[int, tuple[int, int]]:
    """{partition: (committed offset, end offset)} of ``group`` on ``topic``."""
    with _consumer(bootstrap, group) as consumer:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        ends = consumer.end_offsets(parts)
        return {tp.partition: (consumer.committed(tp) or 0, ends[tp]) for tp in parts}


def group_lags(bootstrap: str, namespace: str) -> dict[str, int]:
    """Total committed-offset lag of every stage group of a pipeline namespace."""
    lags = {}
    for group, topic in GROUP_TOPICS.items():
        progress = partition_progress(bootstrap, namespace + group, namespace + topic)
        lags[group] = sum(end - committed for committed, end in progress.values())
    return lags


def committed_total(bootstrap: str, namespace: str, group: str) -> int:
    progress = partition_progress(bootstrap, namespace + group, namespace + GROUP_TOPICS[group])
    return sum(committed for committed, _ in progress.values())


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    with _consumer(bootstrap) as consumer:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}


def read_topic(bootstrap: str, topic: str, start: dict[int, int] | None = None) -> list[Any]:
    """Every record of ``topic`` from ``start`` (default: the beginning) to its end now."""
    ends = end_offsets(bootstrap, topic)
    records: list[Any] = []
    with _consumer(bootstrap) as consumer:
        parts = [TopicPartition(topic, p) for p in ends]
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        remaining = {tp for tp in parts if consumer.position(tp) < ends[tp.partition]}
        while remaining:
            for tp, batch in consumer.poll(timeout_ms=1000, max_records=2000).items():
                records.extend(r for r in batch if r.offset < ends[tp.partition])
                if consumer.position(tp) >= ends[tp.partition]:
                    remaining.discard(tp)
    return records


def group_members(bootstrap: str, group: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    try:
        described = admin.describe_groups([group])
    finally:
        admin.close()
    info = described.get(group, {}) if isinstance(described, dict) else {}
    return {m["member_id"] for m in info.get("members", [])}


def rewind_group(bootstrap: str, group: str, topic: str) -> None:
    """Commit offset 0 on every partition (an emptied group: "--to-earliest")."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    try:
        parts = end_offsets(bootstrap, topic)
        result = admin.reset_group_offsets(group, {TopicPartition(topic, p): 0 for p in parts})
        errors = [v["error"] for v in result.values() if v["error"].errno != 0]
        assert not errors, f"reset of {group} failed: {errors}"
    finally:
        admin.close()


def delete_group(bootstrap: str, group: str) -> None:
    """Forget the group and its committed offsets (it must have no members)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    try:
        admin.delete_groups([group])
    finally:
        admin.close()


def group_assignment(bootstrap: str, group: str) -> dict[int, list[int]]:
    """{worker pid: assigned partitions} of ``group`` (wiredesk client ids end in the pid)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20_000)
    try:
        info = admin.describe_groups([group]).get(group, {})
    finally:
        admin.close()
    found: dict[int, list[int]] = {}
    for member in info.get("members", []):
        pid = member["client_id"].rsplit("-", 1)[-1]
        assigned = (member.get("member_assignment") or {}).get("assigned_partitions", [])
        parts = sorted(p for entry in assigned for p in entry["partitions"])
        if pid.isdigit():
            found.setdefault(int(pid), []).extend(parts)
    return found
