"""Kafka bus on kafka-python.

Producer: ``acks=all`` with idempotence, and every ``send()`` future is kept and checked
in ``flush()``: kafka-python's own ``flush()`` does not raise for batches that expired
(kafka-python #1347, #1667), so trusting it alone loses data silently.

Consumer: a group member with auto-commit off and ``auto_offset_reset=earliest``; the
runner commits explicit offsets only after its output is durable. The cooperative sticky
assignor (KIP-429) moves only the partitions that change owner, and a ``group_instance_id``
(KIP-345, static membership) lets a worker restart within the session timeout and get
its partitions back without a rebalance.

Topics: partitions, replication factor and ``min.insync.replicas`` per topic come from a
:class:`~wiredesk.bus.kafka_topics.TopicPolicy`; the broker count is read from the
cluster's metadata when the topics are created.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any

import kafka.errors
import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.structs import OffsetAndMetadata

from wiredesk.bus import MAX_MESSAGE_BYTES, Message, next_offsets
from wiredesk.bus.kafka_topics import TopicPolicy, plan_topics
from wiredesk.errors import CommitFailed, PublishError, RecordRejected

log = structlog.get_logger(__name__)
LAG_TIMEOUT_MS = 5_000  # lag is a report: give up quickly while the broker is away
COMMIT_TIMEOUT_MS = 15_000  # then the runner backs off and retries (it stays alive)
ASSIGNORS = {"cooperative-sticky": CooperativeStickyAssignor, "range": RangePartitionAssignor}


class KafkaBus:
    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 6,
        namespace: str = "",
        client_id: str = "wiredesk",
        max_poll_interval_ms: int = 300_000,
        topic_configs: dict[str, dict[str, str]] | None = None,
        replication_factor: int = 0,
        min_insync_replicas: int = 0,
        topic_specs: dict[str, dict[str, int | None]] | None = None,
        group_instance_id: str | None = None,
        session_timeout_ms: int = 10_000,
        assignor: str = "cooperative-sticky",
    ) -> None:
        self.bootstrap = bootstrap
        # per topic name (without namespace): broker configs set when wiredesk creates it
        self.topic_configs = topic_configs or {}
        self.topic_policy = TopicPolicy(
            partitions=partitions,
            replication_factor=replication_factor,
            min_insync_replicas=min_insync_replicas,
            per_topic=topic_specs or {},
            configs=self.topic_configs,
        )
        self.max_poll_interval_ms = max_poll_interval_ms  # longest batch before eviction
        self.group_instance_id = group_instance_id  # None: a dynamic group member
        self.session_timeout_ms = session_timeout_ms
        if assignor not in ASSIGNORS:
            raise ValueError(f"unknown assignor {assignor!r}; known: {sorted(ASSIGNORS)}")
        self.assignor = assignor
        self.partitions = partitions
        self.namespace = namespace  # prefixed to every topic and group name on the broker
        self.client_id = f"{client_id}-{socket.gethostname()}-{os.getpid()}"
        self._producer: KafkaProducer | None = None
        self._pending: list[Any] = []

    # -- admin -----------------------------------------------------------------------
    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create missing topics per the topic policy (idempotent)."""
        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            bootstrap_timeout_ms=10_000,  # then the caller backs off and retries
        )
        try:
            existing = set(admin.list_topics())
            names = [n for n in topics if self.namespace + n not in existing]
            brokers = len(admin.describe_cluster()["brokers"]) if names else 0
            missing = plan_topics(self.topic_policy, names, brokers, self.namespace)
            if missing:
                # Another worker may have created them first: that is fine.
                with contextlib.suppress(kafka.errors.TopicAlreadyExistsError):
                    admin.create_topics(missing, wait_for_metadata=True)
                log.info("topics_created", topics=sorted(missing), brokers=brokers)
        finally:
            admin.close()

    # -- producer --------------------------------------------------------------------
    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                max_request_size=MAX_MESSAGE_BYTES,
                request_timeout_ms=15_000,
                delivery_timeout_ms=60_000,
            )
        return self._producer

    def publish(
        self, topic: str, key: str | None, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        try:
            future = self.producer.send(
                self.namespace + topic,
                value=value,
                key=key.encode("utf-8") if key is not None else None,
                headers=[(k, v.encode("utf-8")) for k, v in (headers or {}).items()],
            )
        except kafka.errors.MessageSizeTooLargeError as exc:
            raise RecordRejected("too_large", str(exc)) from exc
        except kafka.errors.KafkaError as exc:  # e.g. buffer full, no metadata: retry later
            self._pending.append(exc)
            return
        self._pending.append(future)

    def flush(self, timeout_s: float = 30.0) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        if self._producer is not None:
            # On timeout the futures still pending are reported below.
            with contextlib.suppress(kafka.errors.KafkaTimeoutError):
                self.producer.flush(timeout=timeout_s)
        failures: list[str] = []
        for item in pending:
            if isinstance(item, BaseException):
                failures.append(repr(item))
            elif not item.is_done:
                failures.append("send not acknowledged before the flush deadline")
            elif item.failed():
                failures.append(repr(item.exception))
        if failures:
            raise PublishError(f"{len(failures)} of {len(pending)} sends failed: {failures[0]}")

    # -- consumer --------------------------------------------------------------------
    def consumer(self, topics: Sequence[str], group: str) -> KafkaGroupConsumer:
        return KafkaGroupConsumer(
            self.bootstrap,
            list(topics),
            group,
            self.client_id,
            namespace=self.namespace,
            max_poll_interval_ms=self.max_poll_interval_ms,
            group_instance_id=self.group_instance_id,
            session_timeout_ms=self.session_timeout_ms,
            assignor=self.assignor,
        )

    def close(self) -> None:
        if self._producer is not None:
            try:
                self.flush()
            finally:
                self._producer.close(timeout=10)
                self._producer = None


class KafkaGroupConsumer:
    LAG_REFRESH_S = 5.0

    def __init__(
        self,
        bootstrap: str,
        topics: list[str],
        group: str,
        client_id: str,
        namespace: str = "",
        max_poll_interval_ms: int = 300_000,
        group_instance_id: str | None = None,
        session_timeout_ms: int = 10_000,
        assignor: str = "cooperative-sticky",
    ) -> None:
        self.group = group
        self.namespace = namespace
        self._consumer = KafkaConsumer(
            *(namespace + t for t in topics),
            bootstrap_servers=bootstrap,
            group_id=namespace + group,
            group_instance_id=group_instance_id,
            partition_assignment_strategy=(ASSIGNORS[assignor],),
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=max_poll_interval_ms,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=min(3_000, session_timeout_ms // 3),
            fetch_max_bytes=16 * 1024 * 1024,
        )
        self._lag: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        self._lag_checked = 0.0

    def poll(self, max_records: int, timeout_s: float) -> list[Message]:
        batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        return [_message(r, self.namespace) for records in batches.values() for r in records]

    def commit(self, messages: Sequence[Message]) -> None:
        commit_offsets(
            self._consumer,
            self.namespace,
            messages,
            (kafka.errors.CommitFailedError, kafka.errors.RebalanceInProgressError),
        )

    def keepalive(self) -> None:
        """Poll with every partition paused: keeps the member alive past max_poll_interval.

        A rebalance during the pause can hand us new, unpaused partitions; anything
        fetched from them is given back by seeking to where it started.
        """
        assigned = self._consumer.assignment()
        self._consumer.pause(*assigned)
        try:
            got = self._consumer.poll(timeout_ms=200)
            for tp, records in got.items():
                if records:
                    self._consumer.seek(tp, records[0].offset)
        finally:
            self._consumer.resume(*self._consumer.paused())

    def lag(self) -> dict[tuple[str, int], int]:
        now = time.monotonic()
        assigned = list(self._consumer.assignment())
        same_partitions = {
            (tp.topic.removeprefix(self.namespace), tp.partition) for tp in assigned
        } == set(self._lag)
        if same_partitions and now - self._lag_checked < self.LAG_REFRESH_S:
            return self._lag
        self._lag_checked = now
        if not assigned:
            self._lag, self._committed = {}, {}
            return self._lag
        try:  # short timeouts: with the broker down this must not stall the loop
            ends = self._consumer.end_offsets(assigned, timeout_ms=LAG_TIMEOUT_MS)
            lag, offsets = {}, {}
            for tp in assigned:
                committed = self._consumer.committed(tp, timeout_ms=LAG_TIMEOUT_MS) or 0
                key = (tp.topic.removeprefix(self.namespace), tp.partition)
                lag[key] = max(0, ends[tp] - committed)
                offsets[key] = committed
            self._lag, self._committed = lag, offsets
        except kafka.errors.KafkaError as exc:
            log.warning("lag_unavailable", error=repr(exc))
        return self._lag

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        return dict(self._committed)

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now."""
        return {
            (tp.topic.removeprefix(self.namespace), tp.partition)
            for tp in self._consumer.assignment()
        }

    def close(self) -> None:
        self._consumer.close(autocommit=False)


def commit_offsets(
    consumer: KafkaConsumer,
    namespace: str,
    messages: Sequence[Message],
    failed: tuple[type[Exception], ...],
) -> None:
    """Commit the offsets after ``messages``; errors of the ``failed`` types become
    :class:`CommitFailed` (the batch will be redelivered), others propagate."""
    offsets = {
        TopicPartition(namespace + t, p): OffsetAndMetadata(o, "", -1)
        for (t, p), o in next_offsets(messages).items()
    }
    if not offsets:
        return
    try:
        consumer.commit(offsets, timeout_ms=COMMIT_TIMEOUT_MS)
    except failed as exc:
        raise CommitFailed(str(exc)) from exc


def _message(r: Any, namespace: str) -> Message:
    return Message(
        topic=r.topic.removeprefix(namespace),
        partition=r.partition,
        offset=r.offset,
        key=r.key.decode("utf-8", "replace") if r.key is not None else None,
        value=r.value,
        timestamp_ms=r.timestamp,
        headers={k: (v or b"").decode("utf-8", "replace") for k, v in (r.headers or [])},
    )
