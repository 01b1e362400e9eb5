"""Property tests over every stage's ``process`` and over the runner (issue 13, part 7).

For arbitrary records (control characters, lone surrogates, character references, huge
and empty fields, bad offsets) and arbitrary message bytes:

* each stage callable returns at most one record, whose encoding fits the broker's
  limit, or raises ``BadInput`` (or a transient error, which the runner retries);
* a whole stage under the runner never raises: every message ends as an output or a
  dead letter and the offsets move past it.

Deterministic (``derandomize=True``, no example database) and bounded in time: about
30 s for the whole file on the dev machine (``pytest tests/unit/test_fuzz_stages.py``).
Only loopback is ever contacted: DNS is answered for 127.0.0.1 alone.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiredesk.bus import MAX_MESSAGE_BYTES
from wiredesk.bus.memory import MemoryBus
from wiredesk.errors import is_transient
from wiredesk.records import Article, EnrichedArticle, Entity, Link, RawPage
from wiredesk.runner import RunnerOptions, StageRunner, drain
from wiredesk.stage import BadInput, Stage
from wiredesk.topics import ARTICLES, DLQ, ENRICHED, LINKS, RAW

PROFILE = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ODD = ["\x00", "\x01", "\ud800", "\udfff", "\ufffe", "\uffff", "&#1;", "&#xFFFF;", "\u202e", "é"]
texts = st.lists(st.one_of(st.characters(), st.sampled_from(ODD)), max_size=300).map("".join)
dates = st.none() | st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
ids = st.one_of(st.text(max_size=40), st.from_regex(r"[0-9a-f]{32}", fullmatch=True))
FAST = RunnerOptions(poll_timeout_s=0, retry_initial_backoff_s=0.001, retry_max_backoff_s=0.01)


def check_outputs(outputs: list, most: int = 1) -> None:
    assert len(outputs) <= most
    for out in outputs:
        try:
            size = len(out.encode())
        except ValueError:  # not serialisable: the runner dead-letters this record
            continue
        assert size < 30 * MAX_MESSAGE_BYTES  # larger ones are refused by the bus -> DLQ


def via_json(record):
    """The record as a stage gets it: JSON (lone surrogates escaped) decoded again."""
    data = record.model_dump(mode="json", by_alias=True)
    return type(record).decode(json.dumps(data).encode())


def call(process, record, most: int = 1) -> None:
    """``process(record)``: at most ``most`` outputs, checked; or BadInput / a transient
    error."""
    record = via_json(record)
    try:
        outputs = list(process(record))
    except BadInput:
        return
    except Exception as exc:
        assert is_transient(exc), repr(exc)
        return
    check_outputs(outputs, most)


def run_stage(stage: Stage, messages: list[tuple[str | None, bytes]]) -> MemoryBus:
    """The whole stage under the runner: never raises, every message accounted for."""
    bus = MemoryBus(partitions=2)
    for key, value in messages:
        bus.publish(stage.input.name, key, value)
    drain([StageRunner(stage, bus, options=FAST)], max_rounds=50)
    done = sum(bus.committed(stage.name, stage.input.name, p) for p in range(2))
    assert done == len(messages)
    out = len(bus.messages(stage.output.name)) if stage.output else 0
    assert out + len(bus.messages(DLQ.name)) <= len(messages) or stage.sink is not None
    return bus


# -- fetch --------------------------------------------------------------------------
RESPONSE: dict[str, object] = {"status": 200, "type": "text/html", "body": b""}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = RESPONSE["body"]
        assert isinstance(body, bytes)
        self.send_response(int(RESPONSE["status"]))  # type: ignore[call-overload]
        self.send_header("Content-Type", str(RESPONSE["type"]))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def loopback_dns(monkeypatch):
    real = socket.getaddrinfo

    def only_loopback(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, "fuzz: loopback only")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", only_loopback)


@pytest.fixture
def fetcher(page_server, loopback_dns):
    from tests.ingest_support import fetch_stage

    stage, pages = fetch_stage([page_server], robots=False, timeout_s=2.0, max_bytes=200_000)
    yield stage, pages
    pages.close()


def links(port: int):
    local = st.builds(lambda p: f"http://127.0.0.1:{port}/{p}", st.text(max_size=60))
    url = st.one_of(texts, local, st.sampled_from(["http://", "file:///etc/passwd", "http://[::1"]))
    return st.builds(
        Link, url=url, article_id=ids, entry_title=st.none() | texts, entry_published=dates
    )


@PROFILE
@given(data=st.data())
def test_fetch_process_never_raises_anything_but_bad_input(fetcher, page_server, data):
    stage, _ = fetcher
    RESPONSE.update(
        status=data.draw(st.sampled_from([200, 200, 404, 429, 503, 301])),
        type=data.draw(
            st.sampled_from(["text/html", "text/html; charset=x-nope", "image/png", ""])
        ),
        body=data.draw(
            st.binary(max_size=2000) | texts.map(lambda t: t.encode("utf-8", "replace"))
        ),
    )
    call(stage.process, data.draw(links(page_server)))


# -- extract ------------------------------------------------------------------------
html = st.builds(
    lambda head, body, tail: f"<html><head><title>{head}</title></head><body>{body}</body>{tail}",
    texts,
    st.lists(
        st.builds(
            lambda t, p: f"<{t}>{p}</{t}>",
            st.sampled_from(["p", "div", "h1", "script", "article"]),
            texts,
        ),
        max_size=8,
    ).map("".join),
    st.sampled_from(["</html>", "", "<div>" * 300, "<!--", "<![CDATA["]),
)
raw_pages = st.builds(
    lambda h, url, when: RawPage(
        article_id="a" * 32, url=url, final_url=url, status=200, html=h, entry_published=when
    ),
    st.one_of(html, texts),
    st.sampled_from(["http://example.com/a", "not a url", ""]),
    dates,
)


@PROFILE
@given(page=raw_pages)
def test_extract_process_never_raises_anything_but_bad_input(page):
    from ingest.extract import ExtractArticles

    call(ExtractArticles(None, min_chars=0), page)


# -- enrich -------------------------------------------------------------------------
def articles(cls=Article, **extra):
    return st.builds(
        cls,
        article_id=ids,
        url=texts,
        title=texts,
        text=st.one_of(texts, st.builds(lambda w, n: (w + " ") * n, texts, st.integers(0, 400))),
        published_at=dates,
        fetched_at=dates,
        extractor_version=st.just("fuzz"),
        content_hash=ids,
        **extra,
    )


@pytest.fixture
def enricher(sqlite_engine):
    from transform.enrich import EnrichArticles, EnrichOptions
    from transform.entities import ModelMissing

    try:
        stage = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=True))
        stage.tagger  # noqa: B018 (loads the model once, here)
    except ModelMissing as exc:
        pytest.skip(f"spaCy model not installed: {exc}")
    return stage


@PROFILE
@given(article=articles())
def test_enrich_process_never_raises_anything_but_bad_input(enricher, article):
    # its own enriched record, then at most max_revisions revisions of earlier articles
    call(enricher, article, most=1 + enricher.options.max_revisions)


# -- sink ---------------------------------------------------------------------------
entities = st.lists(
    st.builds(
        Entity,
        canonical_id=ids,
        name=texts,
        label=st.sampled_from(["PER", "ORG", "LOC", "MISC", "?" * 40]),
        surface=texts,
        start=st.integers(-5, 1000),
        end=st.integers(-5, 1000),
    ),
    max_size=5,
)


@PROFILE
@given(records=st.lists(articles(EnrichedArticle, entities=entities), max_size=4))
def test_the_sink_stage_never_exits_and_accounts_for_every_record(sqlite_engine, records):
    from sink.articles import ArticleWriter

    stage = Stage("write_articles", ENRICHED, sink=ArticleWriter(sqlite_engine))
    messages = [
        (r.article_id[:200], json.dumps(r.model_dump(mode="json", by_alias=True)).encode())
        for r in records
    ]
    run_stage(stage, messages)


# -- every stage under the runner, with arbitrary bytes --------------------------------
@PROFILE
@given(
    messages=st.lists(
        st.tuples(st.none() | st.text(max_size=50), st.binary(max_size=300)), max_size=5
    ),
    topic=st.sampled_from([LINKS, RAW, ARTICLES]),
)
def test_arbitrary_bytes_on_any_input_topic_end_in_the_dlq(messages, topic):
    def never(record):
        raise AssertionError("arbitrary bytes decoded as a record")

    out = {LINKS.name: RAW, RAW.name: ARTICLES, ARTICLES.name: ENRICHED}[topic.name]
    bus = run_stage(Stage("fuzz", topic, never, output=out), messages)
    assert len(bus.messages(DLQ.name)) == len(messages)
