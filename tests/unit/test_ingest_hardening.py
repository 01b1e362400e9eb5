"""Smaller hardening items of issue 13: control-character references cleaned before
extraction (B8), ``feed_max_items`` bounding the parse of a huge feed (X10),
``allow_private`` never admitting unspecified or metadata addresses (B9), and an OPML
import that skips bad entries with a report."""

from __future__ import annotations

import json
import time

import pytest

from ingest import normalise, registry
from ingest.addresses import refusal_reason
from ingest.extract import ExtractArticles
from ingest.feedparse import parse_feed
from ingest.feeds import entry_link
from ingest.netguard import FetchOptions, GuardedBackend
from wiredesk.app.cli import main
from wiredesk.records import Article, RawPage
from wiredesk.stage import BadInput

# -- control-character references before trafilatura ------------------------------------
PARAGRAPHS = [
    "The harbour council met on Tuesday to agree the ferry timetable for the winter months.",
    "Councillors set aside the budget{bad} for the coming winter, when storms cancel crossings.",
    "Islanders asked for an early boat on market days so that traders reach the mainland.",
    "The operator said two of its three vessels would be refitted in the spring dry dock.",
    "A public meeting on fares is planned for next month in the community hall on the quay.",
    "The harbour master warned that dredging works could delay evening sailings in March.",
]


def _page(bad: str) -> str:
    body = "".join(f"<p>{p.format(bad=bad)}</p>" for p in PARAGRAPHS)
    return (
        "<html><head><title>Ferry timetable set</title></head><body><article>"
        f"<h1>Ferry timetable set</h1>{body}</article></body></html>"
    )


BAD_CHARACTERS = [
    "&#1;",
    "&#x1F;",
    "&#31;",
    "&#x0B;",
    "&#xFFFF;",
    "&#65535;",
    "&#xFFFE;",
    "&#xD800;",
    "&#x0000000001;",
    "&#" + "9" * 5_000 + ";",
    "&#x110000;",
    "\x01",
    "\x1f",
    "\x0c",
    "\uffff",  # a raw lone surrogate cannot reach here: RawPage stores it as U+FFFD
]


@pytest.mark.parametrize("bad", BAD_CHARACTERS, ids=lambda s: repr(s[:16]))
def test_control_character_references_do_not_empty_the_page(bad):
    page = RawPage(
        article_id="a" * 64,
        url="https://news.example/ferry",
        final_url="https://news.example/ferry",
        status=200,
        content_type="text/html",
        html=_page(bad),
    )
    [article] = list(ExtractArticles(sandbox=None, min_chars=200)(page))
    assert isinstance(article, Article)
    assert "the budget for the coming winter" in article.text
    assert all(p.format(bad="")[:40] in article.text for p in PARAGRAPHS)


def test_clean_markup_keeps_text_and_allowed_references():
    html = "<p>tab&#9;nl&#10;cr&#13; amp&amp; euro&#x20AC; e&#233; bad&#1;&#xFFFF;\x02</p>"
    assert normalise.clean_markup(html) == (
        "<p>tab&#9;nl&#10;cr&#13; amp&amp; euro&#x20AC; e&#233; bad  </p>"
    )
    assert normalise.clean_markup("a\ud800b&#xdfff;c&#0;d&#x10FFFF;") == "ab c d&#x10FFFF;"
    # removing one reference or raw character must not assemble a new reference
    for nested in ("&#&#1;1;", "&#\x011;", "&&#1;#1;", "&#x&#1;1;"):
        once = normalise.clean_markup(nested)
        assert "&#1;" not in once and normalise.clean_markup(once) == once, repr(nested)


# -- a 100k-item feed is bounded before feedparser --------------------------------------
def _rss(items: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {i}</title><link>https://news.example/{i}</link>"
        f"<pubDate>Sat, 21 Nov 2026 12:00:00 GMT</pubDate></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
        f"{entries}</channel></rss>"
    ).encode()


def _atom(items: int) -> bytes:
    entries = "".join(
        f'<entry><title>Story {i}</title><link href="https://news.example/{i}"/>'
        f"<id>urn:{i}</id><updated>2026-11-21T12:00:00Z</updated></entry>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Big</title>'
        f"{entries}</feed>"
    ).encode()


@pytest.mark.parametrize("make", [_rss, _atom], ids=["rss", "atom"])
def test_a_100k_item_feed_returns_its_first_items_quickly(make):
    body = make(100_000)
    started = time.perf_counter()
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, None, max_items=500)
    took = time.perf_counter() - started
    assert took < 3.0, f"{took:.1f}s"  # feedparser on all 100k items: far longer
    assert [e.link for e in parsed.entries] == [f"https://news.example/{i}" for i in range(500)]
    assert parsed.total_entries == 100_000
    assert parsed.title == "Big"


def test_a_feed_under_the_cap_is_parsed_whole():
    parsed = parse_feed(_rss(3), {}, None, max_items=500)
    assert len(parsed.entries) == 3 and parsed.total_entries == 3 and parsed.bozo is None


