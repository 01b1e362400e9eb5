"""Topic creation rules (partitions / replication factor / min ISR) and their settings."""

import socket

import pytest

from wiredesk.bus.kafka_topics import TopicPlanError, TopicPolicy, plan_topic, plan_topics
from wiredesk.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("WIREDESK_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("brokers", "rf", "min_isr"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)])
def test_defaults_follow_the_broker_count(brokers, rf, min_isr):
    plan = plan_topic(TopicPolicy(), "news.articles", brokers)
    assert plan == {
        "num_partitions": 12,
        "replication_factor": rf,
        "configs": {"min.insync.replicas": str(min_isr)},
    }


def test_per_topic_specs_override_and_broker_configs_survive():
    policy = TopicPolicy(
        partitions=12,
        replication_factor=2,
        per_topic={
            "news.raw": {"partitions": 24, "replication_factor": 3, "min_insync_replicas": 3}
        },
        configs={"news.raw": {"retention.ms": "604800000"}},
    )
    plans = plan_topics(policy, ["news.raw", "news.links"], brokers=3, namespace="ns.")
    assert plans["ns.news.raw"] == {
        "num_partitions": 24,
        "replication_factor": 3,
        "configs": {"min.insync.replicas": "3", "retention.ms": "604800000"},
    }
    assert plans["ns.news.links"] == {
        "num_partitions": 12,
        "replication_factor": 2,
        "configs": {"min.insync.replicas": "1"},
    }


def test_impossible_plans_are_refused_with_a_reason():
    with pytest.raises(TopicPlanError, match="needs 3 brokers, the cluster has 1"):
        plan_topic(TopicPolicy(replication_factor=3), "news.raw", 1)
    with pytest.raises(TopicPlanError, match="min.insync.replicas 3 > replication factor 2"):
        plan_topic(TopicPolicy(replication_factor=2, min_insync_replicas=3), "news.raw", 3)
    with pytest.raises(TopicPlanError, match="no broker"):
        plan_topics(TopicPolicy(), ["news.raw"], 0)
    assert plan_topics(TopicPolicy(), [], 0) == {}  # nothing to create: no broker count needed


def test_settings_carry_the_topic_and_membership_options(monkeypatch):
    monkeypatch.setenv("WIREDESK_BUS", "kafka")
    monkeypatch.setenv("WIREDESK_KAFKA_TOPICS", '{"news.raw": {"partitions": 24}}')
    monkeypatch.setenv("WIREDESK_WORKER_ID", "enrich-{hostname}-1")
    monkeypatch.setenv("WIREDESK_KAFKA_SESSION_TIMEOUT_S", "45")
    s = load_settings()
    assert s.bus_partitions() == 12
    options = s.kafka_bus_options()
    assert options["topic_specs"] == {
        "news.raw": {"partitions": 24, "replication_factor": None, "min_insync_replicas": None}
    }
    assert options["group_instance_id"] == f"enrich-{socket.gethostname()}-1"
    assert options["session_timeout_ms"] == 45_000
    assert options["assignor"] == "cooperative-sticky"


def test_other_buses_keep_six_partitions_and_dynamic_membership_is_the_default():
    s = load_settings()
    assert s.bus_partitions() == 6
    assert s.group_instance_id() is None
    assert load_settings(partitions=3).bus_partitions() == 3


def test_unknown_topic_names_are_rejected(monkeypatch):
    monkeypatch.setenv("WIREDESK_KAFKA_TOPICS", '{"news.rwa": {"partitions": 24}}')
    with pytest.raises(SettingsError, match="news.rwa"):
        load_settings()
