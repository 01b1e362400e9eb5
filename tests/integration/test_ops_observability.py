"""Every Grafana dashboard query and every alert rule expression returns data from a real
Prometheus scraping a real running pipeline (poll -> fetch -> extract -> enrich -> sink
on Kafka + PostgreSQL), with enriched articles carrying entities, stories and duplicate
verdicts, poison records for each stage's DLQ, and one feed that fails.

New panels and rules are picked up automatically: the queries are read from
deploy/grafana/dashboards/*.json and deploy/prometheus/alerts.yml."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, func, select

from devserver.server import NewsServer, load_corpus
from tests.integration.conftest import free_port, wait_for
from tests.integration.prometheus_server import ROOT, Prometheus
from tests.integration.sink_data import produce_days
from wiredesk.bus.kafka import KafkaBus
from wiredesk.db.tables import ArticleRow
from wiredesk.topics import ARTICLES, ENRICHED, LINKS, RAW

pytestmark = pytest.mark.integration
SERVICES = ("poll", "fetch", "extract", "enrich", "sink")
COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)\s*(?=-?[\d.])")


def dashboard_queries() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$__rate_interval", "5m")
                out.append((f"{path.stem}: {panel['title']} [{target['refId']}]", expr))
    return out


def alert_queries() -> list[tuple[str, str]]:
    """Each rule's expression with its thresholds turned into `bool` comparisons, so it
    returns its series (0 or 1) whether or not the alert would fire right now."""
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    return [
        (rule["alert"], COMPARISON.sub(r"\1 bool ", rule["expr"]))
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def test_every_dashboard_and_alert_query_returns_data(
    workers, kafka_bootstrap, pg_url, unique, tmp_path: Path
):
    ns = f"t{unique}."
    ports = {service: free_port() for service in SERVICES}
    with NewsServer(load_corpus()) as server:
        feeds = [*server.feed_urls(), f"{server.base_url}/no-such-outlet/feed.xml"]
        workers.env.update(
            WIREDESK_FEEDS=json.dumps(feeds),
            WIREDESK_ALLOW_PRIVATE_ADDRESSES="true",
            WIREDESK_POLL_INTERVAL_S="2",
            # the failing feed is retried within a second instead of backing off for minutes
            WIREDESK_POLL_MIN_INTERVAL_S="1",
            WIREDESK_POLL_MAX_BACKOFF_S="1",
            WIREDESK_FETCH_HOST_DELAY_S="0",  # our own local server: no politeness delay
            WIREDESK_DB_METRICS_REFRESH_S="1",
        )
        for service in SERVICES:
            workers.start(service, WIREDESK_METRICS_PORT=str(ports[service]))
        prometheus = Prometheus([f"127.0.0.1:{p}" for p in ports.values()], tmp_path)
        try:
            # what the transform stage will produce once merged: entities, stories, verdicts
            produce_days(kafka_bootstrap, ns, days=1)
            bus = KafkaBus(kafka_bootstrap, partitions=3, namespace=ns)
            for topic in (LINKS, RAW, ARTICLES, ENRICHED):
                bus.publish(topic.name, "poison", b"\x00 not a record")
            bus.flush()
            bus.close()

            engine = create_engine(pg_url)

            def rows() -> int:
                with engine.connect() as conn:
                    return conn.scalar(select(func.count()).select_from(ArticleRow)) or 0

            wait_for(lambda: rows() >= 60, 180, "corpus and injected articles in PostgreSQL")
            engine.dispose()
            wait_for(
                lambda: prometheus.query("max(wiredesk_feed_consecutive_failures) >= 3"),
                60,
                "the failing feed to fail three polls",
            )
            time.sleep(5)  # a few more scrapes after the last writes
            check_queries(prometheus)
        finally:
            prometheus.stop()
    assert all(code == 0 for code in workers.stop_all().values()), workers.logs()


def check_queries(prometheus: Prometheus) -> None:
    empty = [
        f"{name}: {expr}"
        for name, expr in dashboard_queries() + alert_queries()
        if not prometheus.query(expr)
    ]
    assert not empty, "queries without data:\n" + "\n".join(empty)
    # every rule evaluated without error on the real series
    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert len(rules) == len(alert_queries())
    assert [r["name"] for r in rules if r["health"] != "ok"] == []
    # and the interesting series carry real, non-zero values
    for expr in (
        'sum(wiredesk_records_out_total{stage="write_articles"})',
        'sum(wiredesk_sink_rows_total{table="articles",outcome="inserted"})',
        'sum(wiredesk_sink_articles_total{verdict="duplicate"})',
        "sum(wiredesk_sink_entity_mentions_total)",
        'max(wiredesk_db_rows{table="stories"})',
        'max(wiredesk_feeds{status="failing"})',
        "count(sum by (stage) (wiredesk_dlq_total))",
        "sum(wiredesk_freshness_seconds_count)",
        "sum(wiredesk_consumer_committed_offset)",
    ):
        value = float(prometheus.query(expr)[0]["value"][1])
        assert value > 0, expr
    assert float(prometheus.query("count(sum by (stage) (wiredesk_dlq_total))")[0]["value"][1]) == 4