# -- allow_private never admits unspecified or metadata addresses ------------------------
NEVER = {
    "0.0.0.0": "unspecified",
    "0": "unspecified",
    "00": "unspecified",
    "0x0": "unspecified",
    "::": "unspecified",
    "::0.0.0.0": "unspecified",
    "::ffff:0.0.0.0": "unspecified",
    "169.254.169.254": "metadata",
    "2852039166": "metadata",  # decimal
    "0251.0376.0251.0376": "metadata",  # octal
    "0xa9.0xfe.0xa9.0xfe": "metadata",  # hex
    "0xa9fea9fe": "metadata",
    "::ffff:169.254.169.254": "metadata",
    "::ffff:a9fe:a9fe": "metadata",
    "64:ff9b::a9fe:a9fe": "metadata",  # NAT64
    "64:ff9b::169.254.169.254": "metadata",
    "64:ff9b:1::a9fe:a9fe": "metadata",
    "2002:a9fe:a9fe::": "metadata",  # 6to4
    "fd00:ec2::254": "metadata",
    "100.100.100.200": "metadata",
    "169.254.170.2": "metadata",
    "169.254.1.1": "link_local",
    "fe80::1": "link_local",
    "64:ff9b::a9fe:101": "link_local",
    "64:ff9b::0.0.0.0": "unspecified",
}


@pytest.mark.parametrize("host", sorted(NEVER))
def test_allow_private_never_admits_unspecified_or_metadata(host):
    backend = GuardedBackend(FetchOptions(user_agent="t", allow_private=True))
    with pytest.raises(BadInput) as caught:
        backend.vet(host, 80)
    assert caught.value.reason == NEVER[host], caught.value.detail


@pytest.mark.parametrize("host", ["169.254.169.254.", "0.0.0.0.", "[::]", "0.0.0.0%eth0"])
def test_odd_spellings_are_never_connectable(host):
    backend = GuardedBackend(FetchOptions(user_agent="t", allow_private=True))
    with pytest.raises(BadInput):
        backend.vet(host, 80)


def test_allow_private_still_admits_private_and_loopback():
    backend = GuardedBackend(FetchOptions(user_agent="t", allow_private=True))
    for host in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "64:ff9b::a00:1"):
        assert backend.vet(host, 80), host
    assert refusal_reason("64:ff9b::a00:1") == "nat64"  # still refused without the allowance


# -- OPML import: good entries in, bad ones reported ------------------------------------
OPML = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Mixed</title></head><body>
<outline type="rss" text="Good" xmlUrl="https://good.example/feed.xml"/>
<outline type="rss" text="Local" xmlUrl="file:///etc/passwd"/>
<outline text="Folder">
  <outline type="rss" text="Gopher" xmlUrl="gopher://old.example/1"/>
  <outline type="rss" text="Also good" xmlUrl="http://also.example/rss" wiredeskInterval="0"/>
  <outline type="rss" text="Long" xmlUrl="https://long.example/%s"/>
  <outline type="rss" text="Fine" xmlUrl="https://fine.example/atom"/>
</outline>
</body></opml>""".replace(b"%s", b"x" * 5_000)


def test_opml_import_skips_bad_entries_and_reports_them(tmp_path):
    skipped: list[tuple[str, str]] = []
    specs = registry.read_opml(OPML, skipped)
    assert [s.url for s in specs] == ["https://good.example/feed.xml", "https://fine.example/atom"]
    assert [(url[:30], reason) for url, reason in skipped] == [
        ("file:///etc/passwd", "not an http(s) feed URL"),
        ("gopher://old.example/1", "not an http(s) feed URL"),
        ("http://also.example/rss", "interval must be at least 1 s"),
        ("https://long.example/xxxxxxxxx", "URL too long or unreadable"),
    ]
    path = tmp_path / "mixed.opml"
    path.write_bytes(OPML)
    again: list[tuple[str, str]] = []
    assert registry.read_feeds_file(path, again) == specs and again == skipped


def test_feeds_import_command_reports_the_skipped_entries(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WIREDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'reg.db'}")
    path = tmp_path / "mixed.opml"
    path.write_bytes(OPML)
    assert main(["feeds", "import", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "imported 2 feeds" in out and "skipped 4" in out
    assert "skipped file:///etc/passwd: not an http(s) feed URL" in err
    capsys.readouterr()
    assert main(["feeds", "list", "--json"]) == 0
    listed = [json.loads(line)["url"] for line in capsys.readouterr().out.splitlines()]
    assert sorted(listed) == ["https://fine.example/atom", "https://good.example/feed.xml"]


def test_one_unreadable_entry_link_skips_only_that_entry():
    """Before, ``urlsplit`` raised ValueError inside the poller's link loop for a link
    like ``http://[::1`` and the whole feed failed with ``error``."""
    base = "https://feed.example/rss"
    assert entry_link(base, "http://[::1/story") is None
    assert entry_link(base, "http://a.example:99999/story") is None
    assert entry_link(base, "file:///etc/passwd") is None
    assert entry_link(base, "/story?utm_source=x#top") == "https://feed.example/story"
    assert entry_link(base, "http://user:pw@A.example/x") == "http://a.example/x"
