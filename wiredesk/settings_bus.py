"""Settings of the message bus: which bus, its retention, and on Kafka the topics'
partitions, replication and min ISR and the consumer-group membership.

A part of :class:`wiredesk.settings.Settings` (its fields are Settings fields, set the
same way: config file, ``WIREDESK_*`` environment, flags).
"""

from __future__ import annotations

import socket
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class KafkaTopicSpec(BaseModel):
    """Per-topic creation settings (unset: the global defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    partitions: int | None = Field(None, ge=1, le=256)
    replication_factor: int | None = Field(None, ge=1, le=16)
    min_insync_replicas: int | None = Field(None, ge=1, le=16)


class BusSettings(BaseModel):
    bus: Literal["memory", "kafka", "sql"] = Field(
        "memory",
        description="memory (one process, nothing kept), sql (tables in bus_url: "
        "`wiredesk run`, one machine) or kafka (services)",
    )
    bus_url: str = Field(
        "",
        description="database of the sql bus; empty: <database>.bus.db beside a SQLite "
        "database_url, or the database_url itself on PostgreSQL",
    )
    bus_retention_hours: float = Field(
        168.0,
        ge=0,
        description="sql bus: messages older than this are deleted once consumed "
        "(news.raw and news.dlq are kept for replays and dlq resend); 0 = keep all",
    )
    bus_raw_retention_hours: float = Field(
        0.0,
        ge=0,
        description="sql bus: news.raw (replays) and news.dlq (dlq resend) are deleted "
        "once consumed and older than this; 0 = keep them for ever",
    )
    raw_retention_hours: float = Field(
        168.0,
        ge=0,
        description="Kafka: retention of news.raw when wiredesk creates the topic (older "
        "pages are in the raw archive); 0 = keep for ever",
    )
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers")
    namespace: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="prefix for topic and group names (several pipelines on one cluster)",
    )
    partitions: int | None = Field(
        None,
        ge=1,
        le=256,
        description="partitions per topic when wiredesk creates it; default: 12 on Kafka, "
        "6 on the sql and memory buses",
    )
    kafka_replication_factor: int = Field(
        0,
        ge=0,
        le=16,
        description="Kafka: replicas per topic when wiredesk creates it; 0 = min(3, brokers "
        "in the cluster, read from its metadata)",
    )
    kafka_min_insync_replicas: int = Field(
        0,
        ge=0,
        le=16,
        description="Kafka: min.insync.replicas per topic when wiredesk creates it (acks=all "
        "writes need this many replicas); 0 = replication factor - 1, at least 1",
    )
    kafka_topics: dict[str, KafkaTopicSpec] = Field(
        default_factory=dict,
        description="Kafka: per-topic partitions / replication_factor / min_insync_replicas, "
        'e.g. {"news.raw": {"partitions": 24}} (JSON in env)',
    )
    worker_id: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._{}-]*$",
        description="Kafka: a stable id per worker enables static group membership (a worker "
        "restarting within kafka_session_timeout_s keeps its partitions); must be unique "
        "among the workers of one stage; {hostname} is replaced; empty = dynamic member",
    )
    kafka_session_timeout_s: float = Field(
        10.0,
        ge=6,
        le=1800,
        description="Kafka: a member not heard of for this long leaves its group (a static "
        "member must be back within it to keep its partitions)",
    )
    kafka_assignor: Literal["cooperative-sticky", "range"] = Field(
        "cooperative-sticky",
        description="Kafka: partition assignor; cooperative-sticky moves only the partitions "
        "that change owner, range (eager) stops every member on each rebalance",
    )

    @field_validator("kafka_topics")
    @classmethod
    def _known_topics(cls, value: dict[str, KafkaTopicSpec]) -> dict[str, KafkaTopicSpec]:
        from wiredesk.topics import BY_NAME

        if unknown := sorted(set(value) - set(BY_NAME)):
            raise ValueError(f"unknown topic(s) {unknown}; known: {sorted(BY_NAME)}")
        return value

    def bus_partitions(self) -> int:
        """Partitions per created topic: the setting, else 12 on Kafka and 6 elsewhere."""
        return self.partitions or (12 if self.bus == "kafka" else 6)

    def kafka_bus_options(self) -> dict[str, Any]:
        """KafkaBus keyword arguments for topic creation and group membership."""
        return {
            "replication_factor": self.kafka_replication_factor,
            "min_insync_replicas": self.kafka_min_insync_replicas,
            "topic_specs": {n: s.model_dump() for n, s in self.kafka_topics.items()},
            "group_instance_id": self.group_instance_id(),
            "session_timeout_ms": int(self.kafka_session_timeout_s * 1000),
            "assignor": self.kafka_assignor,
        }

    def group_instance_id(self) -> str | None:
        """``worker_id`` with ``{hostname}`` filled in; None for a dynamic member."""
        if not self.worker_id:
            return None
        return self.worker_id.replace("{hostname}", socket.gethostname())

    @field_validator("kafka_bootstrap")
    @classmethod
    def _has_port(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {value!r}")
        return value
