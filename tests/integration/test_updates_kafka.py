"""Article updates on the real stack (issue 15, part 1): the services on Kafka and
PostgreSQL re-check published pages with conditional GET; a page that changes twice on
the local news server ends as three versions in order on one PostgreSQL row, still a
copy of its original (never of itself), with a detected correction notice, the same
behaviour as embedded mode (tests/unit/test_updates_embedded.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, update

from devserver.server import Faults, NewsServer, load_corpus
from tests.integration.conftest import wait_for
from wiredesk.db.feed_tables import ArticleRecheckRow
from wiredesk.db.tables import ArticleEntityRow, ArticleRow, ArticleVersionRow
from wiredesk.records import url_id

pytestmark = pytest.mark.integration

COPY, ORIGINAL = "ml-0001", "hh-0001"
NOTICE = "Correction: An earlier version of this article gave the wrong number of strikers."


def _time_passes(engine, seconds: float) -> None:
    """Move every re-check schedule ``seconds`` into the past (as if time had passed)."""
    back = timedelta(seconds=seconds)
    t = ArticleRecheckRow
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.first_seen_at.is_not(None))
            .values(first_seen_at=t.first_seen_at - back, next_check_at=t.next_check_at - back)
        )


def test_services_store_each_version_of_a_changing_page(workers, pg_url):
    corpus = load_corpus()
    # feeds polled every 2 s (no Cache-Control floor) so the poller looks at the
    # re-check schedule every 2 s; re-checks come from the schedule alone
    faults = Faults(feed_cache_control="no-cache")
    with NewsServer(corpus, faults=faults) as server:
        workers.env.update(
            {
                "WIREDESK_FEEDS": json.dumps(server.feed_urls()),
                "WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS": str(server.port),
                "WIREDESK_FETCH_HOST_DELAY_S": "0",
                "WIREDESK_RECHECK_FEED_UPDATES": "false",
                "WIREDESK_POLL_ADAPTIVE": "false",
                "WIREDESK_POLL_INTERVAL_S": "2",
                "WIREDESK_POLL_MIN_INTERVAL_S": "1",
            }
        )
        for command in ("poll", "fetch", "extract", "enrich", "sink"):
            workers.start(command)
        engine = create_engine(pg_url)
        copy_id = url_id(server.article_url(COPY))
        original_id = url_id(server.article_url(ORIGINAL))

        def row():
            with engine.connect() as conn:
                return conn.execute(
                    select(ArticleRow.__table__).where(ArticleRow.article_id == copy_id)
                ).first()

        def count() -> int:
            with engine.connect() as conn:
                return len(conn.execute(select(ArticleRow.article_id)).all())

        wait_for(lambda: count() == len(corpus.articles), 180, "every article stored")
        wait_for(lambda: (r := row()) and r.duplicate_of == original_id, 60, "the copy's verdict")
        article = server._ids[COPY]
        server.revise(
            COPY, title="CORRECTION: " + article.title, paragraphs=(NOTICE, *article.paragraphs)
        )
        _time_passes(engine, 3_601)
        wait_for(lambda: row().version == 2, 90, "version 2")
        server.revise(
            COPY,
            title="Velmar port strike: talks resume",
            paragraphs=(
                NOTICE,
                *article.paragraphs,
                "Talks between the union and the port resumed.",
            ),
        )
        _time_passes(engine, 6 * 3_600)
        wait_for(lambda: row().version == 3, 90, "version 3")
        pages = [s for _, p, s in server.requests_log if p.endswith(".html")]
        codes = workers.stop_all()
        assert set(codes.values()) == {0}, workers.logs()
        final = row()
        with engine.connect() as conn:
            versions = conn.execute(
                select(ArticleVersionRow.__table__)
                .where(ArticleVersionRow.article_id == copy_id)
                .order_by(ArticleVersionRow.version)
            ).all()
            rows = conn.execute(
                select(ArticleRow.article_id).where(
                    ArticleRow.url.like("%velmar-port-strike-halts%")
                )
            ).all()
            mentions = conn.execute(
                select(ArticleEntityRow.__table__).where(ArticleEntityRow.article_id == copy_id)
            ).all()
        engine.dispose()
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.title for v in versions] == [
        article.title,
        "CORRECTION: " + article.title,
        "Velmar port strike: talks resume",
    ]
    assert [v.correction for v in versions] == [False, True, True]
    assert len(rows) == 1 and final.version == 3
    assert final.duplicate_of == original_id != copy_id
    assert "Talks between the union" in final.text
    for m in mentions:  # tagged on the latest text
        for start, end in m.offsets:
            assert final.text[start:end] in m.surfaces
    # the re-checks were conditional: all but the changed page answered 304
    assert pages.count(304) >= 2 * (len(corpus.articles) - 1)
