"""The extractor on Kafka: metadata, fallbacks, rejections with reasons, and the time and
memory bound of the sandbox (catalogue E1, E2, E4, E5); news.raw/1 still read."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime

import pytest

from devserver.pages import render_article
from devserver.server import load_corpus
from ingest.extract import EXTRACTOR_VERSION, ExtractArticles
from ingest.sandbox import Sandbox
from tests import ingest_support
from tests.conftest import metric
from tests.ingest_support import dead_letters, publish, read_topic, run_stage
from wiredesk.records import Article, RawPage, url_id
from wiredesk.stage import Stage
from wiredesk.topics import ARTICLES, RAW

pytestmark = pytest.mark.integration
kafka_bus = ingest_support.kafka_bus  # fixture

BODY = " ".join(f"Sentence {i} of the harbour report, with a few more words." for i in range(30))


def raw(url: str, html: str, **fields) -> RawPage:
    return RawPage(article_id=url_id(url), url=url, final_url=url, status=200, html=html, **fields)


def test_articles_are_extracted_with_fallbacks_and_bad_pages_rejected(kafka_bus):
    corpus = load_corpus()
    site = corpus.sites[0]
    art = next(a for a in corpus.articles if a.site == site.site)
    base = "http://news.example"
    page_url = base + art.path
    entry_time = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
    deep = "<html><body>" + "<div>" * 10_000 + f"<p>{BODY}</p>" + "</div>" * 10_000
    slow = "<html><body>" + "".join(f"<div><p>{BODY} {i}</p></div>" for i in range(8_000))
    controls = f"<html><body><article><p>{BODY}\x00 with\x01 control\x7f bytes.</p></article>"
    pages = {
        "good": raw(page_url, render_article(site, art, base, []).decode(), feed_id="f1"),
        "fallback": raw(
            f"{base}/bare",
            f"<html><body><article><p>{BODY}</p></article></body></html>",
            entry_title="Title from the feed",
            entry_published=entry_time,
        ),
        "deep": raw(f"{base}/deep", deep),  # E1
        "short": raw(f"{base}/short", "<html><body><p>Too short.</p></body></html>"),
        "gzip_as_text": raw(  # E4: compressed bytes are never inflated
            f"{base}/gz", gzip.compress(b"<p>" + b"a" * 10_000_000).decode("latin-1")
        ),
        "controls": raw(f"{base}/controls", controls, entry_title="Controls"),  # E5
        "slow": raw(f"{base}/slow", slow),  # E2: over the 1 s bound
        "after_slow": raw(
            f"{base}/after", f"<html><body><article><p>{BODY}</p></article>", entry_title="After"
        ),
    }
    old = json.dumps(  # a news.raw/1 message from before the compressed schema
        {
            "schema": "news.raw/1",
            "article_id": url_id(f"{base}/v1"),
            "url": f"{base}/v1",
            "final_url": f"{base}/v1",
            "status": 200,
            "entry_title": "Old record",
            "html": f"<html><body><article><p>{BODY}</p></article></body></html>",
        }
    ).encode()
    bomb = raw(f"{base}/bomb", "").model_copy(  # html_gzip inflating past the cap
        update={"html_gzip": base64.b64encode(gzip.compress(bytes(30_000_000))).decode()}
    )
    timeouts_before = metric("wiredesk_extract_rejected_total", reason="extract_timeout")
    publish(kafka_bus, RAW, [*pages.values(), bomb])
    kafka_bus.publish(RAW.name, url_id(f"{base}/v1"), old)
    kafka_bus.flush()
    with Sandbox(timeout_s=1.0, memory_mb=1024) as sandbox:
        stage = Stage("extract_articles", RAW, ExtractArticles(sandbox), output=ARTICLES)
        run_stage(stage, kafka_bus, len(pages) + 2)

    articles = {a.url: a for a in read_topic(kafka_bus, ARTICLES) if isinstance(a, Article)}
    assert dead_letters(kafka_bus) == {
        url_id(f"{base}/deep"): "depth_or_empty",
        url_id(f"{base}/short"): "too_short",
        url_id(f"{base}/gz"): "depth_or_empty",
        url_id(f"{base}/slow"): "extract_timeout",
        url_id(f"{base}/bomb"): "html_too_large",
    }
    assert (
        metric("wiredesk_extract_rejected_total", reason="extract_timeout") - (timeouts_before) == 1
    )
    good = articles[page_url]
    assert good.title == art.title and art.paragraphs[0][:60] in good.text
    assert "cookies" not in good.text.lower()  # the banner is boilerplate
    assert good.authors == [art.author] and good.language == "en"
    assert good.site_name and good.canonical_url == page_url
    assert good.published_at is not None and good.published_at.date() == art.published_at.date()
    assert good.extractor_version == EXTRACTOR_VERSION and good.feed_id == "f1"
    fallback = articles[f"{base}/bare"]
    assert fallback.title == "Title from the feed" and fallback.published_at == entry_time
    cleaned = articles[f"{base}/controls"].text
    assert "\x00" not in cleaned and "\x01" not in cleaned and "\x7f" not in cleaned
    assert articles[f"{base}/after"].title == "After"  # the worker survived the timeout
    assert articles[f"{base}/v1"].title == "Old record"
