"""The raw archive on the real stack: news.raw's retention on Kafka, the extractor version
rule on PostgreSQL (ranks compared byte-wise whatever the collation), and the acceptance:
after news.raw lost its pages and the rows are gone, replaying extract restores the rows
exactly from the archive."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from sqlalchemy import delete, select

from devserver.server import NewsServer, load_corpus
from ingest.archive_index import SqlArchiveIndex
from sink import articles
from sink.articles import ArticleWriter
from sink.rows import rows_for
from tests.integration.conftest import group_progress, wait_for
from tests.unit.test_archive_replay import contents, restored
from tests.unit.test_extractor_versions import NEW, NEW_TEXT, OLD, OLD_TEXT, at
from tests.unit.test_sink_tables import DAY, article
from wiredesk import db
from wiredesk.app.ops.replay_archive import EVERYTHING, oldest_message
from wiredesk.bus import make_bus
from wiredesk.db.tables import ArticleEntityRow, ArticleRow, StoryEntityRow, StoryRow
from wiredesk.topics import ALL_TOPICS, ENRICHED, RAW

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


def test_after_news_raw_lost_its_pages_replay_restores_the_rows_from_the_archive(
    workers, kafka_bootstrap, pg_url, unique
):
    """The acceptance on the services: every stage a process on Kafka + PostgreSQL."""
    ns = f"t{unique}."
    corpus = load_corpus()
    engine = db.make_engine(pg_url)
    with NewsServer(corpus) as server:
        workers.env.update(
            {
                "WIREDESK_FEEDS": json.dumps(server.feed_urls()),
                "WIREDESK_ALLOW_PRIVATE_ADDRESSES": "true",
                "WIREDESK_FETCH_HOST_DELAY_S": "0",
            }
        )
        workers.start("poll", WIREDESK_POLL_INTERVAL_S="3600")
        for command in ("fetch", "extract", "enrich", "sink"):
            workers.start(command)
        enriched = (ns + "write_articles", ns + ENRICHED.name)
        wait_for(lambda: len(contents(engine)["articles"]) == 30, 240, "30 rows")
        wait_for(
            lambda: (lambda c, e: c == e > 0)(*group_progress(kafka_bootstrap, *enriched)),
            60,
            "sink lag 0",
        )
        before = contents(engine)
        assert SqlArchiveIndex(engine).count(None, None) == 30
        kafka = make_bus("kafka", kafka_bootstrap=kafka_bootstrap, namespace=ns)
        assert oldest_message(kafka, RAW.name) == EVERYTHING  # no page lost yet

        # news.raw loses every page (as its retention would), and the rows are deleted
        raw = ns + RAW.name
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
        try:
            parts = [TopicPartition(raw, p) for p in consumer.partitions_for_topic(raw)]
            admin.delete_records(consumer.end_offsets(parts))
        finally:
            admin.close()
            consumer.close()
        assert oldest_message(kafka, RAW.name) is None  # every page lost: all from the archive
        kafka.close()
        with engine.begin() as conn:
            for row_type in (ArticleEntityRow, StoryEntityRow, StoryRow, ArticleRow):
                conn.execute(delete(row_type))

        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "wiredesk.app.cli",
                "replay",
                "--stage",
                "extract",
                "--from",
                "earliest",
            ],
            env={**os.environ, **workers.env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "replayed 30 of 30 records of the raw archive" in done.stdout
        try:
            wait_for(lambda: restored(contents(engine), before), 240, "the rows restored")
        except AssertionError:
            after = contents(engine)
            diff = {t: (set(before[t]) ^ set(after[t])) for t in before if before[t] != after[t]}
            raise AssertionError(f"rows differ after the replay: {str(diff)[:3000]}") from None
    assert set(workers.stop_all().values()) == {0}, workers.logs()
    engine.dispose()
