"""Politeness of the page fetcher on Kafka against local news servers (catalogue F13, F14):
robots.txt rules, its 5xx/404/oversized variants, Crawl-delay, caching, and Retry-After."""

from __future__ import annotations

import pytest

from devserver.server import Faults, NewsServer, load_corpus
from tests import ingest_support
from tests.conftest import metric
from tests.ingest_support import (
    USER_AGENT,
    dead_letters,
    fetch_stage,
    link,
    publish,
    read_topic,
    run_stage,
)
from wiredesk.records import RawPage
from wiredesk.topics import LINKS, RAW

pytestmark = pytest.mark.integration
kafka_bus = ingest_support.kafka_bus  # fixture


def _urls(server: NewsServer, site: str, n: int) -> list[str]:
    arts = [a for a in server.corpus.articles if a.site == site][:n]
    return [server.base_url + a.path for a in arts]


def _article_requests(server: NewsServer) -> list[str]:
    return [path for _, path, _ in server.requests_log if path.endswith(".html")]


def test_robots_rules_variants_and_crawl_delay_are_honoured(kafka_bus):
    corpus = load_corpus
    filler = "# " + "x" * 98 + "\n"
    huge_robots = (
        "User-agent: *\nDisallow: /harbourherald/\n"
        + filler * 21_000  # 2.1 MB: only the first 500 KiB is read
        + "Disallow: /valleyclarion/\n"
    )
    with (
        NewsServer(
            corpus(),
            faults=Faults(
                robots_txt=("User-agent: *\nDisallow: /harbourherald/\nCrawl-delay: 1\n")
            ),
        ) as rules,
        NewsServer(corpus(), faults=Faults(fail_paths={"/robots.txt": 503})) as broken,
        NewsServer(corpus(), faults=Faults(fail_paths={"/robots.txt": 404})) as missing,
        NewsServer(corpus(), faults=Faults(robots_txt=huge_robots)) as huge,
    ):
        disallowed = _urls(rules, "harbourherald", 2)
        delayed = _urls(rules, "valleyclarion", 3)
        unavailable = _urls(broken, "harbourherald", 2)
        allowed_404 = _urls(missing, "harbourherald", 2)
        huge_disallowed = _urls(huge, "harbourherald", 1)
        huge_allowed = _urls(huge, "valleyclarion", 1)
        every = disallowed + delayed + unavailable + allowed_404 + huge_disallowed + huge_allowed
        ports = [s.port for s in (rules, broken, missing, huge)]
        stage, fetcher = fetch_stage(ports, delay=0.0, concurrency=2)
        publish(kafka_bus, LINKS, [link(u) for u in every])
        run_stage(stage, kafka_bus, len(every))
        fetcher.close()

        expected = dict.fromkeys(disallowed + huge_disallowed, "robots_disallowed")
        expected.update(dict.fromkeys(unavailable, "robots_unavailable"))
        assert dead_letters(kafka_bus) == expected
        fetched = {r.url for r in read_topic(kafka_bus, RAW) if isinstance(r, RawPage)}
        assert fetched == set(delayed + allowed_404 + huge_allowed)
        # disallowed and unavailable: not one article request; robots.txt fetched once each
        assert not [p for p in _article_requests(rules) if p.startswith("/harbourherald/")]
        assert _article_requests(broken) == []
        for server in (rules, broken, missing, huge):
            assert [p for _, p, _ in server.requests_log].count("/robots.txt") == 1
        # Crawl-delay: 1 -> the three allowed pages of that host were >= 1 s apart
        times = sorted(t for t, p in rules.request_times if p.endswith(".html"))
        assert len(times) == 3
        assert all(b - a >= 0.95 for a, b in zip(times, times[1:], strict=False))


def test_retry_after_quiets_the_host_while_other_hosts_carry_on(kafka_bus):
    corpus = load_corpus
    limited_faults = Faults(fail_paths={"/harbourherald/": 429}, retry_after=120)
    with (
        NewsServer(corpus(), faults=limited_faults) as limited,
        NewsServer(corpus()) as healthy,
    ):
        throttled = _urls(limited, "harbourherald", 4)
        fine = _urls(healthy, "valleyclarion", 4)
        waits_before = metric("wiredesk_politeness_wait_seconds_total", kind="page")
        stage, fetcher = fetch_stage([limited.port, healthy.port], concurrency=1)
        publish(kafka_bus, LINKS, [link(u) for u in throttled + fine])
        run_stage(stage, kafka_bus, len(throttled) + len(fine))
        fetcher.close()

        letters = dead_letters(kafka_bus)
        assert sorted(letters.values()) == ["host_backoff"] * 3 + ["rate_limited"]
        assert set(letters) == set(throttled)
        # one request reached the rate-limited host; none after its 429 (Retry-After: 120)
        assert len(_article_requests(limited)) == 1
        assert {r.url for r in read_topic(kafka_bus, RAW)} == set(fine)
        # concurrency 1 per host: the healthy host's pages queued behind each other
        assert metric("wiredesk_politeness_wait_seconds_total", kind="page") > waits_before
        # every request, robots.txt included, carried our User-Agent
        assert set(limited.user_agents) == set(healthy.user_agents) == {USER_AGENT}
