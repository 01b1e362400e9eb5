"""Issue 17, fewer SQL round trips: a batch's fetches store their re-check state
(validators, body hash, outcome) in one transaction once every fetch has ended, not one
transaction per page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, select

from devserver.server import NewsServer, load_corpus
from ingest.http import FetchOptions, make_client
from ingest.pages import FetchPages
from ingest.politeness import HostGate
from ingest.recheck import RecheckStore, fetched_note, outcome_note
from wiredesk import db
from wiredesk.db.feed_tables import ArticleRecheckRow
from wiredesk.records import Link, RawPage, url_id


@pytest.fixture
def site() -> Iterator[NewsServer]:
    with NewsServer(load_corpus()) as server:
        yield server


def make_fetcher(server: NewsServer, engine) -> FetchPages:
    opts = FetchOptions(user_agent="t", allow_loopback_ports=frozenset({server.port}))
    return FetchPages(
        make_client(opts), opts, HostGate(min_delay_s=0.0), None, rechecks=RecheckStore(engine)
    )


def links_of(server: NewsServer, n: int) -> list[Link]:
    urls = [server.article_url(a.id) for a in server.corpus.articles[:n]]
    return [Link(url=u, article_id=url_id(u)) for u in urls]


def transactions(engine) -> list[int]:
    count = [0]
    event.listen(engine, "begin", lambda conn: count.__setitem__(0, count[0] + 1))
    return count


def stored(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(ArticleRecheckRow.__table__)).all()
    return {r.article_id: (r.body_sha256, r.last_outcome) for r in rows}


def test_a_batch_stores_its_pages_recheck_state_in_one_transaction(site, sqlite_url):
    engine = db.make_engine(sqlite_url)
    fetcher = make_fetcher(site, engine)
    links = links_of(site, 6)
    begun = transactions(engine)
    fetcher.prepare(links)
    pages = [page for link in links for page in fetcher(link)]
    assert [p.article_id for p in pages] == [link.article_id for link in links]
    assert all(isinstance(p, RawPage) for p in pages)
    assert begun[0] == 1  # one per page before
    rows = stored(engine)
    assert set(rows) == {link.article_id for link in links}
    assert all(sha and outcome == "fetched" for sha, outcome in rows.values())
    fetcher.close()
    engine.dispose()


def test_a_batched_recheck_stores_its_outcome(site, sqlite_url):
    engine = db.make_engine(sqlite_url)
    fetcher = make_fetcher(site, engine)
    (link,) = links_of(site, 1)
    assert isinstance(fetcher.fetch(link), RawPage)  # direct: stored before it returns
    with engine.connect() as conn:
        etag = conn.scalar(select(ArticleRecheckRow.etag))
    recheck = link.model_copy(update={"recheck": "schedule", "recheck_round": 1, "etag": etag})
    fetcher.prepare([recheck])
    assert list(fetcher(recheck)) == []  # 304: nothing to publish
    assert stored(engine)[link.article_id][1] == "not_modified"
    fetcher.close()
    engine.dispose()


def test_notes_of_one_article_in_one_write_keep_the_last(sqlite_url):
    engine = db.make_engine(sqlite_url)
    store = RecheckStore(engine)
    link = Link(url="http://example.com/a", article_id=url_id("http://example.com/a"))
    store.write(
        [outcome_note(link, "error"), fetched_note(link, {"etag": '"x"'}, "abc", "fetched")]
    )
    assert stored(engine)[link.article_id] == ("abc", "fetched")
    store.write([fetched_note(link, {}, "def", "fetched"), outcome_note(link, "not_modified")])
    assert stored(engine)[link.article_id] == ("def", "not_modified")
    engine.dispose()
