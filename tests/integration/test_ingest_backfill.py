"""``wiredesk backfill warc``: a WARC written here (Common Crawl News layout) goes to
news.raw on Kafka, and on the in-process bus all the way into the database."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from devserver.pages import render_article
from devserver.server import load_corpus
from ingest.urls import canonical_url
from tests import ingest_support
from tests.ingest_support import read_topic
from wiredesk.app.cli import main
from wiredesk.db.tables import ArticleRow
from wiredesk.records import RawPage
from wiredesk.topics import RAW

pytestmark = pytest.mark.integration
kafka_bus = ingest_support.kafka_bus  # fixture


def write_warc(path: Path) -> dict[str, str]:
    """Six response records (2 HTML pages, gzip-encoded one included) and others.

    Returns the canonical URL -> title of the pages that must come through.
    """
    corpus = load_corpus()
    site = corpus.sites[0]
    arts = [a for a in corpus.articles if a.site == site.site][:2]
    base = "https://www.harbourherald.example"
    expected = {}
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "x")], is_http_request=True)
        writer.write_record(writer.create_warc_record(f"{base}/", "request", http_headers=request))
        for i, art in enumerate(arts):
            html = render_article(site, art, base, [])
            headers = [("Content-Type", "text/html; charset=utf-8")]
            if i == 1:  # stored with its Content-Encoding, as crawlers keep it
                html = gzip.compress(html)
                headers.append(("Content-Encoding", "gzip"))
            url = f"{base}{art.path}?utm_source=cc"
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(html), http_headers=http
                )
            )
            expected[canonical_url(url)] = art.title
        for status, ctype, body in (
            ("404 Not Found", "text/html", b"<html>gone</html>"),
            ("200 OK", "image/jpeg", b"\xff\xd8\xff"),
        ):
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    f"{base}/other", "response", payload=io.BytesIO(body), http_headers=http
                )
            )
    return expected


def test_warc_pages_are_published_to_news_raw_on_kafka(kafka_bus, tmp_path, monkeypatch):
    warc = tmp_path / "news.warc.gz"
    expected = write_warc(warc)
    monkeypatch.setenv("WIREDESK_BUS", "kafka")
    monkeypatch.setenv("WIREDESK_NAMESPACE", kafka_bus.namespace)
    assert main(["backfill", "warc", str(warc), "--no-progress"]) == 0
    pages = [r for r in read_topic(kafka_bus, RAW) if isinstance(r, RawPage)]
    assert {p.url for p in pages} == set(expected)
    for page in pages:
        assert page.source == "warc" and expected[page.url] in page.html


def test_backfill_in_process_fills_the_database_and_shows_progress(tmp_path):
    warc = tmp_path / "news.warc.gz"
    expected = write_warc(warc)
    db_url = f"sqlite:///{tmp_path / 'backfill.db'}"
    env = {"WIREDESK_BUS": "memory", "WIREDESK_DATABASE_URL": db_url, "COLUMNS": "100"}
    result = subprocess.run(
        [sys.executable, "-m", "wiredesk.app.cli", "backfill", "warc", str(warc)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "published: 2" in result.stdout and "skipped_status: 1" in result.stdout
    assert "backfill 1 WARC file(s)" in result.stdout  # the progress bar's line
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(ArticleRow.url, ArticleRow.title)).all())
    assert rows == expected
    missing = main(["backfill", "warc", str(tmp_path / "nope.warc")])
    assert missing == 2
