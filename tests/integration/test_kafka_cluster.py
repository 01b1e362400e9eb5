"""A real 3-broker KRaft cluster from ``deploy/local/stack up --brokers 3``.

Runs with ``WIREDESK_TEST_CLUSTER=1`` (``./dev test`` sets it unless told 0): it starts
three more JVMs in a private state dir (~20 s on 2 cores) and kills one. Checks that
wiredesk's topics get replication factor 3 and ``min.insync.replicas`` 2, and that the
``acks=all`` idempotent producer keeps working across a leader kill (kill -9) with every
record still there afterwards.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer

from tests.cluster_support import CLUSTER_FLAG, ClusterStack
from wiredesk.bus.kafka import KafkaBus
from wiredesk.errors import PublishError
from wiredesk.topics import ALL_TOPICS, RAW

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get(CLUSTER_FLAG) != "1",
        reason=f"opt-in: {CLUSTER_FLAG}=1 starts a private 3-broker cluster (~60 s in all)",
    ),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterStack]:
    stack = ClusterStack.create(brokers=3)
    try:
        stack.up()
        yield stack
    finally:
        stack.destroy()


def test_topics_get_replication_factor_3_and_min_isr_2(cluster, unique):
    ns = f"c{unique}."
    bus = KafkaBus(
        cluster.bootstrap,
        partitions=12,
        namespace=ns,
        topic_configs={RAW.name: {"retention.ms": "604800000"}},
    )
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    for topic in ALL_TOPICS:
        described = cluster.describe(ns + topic.name)
        assert "PartitionCount: 12" in described
        assert "ReplicationFactor: 3" in described
        assert "min.insync.replicas=2" in described
        isrs = re.findall(r"Isr: ([\d,]+)", described)
        assert len(isrs) == 12 and all(len(isr.split(",")) == 3 for isr in isrs)
    assert "retention.ms=604800000" in cluster.describe(ns + RAW.name)  # override kept


def _publish_batch(bus: KafkaBus, keys: range) -> int:
    """Publish and flush ``keys``, retrying the whole batch as the runner does; returns
    the number of failed attempts."""
    for attempt in range(20):
        for k in keys:
            bus.publish("items", str(k), f"v{k}".encode())
        try:
            bus.flush(timeout_s=60)
            return attempt
        except PublishError:
            time.sleep(1)
    raise AssertionError(f"batch {keys} never acknowledged")


def _read_all(bootstrap: str, topic: str, expected: int) -> list[str]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    keys: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(keys) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                keys.extend(r.key.decode() for r in records)
        for records in consumer.poll(timeout_ms=2000).values():  # anything beyond
            keys.extend(r.key.decode() for r in records)
    finally:
        consumer.close()
    return keys


def test_acks_all_producer_survives_a_leader_kill_without_loss(cluster, unique):
    ns = f"k{unique}."
    bus = KafkaBus(cluster.bootstrap, partitions=6, namespace=ns, client_id="kill-test")
    bus.ensure_topics(["items"])
    total, batch = 3000, 100
    retries = 0
    killed = None
    for start in range(0, total, batch):
        if start == total // 3:
            killed = cluster.leaders(ns + "items")[0]
            cluster.kill(killed)  # kill -9: no clean shutdown, no leadership hand-over
        retries += _publish_batch(bus, range(start, start + batch))
    bus.close()
    assert killed is not None
    leaders = cluster.leaders(ns + "items")
    assert killed not in leaders.values() and -1 not in leaders.values(), leaders

    keys = _read_all(cluster.bootstrap, ns + "items", total)
    assert set(keys) == {str(k) for k in range(total)}  # nothing lost
    # duplicates are possible only from a whole-batch retry after a failed flush
    assert len(keys) - total <= retries * batch

    cluster.up()  # the killed node rejoins and catches up
    assert len(_read_all(cluster.bootstrap, ns + "items", total)) == len(keys)
