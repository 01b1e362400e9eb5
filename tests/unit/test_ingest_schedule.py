"""Poll scheduling: pure rules, then the poller with an injected clock against the local
news server (Cache-Control max-age, <ttl>, fixed and adaptive intervals, error backoff
with jitter, Retry-After, and nothing polled before it is due)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from devserver.server import Faults, NewsServer, load_corpus
from ingest import schedule
from ingest.feeds import FeedPoller
from ingest.http import make_client
from ingest.registry import FeedSpec
from tests.ingest_support import options
from wiredesk.db.feed_tables import FeedRow

POLICY = schedule.PollPolicy(
    default_interval_s=300, min_interval_s=60, max_interval_s=21_600, max_backoff_s=3_600
)
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_success_delay_rules():
    assert schedule.delay_after_success(POLICY) == 300
    assert schedule.delay_after_success(POLICY, fixed_interval_s=900, adaptive_s=70) == 900
    assert schedule.delay_after_success(POLICY, adaptive_s=10) == 60  # clamped up
    assert schedule.delay_after_success(POLICY, adaptive_s=10**6) == 21_600  # clamped down
    assert schedule.delay_after_success(POLICY, max_age_s=7200) == 7200
    assert schedule.delay_after_success(POLICY, ttl_s=3 * 3600, max_age_s=60) == 10_800
    assert schedule.delay_after_success(POLICY, max_age_s=10**9) == 21_600  # hints capped
    assert schedule.max_age("public, max-age=600") == 600
    assert schedule.max_age("no-cache, max-age=600") is None
    assert schedule.ttl_seconds("60") == 3600 and schedule.ttl_seconds("soon") is None


def test_adaptive_interval_is_half_the_mean_gap_between_entries():
    hourly = [T0 - timedelta(hours=h) for h in range(10)]
    assert schedule.update_rate_interval(hourly) == 1800
    assert schedule.update_rate_interval([T0, None]) is None
    assert schedule.update_rate_interval([T0, T0]) is None


def test_failure_backoff_doubles_with_jitter_and_honours_retry_after():
    rng = random.Random(3)
    for failures, base in ((1, 60), (2, 120), (3, 240), (7, 3600), (30, 3600)):
        delays = [schedule.delay_after_failure(POLICY, failures, rng) for _ in range(200)]
        assert base / 2 <= min(delays) and max(delays) <= base
        assert len({round(d, 3) for d in delays}) > 100  # jittered, not lockstep
    assert schedule.delay_after_failure(POLICY, 1, rng, retry_after_s=5000) == 5000
    assert schedule.delay_after_failure(POLICY, 1, rng, retry_after_s=10**7) == 86_400


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


def _next_poll(engine, url: str) -> float:
    with engine.connect() as conn:
        row = conn.execute(select(FeedRow.__table__).where(FeedRow.url == url)).one()
    when = row.next_poll_at.replace(tzinfo=UTC)
    return when.timestamp(), row


def test_a_poll_on_time_keeps_the_feed_s_place_and_lateness_does_not_accumulate():
    rng = random.Random(3)
    delay, phase = 300.0, schedule.feed_phase("https://news.example/feed.xml")
    due = schedule.next_poll_at(T0.timestamp(), delay, None, phase)
    first = due
    for _ in range(200):  # each poll runs up to 1.5 s after its due time
        due = schedule.next_poll_at(due + rng.uniform(0, 1.5), delay, due, phase)
    assert due == first + 200 * delay  # exactly one interval per poll, on average


def test_a_first_late_or_forced_poll_goes_to_the_feed_s_own_grid():
    delay, phase, now = 300.0, 0.25, T0.timestamp()
    for due in (None, now - 200.0, now + 50.0):  # never polled, very late, forced early
        at = schedule.next_poll_at(now, delay, due, phase)
        assert delay <= at - now < 2 * delay
        assert (at - phase * delay) % delay == 0


def test_a_long_interval_is_spread_over_minutes_not_over_the_interval():
    now, day = T0.timestamp(), 86_400.0
    for feed in ("https://a.example/feed", "https://b.example/feed"):
        at = schedule.next_poll_at(now, day, None, schedule.feed_phase(feed))
        assert day <= at - now < day + schedule.SPREAD_S  # not up to two days


def test_feeds_polled_together_spread_over_the_interval():
    now, delay = T0.timestamp(), 3.0
    ids = [f"https://outlet{i:02d}.example/feed.xml" for i in range(20)]
    due = {f: schedule.next_poll_at(now, delay, None, schedule.feed_phase(f)) for f in ids}
    offsets = sorted((at - now) % delay for at in due.values())
    assert len(set(offsets)) == 20
    wrapped = [*offsets[1:], offsets[0] + delay]
    assert max(b - a for a, b in zip(offsets, wrapped, strict=True)) < delay / 2
    for _ in range(10):  # on-time polls keep the spread
        due = {
            f: schedule.next_poll_at(at + 0.05, delay, at, schedule.feed_phase(f))
            for f, at in due.items()
        }
    assert sorted((at - now) % delay for at in due.values()) == pytest.approx(offsets)


def test_the_gap_between_polls_is_never_below_the_interval_less_the_slack():
    rng = random.Random(11)
    for _ in range(20_000):
        delay = rng.choice([0.5, 3.0, 60.0, 300.0, 86_400.0]) * rng.uniform(0.5, 2)
        now = T0.timestamp() + rng.uniform(-1e6, 1e6)
        due = rng.choice([None, now - rng.uniform(0, 2 * delay), now + rng.uniform(0, delay)])
        at = schedule.next_poll_at(now, delay, due, rng.random())
        slack = min(delay / 4, schedule.ON_TIME_SLACK_S)
        assert delay - slack - 1e-6 <= at - now < delay + min(delay, schedule.SPREAD_S)
    assert schedule.next_poll_at(100.0, float("nan"), None, 0.5) == 100.0 + schedule.MAX_HOLD_S
    assert schedule.next_poll_at(100.0, 0.0, 90.0, 0.5) == 100.0


def _first_gap(when: float, row, now: float, delay: float) -> bool:
    """A first poll's next is the first point of the feed's grid at least ``delay`` on."""
    period = min(delay, schedule.SPREAD_S)
    phase = schedule.feed_phase(row.feed_id)
    on_grid = abs((when - phase * period + period / 2) % period - period / 2) < 1e-3
    return delay <= when - now < delay + period and on_grid


def test_poller_schedules_each_feed_from_what_it_saw(sqlite_engine):
    faults = Faults(fail_paths={"/valleyclarion/feed.xml": 500}, feed_ttl_minutes=180)
    limited_faults = Faults(fail_paths={"/harbourherald/feed.xml": 429}, retry_after=5000)
    with (
        NewsServer(load_corpus(), faults=faults) as server,
        NewsServer(load_corpus(), faults=limited_faults) as limited_host,
    ):
        kinds = ("rss_ttl", "broken", "adaptive", "fixed")
        urls = dict(zip(kinds, server.feed_urls()[:4], strict=True))
        urls["limited"], urls["same_host"] = limited_host.feed_urls()[:2]
        fixed = {"fixed": 900, "rss_ttl": 60}
        specs = [FeedSpec(url=u, interval_s=fixed.get(k)) for k, u in urls.items()]
        clock = Clock()
        opts = options([server.port, limited_host.port])
        poller = FeedPoller(
            sqlite_engine,
            make_client(opts),
            opts,
            config=specs,
            policy=POLICY,
            clock=clock,
            rng=random.Random(5),
            workers=1,
        )
        poller.confirm(poller.poll())
        now = clock.now
        when, row = _next_poll(sqlite_engine, urls["rss_ttl"])
        assert _first_gap(when, row, now, 10_800), row.last_error  # <ttl>180</ttl> over 60 s
        assert _first_gap(*_next_poll(sqlite_engine, urls["fixed"]), now=now, delay=900)  # no ttl
        when, adaptive = _next_poll(sqlite_engine, urls["adaptive"])
        # half the mean gap between its entries (hours apart in the demo), within bounds
        assert adaptive.current_interval_s > 3600
        expected = min(max(60, adaptive.current_interval_s), POLICY.max_interval_s)
        assert _first_gap(when, adaptive, now, expected)
        when, limited = _next_poll(sqlite_engine, urls["limited"])
        assert when - now >= 5000 and limited.last_error.startswith("http_429")
        when, broken = _next_poll(sqlite_engine, urls["broken"])
        assert 30 <= when - now <= 60 and broken.consecutive_failures == 1
        assert broken.last_error.startswith("http_5xx")

        # nothing is due a minute later except the broken feed
        server.reset_log()
        clock.now += 61
        poller.confirm(poller.poll())
        assert [p for _, p, _ in server.requests_log] == ["/valleyclarion/feed.xml"]
        when, broken = _next_poll(sqlite_engine, urls["broken"])
        assert broken.consecutive_failures == 2 and 60 <= when - clock.now <= 120

        # a forced one-shot round polls every feed except the one under Retry-After; the
        # hold is that feed's own: the host's other feed is polled (issue 13, B6)
        server.reset_log()
        limited_host.reset_log()
        poller.force = True
        poller.confirm(poller.poll())
        assert len({p for _, p, _ in server.requests_log}) == 4
        same_host_path = urlsplit(urls["same_host"]).path
        assert [p for _, p, _ in limited_host.requests_log] == [same_host_path]
        _, same_host = _next_poll(sqlite_engine, urls["same_host"])
        assert same_host.last_status in (200, 304) and same_host.consecutive_failures == 0
