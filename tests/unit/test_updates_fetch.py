"""Re-check fetches against the local news server: conditional GET and body hash decide
whether a page is published again; each outcome is counted (issue 15)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from devserver.server import NewsServer, load_corpus
from ingest.http import FetchOptions, make_client
from ingest.pages import FetchPages
from ingest.politeness import HostGate
from ingest.recheck import RecheckStore
from tests.conftest import metric
from wiredesk import db
from wiredesk.db.feed_tables import ArticleRecheckRow
from wiredesk.records import Link, RawPage, url_id


def _outcome(outcome: str) -> float:
    return metric("wiredesk_recheck_requests_total", reason="schedule", outcome=outcome)


def test_recheck_outcomes(sqlite_url):
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    corpus = load_corpus()
    with NewsServer(corpus) as server:
        opts = FetchOptions(user_agent="t", allow_loopback_ports=frozenset({server.port}))
        client = make_client(opts)
        fetcher = FetchPages(
            client, opts, HostGate(min_delay_s=0.0), None, rechecks=RecheckStore(engine)
        )
        a = corpus.articles[0]
        url = server.article_url(a.id)
        link = Link(url=url, article_id=url_id(url))
        assert isinstance(fetcher.fetch(link), RawPage)
        with engine.connect() as conn:
            row = conn.execute(select(ArticleRecheckRow.__table__)).one()
        assert row.etag and row.last_modified and row.body_sha256
        again = link.model_copy(
            update={
                "recheck": "schedule",
                "recheck_round": 1,
                "etag": row.etag,
                "last_modified": row.last_modified,
                "body_sha256": row.body_sha256,
            }
        )
        before = {o: _outcome(o) for o in ("not_modified", "unchanged", "changed", "error")}
        assert fetcher.fetch(again) is None  # 304
        bare = again.model_copy(update={"etag": None, "last_modified": None})
        assert fetcher.fetch(bare) is None  # 200, the same body
        server.revise(a.id, title="Correction: " + a.title)
        page = fetcher.fetch(again)  # 200, a new body
        assert isinstance(page, RawPage) and "Correction: " in page.html
        with engine.connect() as conn:
            row2 = conn.execute(select(ArticleRecheckRow.__table__)).one()
        assert row2.body_sha256 != row.body_sha256 and row2.last_outcome == "changed"
        gone = again.model_copy(update={"url": server.base_url + "/nowhere.html"})
        assert fetcher.fetch(gone) is None  # 404: counted, dropped, no dead letter
        after = {o: _outcome(o) for o in before}
        assert {o: after[o] - before[o] for o in before} == {
            "not_modified": 1,
            "unchanged": 1,
            "changed": 1,
            "error": 1,
        }
        with engine.connect() as conn:
            outcome = conn.scalar(select(ArticleRecheckRow.last_outcome))
        assert outcome == "error"
        requests = [(p, s) for _, p, s in server.requests_log if p == a.path]
        assert [s for _, s in requests] == [200, 304, 200, 200]
        fetcher.close()
        client.close()
    engine.dispose()


def test_two_revisions_in_one_second_are_two_pages():
    """The news server's page, ETag and Last-Modified move on with every revision, also
    when two land in the same second (a conditional GET with the first revision's
    validators must get the second revision, not a 304)."""
    corpus = load_corpus()
    frozen = 1_800_000_000.0
    with NewsServer(corpus, clock=lambda: frozen) as server:
        client = httpx.Client(trust_env=False)
        a = corpus.articles[0]
        url = server.article_url(a.id)
        server.revise(a.id, title="First revision")
        first = client.get(url)
        server.revise(a.id, title="Second revision")
        conditional = {
            "If-None-Match": first.headers["etag"],
            "If-Modified-Since": first.headers["last-modified"],
        }
        second = client.get(url, headers=conditional)
        only_date = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert first.status_code == second.status_code == only_date.status_code == 200
    assert b"Second revision" in second.content and b"First revision" in first.content
    assert second.headers["etag"] != first.headers["etag"]
    assert second.headers["last-modified"] != first.headers["last-modified"]
