"""How wiredesk creates its Kafka topics: partitions, replication factor, min ISR.

Pure planning (no I/O), so the rules are unit-tested without a broker: the replication
factor defaults to ``min(3, brokers)`` with the broker count read from the cluster's
metadata when the topics are created, ``min.insync.replicas`` to ``RF - 1`` (at least 1),
so an ``acks=all`` write survives one broker down. Per-topic specs override both, and the
per-topic broker configs (e.g. ``retention.ms`` of news.raw) are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DEFAULT_RF = 3


@dataclass(frozen=True)
class TopicPolicy:
    """Defaults for every topic (0 = derive) and per-topic overrides by topic name
    (without the namespace): ``{"news.raw": {"partitions": 24}}``."""

    partitions: int = 12
    replication_factor: int = 0
    min_insync_replicas: int = 0
    per_topic: Mapping[str, Mapping[str, int | None]] = field(default_factory=dict)
    configs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class TopicPlanError(ValueError):
    """The settings ask for more replicas than the cluster has (or a bad min ISR)."""


def plan_topic(policy: TopicPolicy, name: str, brokers: int) -> dict[str, Any]:
    """The ``create_topics`` arguments of one topic on a cluster of ``brokers`` brokers."""
    spec = policy.per_topic.get(name, {})
    partitions = spec.get("partitions") or policy.partitions
    rf = spec.get("replication_factor") or policy.replication_factor or min(MAX_DEFAULT_RF, brokers)
    if rf > brokers:
        raise TopicPlanError(
            f"{name}: replication factor {rf} needs {rf} brokers, the cluster has {brokers}"
        )
    min_isr = spec.get("min_insync_replicas") or policy.min_insync_replicas or max(1, rf - 1)
    if min_isr > rf:
        raise TopicPlanError(f"{name}: min.insync.replicas {min_isr} > replication factor {rf}")
    configs = {"min.insync.replicas": str(min_isr), **policy.configs.get(name, {})}
    return {"num_partitions": partitions, "replication_factor": rf, "configs": configs}


def plan_topics(
    policy: TopicPolicy, names: Iterable[str], brokers: int, namespace: str = ""
) -> dict[str, dict[str, Any]]:
    """``{namespaced name: create_topics arguments}`` for ``names``."""
    names = list(names)
    if names and brokers < 1:
        raise TopicPlanError("the cluster metadata lists no broker")
    return {namespace + n: plan_topic(policy, n, brokers) for n in names}
