"""Issue 17: a feed's unchanged items are not parsed again; its entries stay the same."""

from __future__ import annotations

import random

import pytest

from ingest import sandbox_tasks
from ingest.feeditems import ItemCache, parse_changed, split_items
from ingest.feedparse import parse_feed
from tests.conftest import metric

RSS = {"content-type": "application/rss+xml"}
ATOM = {"content-type": "application/atom+xml"}


def rss_item(n: int, title: str = "") -> str:
    return (
        f"<item><title>{title or f'Story {n}'}</title><link>http://news.example/{n}</link>"
        f"<guid>n{n}</guid><pubDate>Tue, 01 Dec 2026 {n % 24:02d}:00:00 GMT</pubDate>"
        f"<description>About story {n} &amp; more.</description></item>\n"
    )


def rss(items: list[str], built: int = 0, base: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{base}><channel>'
        f"<title>Wire</title><ttl>5</ttl><lastBuildDate>Tue, 01 Dec 2026 10:{built % 60:02d}"
        f":00 GMT</lastBuildDate>\n{''.join(items)}</channel></rss>\n"
    ).encode()


def atom(ids: list[int]) -> bytes:
    entries = "".join(
        f'<entry><title>E{n}</title><link href="http://atom.example/{n}"/><id>urn:{n}</id>'
        f"<updated>2026-12-01T{n % 24:02d}:00:00Z</updated></entry>\n"
        for n in ids
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        f"<updated>2026-12-01T10:00:00Z</updated>{entries}</feed>"
    ).encode()


class CountingParse:
    """feedparser as the poller calls it, noting how many items each call was given."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers, self.items_seen = headers, []

    def __call__(self, body: bytes) -> dict:
        self.items_seen.append(body.count(b"</item>") + body.count(b"</entry>"))
        return sandbox_tasks.parse_feed(body, self.headers, 1000)


def entries(body: bytes, headers: dict[str, str], cache: ItemCache | None = None) -> list:
    parsed = parse_feed(body, headers, None, 1000, items=cache, feed="f1")
    return [(e.link, e.title, e.id, e.published, e.updated, e.summary) for e in parsed.entries]


def test_a_poll_parses_only_the_new_and_changed_items_and_gives_the_same_entries():
    cache = ItemCache()
    parse = CountingParse(RSS)
    first = [rss_item(n) for n in range(50, 0, -1)]
    parse_changed(rss(first), RSS, parse, cache, "f1")
    # two new items on top, the two oldest gone, one edited, the build date moved on
    second = [rss_item(52), rss_item(51), *first[:47]]
    second[10] = rss_item(41, "Story 41, updated")
    reused = metric("wiredesk_feed_items_parsed_total", how="reused")
    data = parse_changed(rss(second, built=7), RSS, parse, cache, "f1")
    assert parse.items_seen == [50, 3]
    assert metric("wiredesk_feed_items_parsed_total", how="reused") - reused == 46
    full = sandbox_tasks.parse_feed(rss(second, built=7), RSS, 1000)
    assert data["entries"] == full["entries"] and data["title"] == full["title"] == "Wire"
    assert data["entries"][10]["title"] == "Story 41, updated"
    assert data["total_entries"] == 49 and data["ttl"] == "5"


def test_random_edits_of_rss_and_atom_feeds_give_what_a_whole_parse_gives():
    rng = random.Random(17)
    for kind, headers in (("rss", RSS), ("atom", ATOM)):
        cache, ids, edits = ItemCache(), list(range(30, 0, -1)), {}
        for round_ in range(25):
            ids = [*range(100 + 3 * round_, 100 + 3 * round_ + rng.randint(0, 3)), *ids]
            del ids[rng.randint(20, 40) :]
            if rng.random() < 0.5:
                edits[rng.choice(ids)] = f"edit {round_}"
            if kind == "rss":
                body = rss([rss_item(n, edits.get(n, "")) for n in ids], built=round_)
            else:
                body = atom(ids)
            assert entries(body, headers, cache) == entries(body, headers), (kind, round_)


def test_uncertain_cuts_fall_back_to_a_whole_parse_and_keep_nothing():
    tricky = rss_item(2).replace("About story 2", "<![CDATA[ends with </item> inside ]]>")
    cache = ItemCache()
    body = rss([rss_item(3), tricky, rss_item(1)])
    assert split_items(body) is None  # a piece without an item start tag
    assert entries(body, RSS, cache) == entries(body, RSS)
    assert cache.entries("f1") == {}
    utf16 = rss([rss_item(1)]).decode().replace("utf-8", "utf-16").encode("utf-16")
    assert split_items(utf16) is None


def test_a_complaint_in_the_changed_items_gets_the_whole_body_parsed():
    cache = ItemCache()
    parse = CountingParse(RSS)
    items = [rss_item(n) for n in range(5, 0, -1)]
    parse_changed(rss(items), RSS, parse, cache, "f1")
    broken = [rss_item(6).replace("</title>", "</titel>"), *items]  # not well-formed
    data = parse_changed(rss(broken), RSS, parse, cache, "f1")
    assert parse.items_seen == [5, 1, 6]  # the new item alone, then the whole feed
    assert data["bozo"] and data == sandbox_tasks.parse_feed(rss(broken), RSS, 1000)
    assert cache.entries("f1") == {}


def test_a_changed_frame_invalidates_the_items():
    cache = ItemCache()
    parse = CountingParse(RSS)
    items = [rss_item(n) for n in range(4, 0, -1)]
    parse_changed(rss(items), RSS, parse, cache, "f1")
    parse_changed(rss(items, base=' xml:base="http://other.example/"'), RSS, parse, cache, "f1")
    parse_changed(rss(items), {"content-type": "text/xml"}, parse, cache, "f1")
    parse_changed(rss(items, built=9), {"content-type": "text/xml"}, parse, cache, "f1")
    assert parse.items_seen == [4, 4, 4, 0]


@pytest.mark.parametrize("held", [3, 7])
def test_the_cache_forgets_the_least_recently_polled_feeds_beyond_its_bound(held):
    cache = ItemCache(max_entries=held)

    def keep(feed: str) -> None:
        cache.keep(feed, {feed.encode() + bytes([n]): {"link": feed} for n in range(3)})

    keep("a")
    keep("b")
    cache.entries("a")  # polled again: now b is the least recent
    keep("c")
    kept = {f for f in "abc" if cache.entries(f)}
    assert kept == ({"c"} if held == 3 else {"a", "c"})
