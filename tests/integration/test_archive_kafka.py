"""news.raw's retention on real Kafka, and the extractor version rule on PostgreSQL
(byte-wise comparison of ranks whatever the database's collation)."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from sqlalchemy import select

from sink import articles
from sink.articles import ArticleWriter
from sink.rows import rows_for
from tests.unit.test_extractor_versions import NEW, NEW_TEXT, OLD, OLD_TEXT, at
from tests.unit.test_sink_tables import DAY, article
from wiredesk import db
from wiredesk.bus import make_bus
from wiredesk.db.tables import ArticleRow
from wiredesk.topics import ALL_TOPICS, RAW

pytestmark = pytest.mark.integration


def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    return {key: data["value"] for key, data in found["topic"][topic].items()}


def test_news_raw_is_created_with_the_raw_retention(kafka_bootstrap, unique):
    ns = f"t{unique}."
    bus = make_bus(
        "kafka", kafka_bootstrap=kafka_bootstrap, namespace=ns, partitions=1, raw_retention_hours=36
    )
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    bus.close()
    assert topic_config(kafka_bootstrap, ns + RAW.name).get("retention.ms") == str(36 * 3_600_000)
    # the other topics keep the broker's default (no topic-level override)
    assert "retention.ms" not in topic_config(kafka_bootstrap, ns + "news.links")


def test_an_older_extractor_never_overwrites_a_newer_one_on_postgresql(pg_url):
    engine = db.make_engine(pg_url)
    try:
        writer = ArticleWriter(engine)
        newer = article(1, fetched_at=DAY, extractor_version=NEW, text=NEW_TEXT)
        writer.write([newer], [at("g", 5)])
        older = article(1, fetched_at=DAY, extractor_version=OLD, text=OLD_TEXT)
        writer.write([older], [at("g", 9)])
        with engine.connect() as conn:
            row = conn.execute(select(ArticleRow.extractor_version, ArticleRow.text)).one()
        assert tuple(row) == (NEW, NEW_TEXT)
        # the upsert's own guard (Python check bypassed): ranks compare byte-wise
        bypass = rows_for(article(1, fetched_at=DAY, extractor_version="trafilatura-2.9.9"))
        bypass.article |= {"source_partition": 0, "source_offset": 99}
        with engine.begin() as conn:
            articles._upsert_articles(conn, [bypass])
        with engine.connect() as conn:
            assert conn.scalar(select(ArticleRow.extractor_version)) == NEW
    finally:
        engine.dispose()
