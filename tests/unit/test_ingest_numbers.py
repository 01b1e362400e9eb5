"""Untrusted numbers are clamped before any arithmetic (issue 13, catalogue B6):
Retry-After, Cache-Control max-age, <ttl>, the failure backoff, JSON Feed numbers and
feed dates. A hold applies to the feed that asked for it, within ``MAX_HOLD_S`` (24 h);
another feed on the same host is not held; one feed never aborts a poll round."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from ingest import schedule
from ingest.feedparse import parse_json_feed
from ingest.feeds import FeedPoller
from ingest.http import make_client
from ingest.politeness import MAX_CRAWL_DELAY_S, HostGate, retry_after_seconds
from ingest.registry import FeedSpec
from tests.ingest_support import options
from tests.rawhttp import RawServer, response
from wiredesk.db.feed_tables import FeedRow

CAP = 86_400.0  # the documented cap: 24 h
POLICY = schedule.PollPolicy(
    default_interval_s=300, min_interval_s=60, max_interval_s=21_600, max_backoff_s=3_600
)
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOSTILE_RETRY_AFTER = [
    "9" * 30,  # overflowed now + timedelta(...)
    "9" * 5_000,  # over Python's int str-conversion limit
    str(10 * 365 * 86_400),  # ten years
    "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() but not an HTTP digit
    "\u00b2",  # SUPERSCRIPT TWO: str.isdigit() and float() raises
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "-5",
    "1e9",
    "",
]


@pytest.mark.parametrize("value", HOSTILE_RETRY_AFTER)
def test_retry_after_is_parsed_strictly_and_capped(value):
    seconds = retry_after_seconds(value, T0.timestamp())
    assert math.isfinite(seconds) and 0 <= seconds <= CAP


def test_retry_after_reads_ascii_seconds_and_dates():
    now = T0.timestamp()
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(" 120 ", now) == 120
    assert retry_after_seconds("Sat, 21 Nov 2026 12:10:00 GMT", now) == 600
    assert retry_after_seconds("\u0663", now) == 60  # not a number: the default hold
    assert retry_after_seconds(None, now) == 60


def test_cache_control_ttl_and_backoff_are_bounded():
    for header in ("max-age=" + "9" * 5_000, "max-age=" + "9" * 30, "max-age=\u0663\u0663"):
        value = schedule.max_age(header)
        assert value is None or (math.isfinite(value) and 0 <= value <= CAP), header
    assert schedule.max_age("public, max-age=600") == 600
    for ttl in ("1e400", "inf", "nan", "-5", "9" * 5_000, 10**400):
        value = schedule.ttl_seconds(ttl)
        assert value is None or (math.isfinite(value) and 0 < value <= CAP), ttl
    assert schedule.ttl_seconds("180") == 10_800
    rng = random.Random(1)
    for failures in (1_025, 10**6, 10**30):
        delay = schedule.delay_after_failure(POLICY, failures, rng)
        assert POLICY.max_backoff_s / 2 <= delay <= POLICY.max_backoff_s
    assert schedule.delay_after_failure(POLICY, 1, rng, retry_after_s=math.inf) == CAP
    assert schedule.delay_after_failure(POLICY, 1, rng, retry_after_s=math.nan) <= 60


def test_host_gate_block_is_capped():
    now = [1_000.0]
    gate = HostGate(clock=lambda: now[0])
    gate.block("http://a:80", 1e30)
    assert gate.blocked_for("http://a:80") == CAP
    gate.block("http://b:80", math.nan)
    assert gate.blocked_for("http://b:80") == 0


def test_json_feed_with_huge_numbers_still_parses():
    items = [{"id": "1", "url": "https://a.example/1", "title": "one"}]
    text = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items})
    text = text.replace('"id": "1"', '"id": "1", "x": ' + "7" * 5_000)
    text = text.replace('"items"', '"n": -' + "8" * 5_000 + ', "f": 1e999999, "items"')
    parsed = parse_json_feed(text.encode(), 10)
    assert [e.link for e in parsed.entries] == ["https://a.example/1"]


def test_feed_dates_out_of_any_reality_are_unknown():
    dated = [
        ("https://a.example/1", "0001-01-01T00:00:00+05:00"),
        ("https://a.example/2", "9999-12-31T23:59:59-05:00"),
        ("https://a.example/3", "2026-11-21T10:00:00+01:00"),
    ]
    items = [{"url": u, "date_published": d} for u, d in dated]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items})
    published = [e.published for e in parse_json_feed(body.encode(), 10).entries]
    assert published == [None, None, datetime(2026, 11, 21, 9, 0, tzinfo=UTC)]


RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>ok</title>'
    b"<item><title>one</title><link>https://news.example/one</link></item>"
    b"</channel></rss>"
)


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


def _row(engine, url: str):
    with engine.connect() as conn:
        return conn.execute(select(FeedRow.__table__).where(FeedRow.url == url)).one()


def _wait(row, clock: Clock) -> float:
    return row.next_poll_at.replace(tzinfo=UTC).timestamp() - clock.now


@pytest.mark.parametrize("value", HOSTILE_RETRY_AFTER)
def test_retry_after_holds_only_the_feed_that_asked_within_the_cap(sqlite_engine, value):
    def answer(path: str) -> bytes:
        if path == "/held.xml":
            return response("503 Service Unavailable", Retry_After=value)
        return response(body=RSS, Content_Type="application/rss+xml")

    with RawServer(answer) as server:
        held, healthy = f"{server.base_url}/held.xml", f"{server.base_url}/healthy.xml"
        opts = options([server.port])
        clock = Clock()
        poller = FeedPoller(
            sqlite_engine,
            make_client(opts),
            opts,
            config=[FeedSpec(held), FeedSpec(healthy)],
            policy=POLICY,
            clock=clock,
            rng=random.Random(2),
            workers=1,
        )
        links = poller.poll()
        poller.confirm(links)
        assert [link.url for link in links] == ["https://news.example/one"]
        held_row = _row(sqlite_engine, held)
        assert held_row.last_error.startswith("http_503"), held_row.last_error
        assert 0 < _wait(held_row, clock) <= CAP
        # the healthy feed's first poll: the next is on its own grid, one to two intervals on
        delay = POLICY.default_interval_s
        wait = _wait(_row(sqlite_engine, healthy), clock)
        assert delay <= wait < 2 * delay

        # the healthy feed is polled on its own schedule, whatever the other one asked for
        server.requests.clear()
        clock.now += wait
        poller.confirm(poller.poll())
        paths = [r.split(b" ")[1] for r in server.requests]
        assert b"/healthy.xml" in paths
        assert _row(sqlite_engine, healthy).consecutive_failures == 0


def test_a_feed_failing_for_ever_does_not_abort_the_round(sqlite_engine):
    def answer(path: str) -> bytes:
        if path == "/broken.xml":
            return response("500 Internal Server Error")
        return response(body=RSS, Content_Type="application/rss+xml")

    with RawServer(answer) as server:
        broken, healthy = f"{server.base_url}/broken.xml", f"{server.base_url}/healthy.xml"
        opts = options([server.port])
        clock = Clock()
        poller = FeedPoller(
            sqlite_engine,
            make_client(opts),
            opts,
            config=[FeedSpec(broken), FeedSpec(healthy)],
            policy=POLICY,
            clock=clock,
            rng=random.Random(3),
            workers=1,
            force=True,
        )
        poller.confirm(poller.poll())
        with sqlite_engine.begin() as conn:
            conn.execute(
                update(FeedRow).where(FeedRow.url == broken).values(consecutive_failures=1_025)
            )
        links = poller.poll()
        poller.confirm(links)
        row = _row(sqlite_engine, broken)
        assert row.consecutive_failures == 1_026
        assert 0 < _wait(row, clock) <= POLICY.max_backoff_s


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        (1e30, MAX_CRAWL_DELAY_S),
        (math.inf, MAX_CRAWL_DELAY_S),
        (10 * 365 * 86_400.0, MAX_CRAWL_DELAY_S),
        (math.nan, 1.0),  # no usable number: the gate's own minimum
        (-5.0, 1.0),
    ],
)
def test_crawl_delay_from_robots_is_capped(delay, expected):
    """Before, Crawl-delay: 1e30 made the next request wait on Condition.wait(1e30)
    (OverflowError in the fetch thread), and a year-long one wedged the batch."""
    gate = HostGate(min_delay_s=1.0)
    gate.set_crawl_delay("http://a:80", delay)
    assert gate.crawl_delay("http://a:80") == expected
