"""Rights and access on the real stack (issue 15, part 3): the services on Kafka with
``WIREDESK_RIGHTS_POLICY`` set record every invented rights signal on the PostgreSQL rows
and honour the policy exactly as the embedded mode does (tests/unit/test_rights_pipeline)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select

from devserver.server import Faults, NewsServer, load_corpus
from tests.integration.conftest import group_progress, wait_for
from tests.rights_support import CORPUS, FAULTS, OPTED_OUT, check_flags
from wiredesk.db.tables import ArticleRow
from wiredesk.topics import ENRICHED, RAW

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("policy", ["metadata", "skip"])
def test_services_record_rights_and_honour_the_policy(workers, kafka_bootstrap, pg_url, policy):
    expected = len(CORPUS.articles) - (len(OPTED_OUT) if policy == "skip" else 0)
    with NewsServer(load_corpus(), faults=Faults(**FAULTS)) as server:
        workers.env.update(
            {
                "WIREDESK_FEEDS": json.dumps(server.feed_urls()),
                "WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS": str(server.port),
                "WIREDESK_FETCH_HOST_DELAY_S": "0",
                "WIREDESK_RIGHTS_POLICY": policy,
                "WIREDESK_NER_ENABLED": "false",
            }
        )
        workers.start("poll", WIREDESK_POLL_INTERVAL_S="3600")
        for command in ("fetch", "extract", "enrich", "sink"):
            workers.start(command)
        engine = create_engine(pg_url)

        def stored() -> dict[str, ArticleRow]:
            with engine.connect() as conn:
                return {r.url: r for r in conn.execute(select(ArticleRow)).all()}

        wait_for(lambda: len(stored()) >= expected, 180, f"{expected} rows in PostgreSQL")
        ns = workers.env["WIREDESK_NAMESPACE"]
        for group, topic in (("extract_articles", RAW), ("write_articles", ENRICHED)):
            wait_for(  # every page extracted (or skipped) and every record written
                lambda g=group, t=topic: (lambda c, e: c == e > 0)(
                    *group_progress(kafka_bootstrap, ns + g, ns + t.name)
                ),
                60,
                f"{group} lag 0",
            )
        # the opted-out pages were fetched and extracted too: every page was requested
        pages = {p for _, p, _ in server.requests_log if p.endswith(".html")}
        assert pages == {a.path for a in CORPUS.articles}
        codes = workers.stop_all()
        assert set(codes.values()) == {0}, workers.logs()
        rows = stored()
        engine.dispose()
        by_id = {a.id: rows.get(server.base_url + a.path) for a in CORPUS.articles}
    assert len(rows) == expected
    check_flags(by_id)
    for article_id, row in by_id.items():
        if article_id not in OPTED_OUT:
            assert row is not None and row.text and not row.text_withheld
        elif policy == "skip":
            assert row is None
        else:
            assert row.text == "" and row.text_withheld and row.title
