"""The feed poller against the local news server, publishing to Kafka, state in
PostgreSQL: formats, conditional GET (F15), new items over time, and hostile feeds
(catalogue X1-X11) with per-feed health in the database and in metrics."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from devserver.server import Faults, NewsServer, load_corpus
from ingest.feeds import FeedPoller
from ingest.http import make_client
from ingest.registry import FeedSpec, feed_id
from ingest.sandbox import Sandbox
from tests import ingest_support
from tests.conftest import metric
from tests.ingest_support import options, read_topic
from wiredesk import db
from wiredesk.db.feed_tables import FeedRow
from wiredesk.records import Link
from wiredesk.runner import publish_from
from wiredesk.topics import LINKS

pytestmark = pytest.mark.integration
kafka_bus = ingest_support.kafka_bus  # fixture
socket_guard = ingest_support.socket_guard  # fixture

FORMATS = ("rss", "atom", "json", "rdf", "rss091")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def poller(engine, server_ports, specs, clock, sandbox=None, **kw) -> FeedPoller:
    opts = options(server_ports)
    return FeedPoller(
        engine,
        make_client(opts),
        opts,
        config=specs,
        sandbox=sandbox,
        clock=clock,
        rng=random.Random(1),
        **kw,
    )


def test_new_entries_are_published_once_in_every_format_and_repolls_are_304(kafka_bus, pg_url):
    corpus = load_corpus()
    corpus.sites = [replace(s, feed_format=f) for s, f in zip(corpus.sites, FORMATS, strict=True)]
    engine = db.make_engine(pg_url)
    clock = Clock()
    with NewsServer(corpus, hold_back=3) as server, Sandbox(timeout_s=10) as sandbox:
        specs = [FeedSpec(url=u) for u in server.feed_urls()]
        source = poller(engine, [server.port], specs, clock, sandbox)
        visible = {server.base_url + a.path for a in server.visible_articles()}

        assert publish_from(source, kafka_bus, LINKS.name) == len(visible)
        links = [r for r in read_topic(kafka_bus, LINKS) if isinstance(r, Link)]
        assert {link.url for link in links} == visible
        assert all(link.entry_title and link.feed_id for link in links)
        dated = [link for link in links if "/coastlinebulletin/" not in link.url]  # RSS 0.91
        assert all(link.entry_published is not None for link in dated)

        # re-poll once every feed is due: conditional GET, all 304, nothing published
        server.reset_log()
        not_modified = metric("wiredesk_feed_not_modified_total")
        clock.now += 7 * 3600
        assert publish_from(source, kafka_bus, LINKS.name) == 0
        assert server.status_counts == {304: len(FORMATS)}
        assert metric("wiredesk_feed_not_modified_total") - not_modified == len(FORMATS)

        # three articles appear: exactly those three are published, once
        released = server.release(3)
        clock.now += 7 * 3600
        assert publish_from(source, kafka_bus, LINKS.name) == 3
        clock.now += 7 * 3600
        assert publish_from(source, kafka_bus, LINKS.name) == 0
        urls = [r.url for r in read_topic(kafka_bus, LINKS)]
        assert len(urls) == len(set(urls)) == len(visible) + 3
        assert {server.base_url + a.path for a in released} <= set(urls)
        with engine.connect() as conn:
            rows = conn.execute(select(FeedRow.__table__)).all()
        assert len(rows) == len(FORMATS)
        assert all(r.consecutive_failures == 0 and r.last_success_at for r in rows)
        assert all(r.next_poll_at.timestamp() > clock.now for r in rows)
    engine.dispose()


def _rss(items: str, head: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0"><channel>'
        f"<title>Hostile</title>{items}</channel></rss>"
    ).encode("utf-8", "surrogateescape")


def _item(title: str, link: str, extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)


def hostile_feeds(dtd_port: int) -> dict[str, tuple[bytes, str | None]]:
    """path -> (body, expected failure reason or None when the feed is accepted)."""
    ok = _item("Fine", "http://news.example/fine")
    many = "".join(_item(f"Item {i}", f"http://news.example/many/{i}") for i in range(1500))
    return {
        "/x1-laughs.xml": (_rss(_item("&lol3;", "http://news.example/l"), LAUGHS), "entity"),
        "/x1-laughs-one-line.xml": (
            _rss(ok, LAUGHS.replace(">", ">\n")).replace(b"\n", b""),
            "entity",
        ),
        "/x3-xxe.xml": (
            _rss(
                _item("&x;", "http://news.example/x"),
                '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]>',
            ),
            "entity",
        ),
        "/x3-external-dtd.xml": (
            _rss(ok, f'<!DOCTYPE rss SYSTEM "http://127.0.0.1:{dtd_port}/evil.dtd">'),
            "dtd",
        ),
        "/x4-redos.xml": (
            _rss(_item("R", "http://news.example/r", "<author>a@" + "a." * 16000 + "!</author>")),
            "parse_timeout",
        ),
        "/x5-surrogate.xml": (_rss(_item("&#xD800;", "http://news.example/s")), "parse_error"),
        "/x5-out-of-range.xml": (_rss(_item("&#x110000;", "http://news.example/o")), "parse_error"),
        "/x5-overflow.xml": (_rss(_item("&#xFFFFFFFF;", "http://news.example/v")), "parse_error"),
        "/x6-controls.xml": (
            _rss(
                _item(
                    "ab\x00cd &#0; &#x1; ok",
                    "http://news.example/nul\x00/1",
                    "<description>x\x00y</description>",
                )
            ),
            None,
        ),
        "/x7-bad-utf8.xml": (_rss(_item("caf\udce9 \udcff", "http://news.example/enc")), None),
        "/x9-sanitize.xml": (
            _rss(
                _item("&lt;script&gt;alert(1)&lt;/script&gt;Safe title", "http://news.example/s1")
                + _item("<![CDATA[<img src=x onerror=alert(1)>Pic]]>", "http://news.example/s2")
                + _item("Script link", "javascript:alert(1)")
                + _item("Data link", "data:text/html;base64,PHNjcmlwdD4=")
            ),
            None,
        ),
        "/x10-many.xml": (_rss(many), None),
        "/x10-huge.xml": (_rss(ok + "<!-- " + "z" * 3_000_000 + " -->"), "too_large"),
        "/x11-empty.xml": (b"", "empty"),
        "/x11-html.xml": (b"<html><body><h1>Our feeds moved</h1></body></html>", "not_a_feed"),
        "/x11-truncated.xml": (_rss(ok + _item("<![CDATA[cut", "x"))[:-40], None),
        "/x5-doctype-backslash.xml": (
            _rss(ok, '<!DOCTYPE rss [<!ENTITY p "C:\\data">]>'),
            "entity",
        ),
    }


def test_hostile_feeds_fail_alone_with_a_reason_and_health_is_recorded(
    kafka_bus, pg_url, socket_guard
):
    corpus = load_corpus()
    engine = db.make_engine(pg_url)
    clock = Clock()
    with NewsServer(corpus) as dtd_host:
        feeds = hostile_feeds(dtd_host.port)
        faults = Faults(
            raw_bodies={p: (200, "application/rss+xml", body) for p, (body, _) in feeds.items()}
        )
        with NewsServer(corpus, faults=faults) as server, Sandbox(timeout_s=1.0) as sandbox:
            base = server.base_url
            good = server.feed_urls()[0]
            specs = [FeedSpec(url=server.base_url + p) for p in feeds] + [FeedSpec(url=good)]
            before = {
                r: metric("wiredesk_feed_parse_error_total", reason=r)
                for r in {e for _, e in feeds.values() if e and e != "too_large"}
            }
            too_large_before = metric(
                "wiredesk_fetch_rejected_total", kind="feed", reason="too_large"
            )
            nul_before = metric("wiredesk_sanitized_total", kind="nul")
            over_cap_before = metric("wiredesk_feed_entries_total", outcome="over_cap")
            override_before = metric("wiredesk_feed_encoding_override_total")
            empty_before = metric("wiredesk_feed_empty_total")
            source = poller(
                engine,
                [server.port],
                specs,
                clock,
                sandbox,
                max_feed_bytes=2_000_000,
                max_items=1000,
                parse_timeout_s=1.0,
            )
            published = publish_from(source, kafka_bus, LINKS.name)

        links = [r for r in read_topic(kafka_bus, LINKS) if isinstance(r, Link)]
        assert published == len(links) > 1000
        by_feed: dict[str, list[Link]] = {}
        for link in links:
            by_feed.setdefault(link.feed_url or "", []).append(link)
        # the good feed in the same round went through
        assert len(by_feed[good]) == len([a for a in corpus.articles if a.site == "harbourherald"])
        # X10: 1,000 of 1,500 items read; the rest counted
        assert len(by_feed[base + "/x10-many.xml"]) == 1000
        assert metric("wiredesk_feed_entries_total", outcome="over_cap") - over_cap_before == 500
        # X6: NUL and control characters removed from title and link
        (controlled,) = by_feed[base + "/x6-controls.xml"]
        assert controlled.entry_title == "abcd ok" and controlled.url == "http://news.example/nul/1"
        assert metric("wiredesk_sanitized_total", kind="nul") > nul_before
        # X7: invalid UTF-8 -> valid text, the override counted
        (encoded,) = by_feed[base + "/x7-bad-utf8.xml"]
        assert encoded.entry_title and encoded.entry_title.encode("utf-8")
        assert metric("wiredesk_feed_encoding_override_total") > override_before
        # X9: text only; no script, handler or javascript: anywhere
        sanitized = by_feed[base + "/x9-sanitize.xml"]
        assert sorted(link.entry_title for link in sanitized) == ["Pic", "alert(1) Safe title"]
        dumped = json.dumps([link.model_dump(mode="json") for link in links]).lower()
        assert "<script" not in dumped and "onerror" not in dumped and "javascript:" not in dumped
        # X11: a truncated feed still yields what came before the cut, without an exception
        assert [link.url for link in by_feed[base + "/x11-truncated.xml"]] == [
            "http://news.example/fine"
        ]
        # every failure: the reason in the database, counted, the feed alone affected
        with engine.connect() as conn:
            rows = {r.url: r for r in conn.execute(select(FeedRow.__table__))}
        for path, (_, reason) in feeds.items():
            row = rows[base + path]
            if reason is None:
                assert row.consecutive_failures == 0, path
            else:
                assert row.consecutive_failures == 1 and row.last_error.startswith(reason), path
                assert row.next_poll_at.timestamp() > clock.now
        for reason, count in before.items():
            expected = sum(1 for _, e in feeds.values() if e == reason)
            assert metric("wiredesk_feed_parse_error_total", reason=reason) - count == expected
        too_large = metric("wiredesk_fetch_rejected_total", kind="feed", reason="too_large")
        assert too_large - too_large_before == 1  # X10: the byte cap, before any parsing
        assert metric("wiredesk_feed_empty_total") - empty_before >= 2
        failing = sum(1 for _, e in feeds.values() if e)
        assert metric("wiredesk_poller_feeds", state="failing") == failing
        # X3: the external DTD was never fetched
        assert dtd_host.requests_log == [] and socket_guard.to_port(dtd_host.port) == 0
    assert rows[good].feed_id == feed_id(good)
    engine.dispose()


def test_poll_service_reads_the_registry_and_a_forced_repoll_is_all_304(kafka_bus, pg_url):
    """`wiredesk feeds import` (OPML from the server) then `wiredesk poll` processes."""
    env = {
        **os.environ,
        "WIREDESK_BUS": "kafka",
        "WIREDESK_NAMESPACE": kafka_bus.namespace,
        "WIREDESK_DATABASE_URL": pg_url,
        "WIREDESK_LOG_FORMAT": "json",
    }

    def wiredesk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wiredesk.app.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    with NewsServer(load_corpus()) as server, tempfile.TemporaryDirectory() as tmp:
        env["WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS"] = json.dumps([server.port])
        opml = Path(tmp) / "feeds.opml"
        opml.write_bytes(urllib.request.urlopen(server.opml_url, timeout=5).read())
        assert wiredesk("feeds", "import", str(opml)).returncode == 0
        assert wiredesk("feeds", "disable", server.feed_urls()[-1]).returncode == 0
        first = wiredesk("poll", "--once")
        assert first.returncode == 0, first.stderr[-2000:]
        enabled = len(server.feed_urls()) - 1
        expected = len([a for a in server.visible_articles() if a.site != "coastlinebulletin"])
        assert len(read_topic(kafka_bus, LINKS)) == expected
        assert server.status_counts[200] == enabled + 1  # the feeds and the OPML itself
        server.reset_log()
        again = wiredesk("poll", "--once")  # nothing is due yet: no request at all
        assert again.returncode == 0 and server.requests_log == []
        forced = wiredesk("poll", "--once", "--force")
        assert forced.returncode == 0 and server.status_counts == {304: enabled}
        assert len(read_topic(kafka_bus, LINKS)) == expected
