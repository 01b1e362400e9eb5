"""Routing of news.links by host (wiredesk.hostroute) and the gate's first-request rules."""

from __future__ import annotations

from collections import Counter

import pytest

from ingest.politeness import HostGate
from wiredesk.bus import partition_for
from wiredesk.hostroute import MAX_SHARDS, crawl_delay_share, link_key, registrable_host
from wiredesk.records import Link, url_id
from wiredesk.settings import Settings


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.News.BBC.co.uk:443/a?x=1", "bbc.co.uk"),
        ("http://img.bbc.co.uk:8080/b", "bbc.co.uk"),
        ("https://example.com./a", "example.com"),
        ("http://127.0.0.5:8800/x", "127.0.0.5"),
        ("http://[::1]:80/x", "::1"),
        ("http://localhost:8800/a", "localhost"),
        ("http://BÜCHER.de/x", "xn--bcher-kva.de"),
    ],
)
def test_registrable_host_is_one_spelling_per_site(url, host):
    assert registrable_host(url) == host
    assert link_key(url) == host


def test_a_url_without_a_host_is_keyed_by_itself():
    assert link_key("not a url") == "not a url"
    assert link_key("http://[::1") == "http://[::1"


def test_one_hosts_links_land_on_one_partition_of_any_size():
    urls = [f"https://www{i % 2}.example.com/{i}.html" for i in range(200)]
    for partitions in (3, 6, 12):
        assert len({partition_for(link_key(u), partitions, 0) for u in urls}) == 1


def test_a_split_host_has_exactly_k_stable_sub_keys():
    shards = {"example.com": 4}
    urls = [f"https://www.example.com/{i}.html" for i in range(400)]
    keys = Counter(link_key(u, shards) for u in urls)
    assert set(keys) == {f"example.com#{i}" for i in range(4)}
    assert min(keys.values()) > 60  # spread, not all on one
    assert [link_key(u, shards) for u in urls] == [link_key(u, shards) for u in urls]
    assert link_key("https://other.org/a", shards) == "other.org"
    assert crawl_delay_share("https://www.example.com/x", shards) == 4
    assert crawl_delay_share("https://other.org/x", shards) == 1
    assert link_key("https://a.example.com/x", {"example.com": 999}).startswith("example.com#")
    ks = {link_key(f"https://example.com/{i}", {"example.com": 999}) for i in range(2000)}
    assert len(ks) == MAX_SHARDS


def test_link_key_is_the_host_and_routed_links_keep_their_sub_key():
    url = "https://www.example.com/2026/a.html"
    link = Link(url=url, article_id=url_id(url))
    assert link.key() == "example.com"
    assert link.routed({"example.com": 3}).key().startswith("example.com#")
    assert b"_route" not in link.encode()  # the message itself is unchanged (news.links/1)


def test_host_shards_setting_parses_normalises_and_bounds(monkeypatch):
    monkeypatch.setenv("WIREDESK_FETCH_HOST_SHARDS", "WWW.Example.com=4, b.org=2")
    assert Settings().fetch_host_shards == {"example.com": 4, "b.org": 2}
    monkeypatch.setenv("WIREDESK_FETCH_HOST_SHARDS", '{"c.net": 3}')
    assert Settings().fetch_host_shards == {"c.net": 3}
    for bad in ("a.com=17", "a.com=0", "a.com"):
        monkeypatch.setenv("WIREDESK_FETCH_HOST_SHARDS", bad)
        with pytest.raises(ValueError):
            Settings()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_crawl_delay_learnt_from_robots_spaces_the_next_request_from_it():
    clock = _Clock()
    gate = HostGate(concurrency=2, min_delay_s=0.5, clock=clock)
    key = "http://a:80"
    with gate.slot(key, kind="robots"):  # the robots.txt request: the first contact
        pass
    gate.set_crawl_delay(key, 2.0)  # what it said
    clock.now += 1.0  # past min_delay_s, not past the Crawl-delay
    assert gate._hosts[key].next_start == pytest.approx(102.0)
    clock.now += 1.0
    with gate.slot(key):  # now allowed: 2 s after the robots.txt request
        assert gate._hosts[key].last == pytest.approx(102.0)
        clock.now += 0.7  # the page took 0.7 s
    assert gate._hosts[key].next_start == pytest.approx(104.7)  # 2 s after it ended
    gate.set_crawl_delay(key, 2.0)  # set again on every page: no drift
    assert gate._hosts[key].next_start == pytest.approx(104.7)


def test_the_poller_keys_links_by_host_and_splits_only_configured_hosts(sqlite_engine):
    from types import SimpleNamespace

    from ingest.feedparse import FeedEntry, ParsedFeed
    from ingest.feeds import FeedPoller
    from ingest.http import FetchOptions, make_client

    opts = FetchOptions(user_agent="wiredesk-test/0")
    poller = FeedPoller(sqlite_engine, make_client(opts), opts, shards={"bignews.com": 3})
    entries = [FeedEntry(f"https://www.bignews.com/{i}.html") for i in range(60)]
    entries += [FeedEntry(f"https://small.org/{i}.html?utm_source=x") for i in range(5)]
    row = SimpleNamespace(feed_id="f", url="https://www.bignews.com/feed.xml")
    parsed = ParsedFeed(title=None, entries=entries, total_entries=len(entries))
    keys = Counter(link.key() for link in poller._links(row, row.url, parsed))
    assert keys == {
        "bignews.com#0": keys["bignews.com#0"],
        "bignews.com#1": keys["bignews.com#1"],
        "bignews.com#2": keys["bignews.com#2"],
        "small.org": 5,
    }
    assert min(keys[f"bignews.com#{i}"] for i in range(3)) > 5
