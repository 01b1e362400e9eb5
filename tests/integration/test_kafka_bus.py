"""The Kafka bus against a real broker: the same contract the in-process bus keeps."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import group_progress
from wiredesk.bus.kafka import KafkaBus
from wiredesk.errors import RecordRejected

pytestmark = pytest.mark.integration


def poll_until(consumer, count: int, timeout: float = 30.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(consumer.poll(100, 0.5))
    return got


def test_publish_consume_commit_resume_and_replay(kafka_bootstrap, unique):
    bus = KafkaBus(kafka_bootstrap, partitions=3, namespace=f"t{unique}.")
    bus.ensure_topics(["items"])
    bus.ensure_topics(["items"])  # idempotent
    for i in range(20):
        bus.publish("items", f"key-{i % 4}", f"v{i}".encode(), {"h": "x"})
    bus.flush()

    first = bus.consumer(["items"], "g1")
    batch = poll_until(first, 20)
    assert sorted(m.value for m in batch) == sorted(f"v{i}".encode() for i in range(20))
    assert {m.topic for m in batch} == {"items"}  # the namespace stays on the broker side
    assert all(m.headers == {"h": "x"} for m in batch)
    by_key = {}
    for m in batch:
        by_key.setdefault(m.key, set()).add(m.partition)
    assert all(len(parts) == 1 for parts in by_key.values())  # one key, one partition
    first.commit(batch)
    assert group_progress(kafka_bootstrap, f"t{unique}.g1", f"t{unique}.items") == (20, 20)
    first.close()

    for i in range(20, 25):
        bus.publish("items", None, f"v{i}".encode())
    bus.flush()
    resumed = bus.consumer(["items"], "g1")
    assert sorted(m.value for m in poll_until(resumed, 5)) == [
        b"v20",
        b"v21",
        b"v22",
        b"v23",
        b"v24",
    ]
    assert resumed.poll(100, 2.0) == []  # nothing committed before comes back
    resumed.close()

    replay = bus.consumer(["items"], "g2")
    assert len(poll_until(replay, 25)) == 25
    replay.close()
    bus.close()


def test_a_record_over_the_broker_limit_is_rejected_not_retried(kafka_bootstrap, unique):
    bus = KafkaBus(kafka_bootstrap, partitions=1, namespace=f"t{unique}.")
    bus.ensure_topics(["big"])
    with pytest.raises(RecordRejected) as info:
        bus.publish("big", None, b"x" * 2_000_000)
    assert info.value.reason == "too_large"
    bus.publish("big", None, b"small")
    bus.flush()  # the other sends are unaffected
    bus.close()
