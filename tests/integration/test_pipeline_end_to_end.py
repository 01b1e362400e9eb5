"""The walking skeleton on the real stack: feed items served over HTTP by the local news
server travel poll -> Kafka -> fetch -> extract -> enrich -> sink -> PostgreSQL rows,
each stage a separate long-lived consumer-group worker process."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from sqlalchemy import create_engine, select

from devserver.server import NewsServer, load_corpus
from ingest.urls import canonical_url
from tests.integration.conftest import free_port, group_progress, wait_for
from wiredesk.db.tables import ArticleRow
from wiredesk.topics import ARTICLES, ENRICHED, LINKS, RAW

pytestmark = pytest.mark.integration

GROUPS = {
    "fetch_pages": LINKS,
    "extract_articles": RAW,
    "enrich_articles": ARTICLES,
    "write_articles": ENRICHED,
}


def test_feed_items_become_postgres_rows_through_kafka(workers, kafka_bootstrap, pg_url, unique):
    ns = f"t{unique}."
    corpus = load_corpus()
    with NewsServer(corpus) as server:
        env = {
            "WIREDESK_FEEDS": json.dumps(server.feed_urls()),
            "WIREDESK_ALLOW_PRIVATE_ADDRESSES": "true",
            "WIREDESK_FETCH_HOST_DELAY_S": "0",  # our own local server: no politeness delay
        }
        workers.env.update(env)
        poller = workers.start("poll", WIREDESK_POLL_INTERVAL_S="3600")
        metrics_port = free_port()
        for command in ("fetch", "extract", "enrich"):
            workers.start(command)
        workers.start("sink", WIREDESK_METRICS_PORT=str(metrics_port))

        expected = {canonical_url(server.article_url(a.id)): a for a in corpus.articles}
        engine = create_engine(pg_url)

        def stored():
            with engine.connect() as conn:
                return dict(conn.execute(select(ArticleRow.url, ArticleRow.title)).all())

        wait_for(lambda: len(stored()) >= len(expected), 180, f"{len(expected)} rows in PostgreSQL")
        rows = stored()
        assert set(rows) == set(expected)
        for url, title in rows.items():
            assert title == expected[url].title

        # every group's offsets really moved to the end of its input topic
        for group, topic in GROUPS.items():
            wait_for(
                lambda g=group, t=topic: (lambda c, e: c == e > 0)(
                    *group_progress(kafka_bootstrap, ns + g, ns + t.name)
                ),
                60,
                f"{group} lag 0",
            )

        base = f"http://127.0.0.1:{metrics_port}"

        def scrape() -> str:
            return urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()

        lag_zero = re.compile(
            r'wiredesk_consumer_lag\{partition="\d+",stage="write_articles",'
            r'topic="news.enriched"\} 0.0'
        )
        body = wait_for(
            lambda: (lambda b: b if lag_zero.search(b) else None)(scrape()),
            30,
            "the sink's lag gauge to read 0",
        )
        # every article, and one revision record per verdict a later arrival changed
        _, written = group_progress(kafka_bootstrap, ns + "write_articles", ns + "news.enriched")
        assert written >= len(expected)
        assert f'wiredesk_records_in_total{{stage="write_articles"}} {float(written)}' in body
        assert urllib.request.urlopen(f"{base}/readyz", timeout=5).status == 200
        assert urllib.request.urlopen(f"{base}/healthz", timeout=5).status == 200

        assert poller.poll() is None  # the poller is a long-lived service, still running
        codes = workers.stop_all()
        assert set(codes.values()) == {0}, workers.logs()
        engine.dispose()
