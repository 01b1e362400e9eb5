"""Property-based fuzzing of the ingest parsers (issue 13, item 7) with Hypothesis.

Properties, over generated hostile input:

* feeds (XML through the sandboxed feedparser, JSON Feed in-process): a ``ParsedFeed``
  with at most ``max_items`` entries of plain strings, or ``FeedRejected``; nothing else;
* the page path before trafilatura (``decode_html``, ``clean_markup``, ``page_language``,
  the normaliser): never raises, bounded output, no character XML forbids survives, and
  cleaning is idempotent;
* URLs (``canonical_url``, ``clean_url``, a feed entry's link): only ``ValueError`` from
  ``canonical_url`` (callers catch it per entry), and canonicalisation is idempotent.

Bounded and reproducible in CI: ``derandomize=True``, no example database, and
``max_examples`` per test from ``WIREDESK_FUZZ_EXAMPLES`` (default 60: the module takes
about 20 s here). Run longer locally with e.g. ``WIREDESK_FUZZ_EXAMPLES=5000``.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import string
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import normalise, schedule
from ingest.extract import ExtractArticles, content_hash, page_language
from ingest.feedparse import FeedRejected, ParsedFeed, bound_items, parse_feed, parse_json_feed
from ingest.feeds import entry_link
from ingest.http import Response
from ingest.pages import check_html, decode_html
from ingest.politeness import retry_after_seconds
from ingest.sandbox import Sandbox
from ingest.urls import canonical_url
from wiredesk.records import Article, RawPage
from wiredesk.stage import BadInput

EXAMPLES = int(os.environ.get("WIREDESK_FUZZ_EXAMPLES", "60"))
settings.register_profile(
    "wiredesk-fuzz",
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("wiredesk-fuzz")
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_ITEMS = 5

# -- building blocks of hostile markup --------------------------------------------------
PIECES = [
    "<rss version='2.0'>",
    "<channel>",
    "</channel>",
    "</rss>",
    "<item>",
    "</item>",
    "<entry>",
    "</entry>",
    "<feed xmlns='http://www.w3.org/2005/Atom'>",
    "</feed>",
    "<title>",
    "</title>",
    "<link>",
    "</link>",
    "<link href='",
    "'/>",
    "<guid>",
    "</guid>",
    "<pubDate>",
    "</pubDate>",
    "<updated>",
    "<ttl>",
    "</ttl>",
    "<author>a@",
    "a.",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<!DOCTYPE rss>",
    "<!ENTITY x 'y'>",
    "&x;",
    "&amp;",
    "&#1;",
    "&#xFFFF;",
    "&#xD800;",
    "&#x110000;",
    "&#99999999999;",
    "&#",
    ";",
    "<",
    ">",
    "http://",
    "https://a.example/",
    "//b.example/x",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://[::1",
    "http://u:p@h/",
    "Sat, 21 Nov 2026 12:00:00 GMT",
    "0001-01-01",
    "9999",
    "<html lang='",
    "<meta charset='",
    "<meta property='og:locale' content='",
    "en",
    "'>",
    "\x00",
    "\x01",
    "\ufffe",
    "\u0663",
    " ",
    "\n",
    "\t",
]
markup = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=60).map(
    "".join
)
encodings = st.sampled_from(["utf-8", "utf-16", "latin-1", "shift_jis", "cp1252"])
raw_bytes = st.one_of(
    st.binary(max_size=2_000),
    st.tuples(markup, encodings).map(lambda p: p[0].encode(p[1], "replace")),
    markup.map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, timeout_s=5, memory_mb=1024) as box:
        yield box


def _check_feed(parsed: object) -> None:
    assert isinstance(parsed, ParsedFeed)
    assert len(parsed.entries) <= MAX_ITEMS
    assert parsed.total_entries >= len(parsed.entries)
    for entry in parsed.entries:
        for value in (entry.link, entry.title, entry.id):
            assert value is None or isinstance(value, str)


# -- feeds ----------------------------------------------------------------------------
@FUZZ
@given(body=raw_bytes, content_type=st.sampled_from(["application/rss+xml", "text/xml", ""]))
def test_feed_parser_returns_a_bounded_feed_or_rejects(sandbox, body, content_type):
    try:
        parsed = parse_feed(body, {"content-type": content_type}, sandbox, MAX_ITEMS, 5.0)
    except FeedRejected as exc:
        assert exc.reason and len(exc.reason) < 40
    else:
        _check_feed(parsed)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.sampled_from(PIECES),
    ),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
DATES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-21T12:00:00Z"]
json_items = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": json_values,
            "url": json_values,
            "external_url": json_values,
            "title": json_values,
            "date_published": st.one_of(
                json_values,
                st.sampled_from(
                    [
                        "0001-01-01T00:00:00+14:00",
                        "9999-12-31T23:59:59-14:00",
                        "2026-11-21T12:00:00Z",
                    ]
                ),
            ),
        },
    ),
    max_size=10,
)


@FUZZ
@given(items=json_items, extra=json_values, huge=st.integers(0, 6_000))
def test_json_feed_parser_returns_a_bounded_feed_or_rejects(items, extra, huge):
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": items, "x": extra}
    text = json.dumps(doc)
    if huge:  # a number longer than Python's int str-conversion limit
        text = text.replace('"x": ', '"n": ' + "9" * huge + ', "x": ', 1)
    try:
        parsed = parse_json_feed(text.encode(), MAX_ITEMS)
    except FeedRejected:
        return
    _check_feed(parsed)


@FUZZ
@given(body=raw_bytes, max_items=st.integers(1, 10))
def test_item_bound_never_grows_the_feed_much(body, max_items):
    cut, total = bound_items(body, max_items)
    assert len(cut) <= len(body) + len(b"</channel></rss>") and total >= 0


# -- the page path before trafilatura ---------------------------------------------------
@FUZZ
@given(body=raw_bytes, content_type=st.sampled_from(["text/html", "text/html; charset=x", ""]))
def test_page_decoding_and_cleaning_never_fail(body, content_type):
    html = decode_html(body, content_type)
    assert isinstance(html, str)
    cleaned = normalise.clean_markup(html)
    assert not FORBIDDEN.search(cleaned)
    assert normalise.clean_markup(cleaned) == cleaned
    assert len(cleaned) <= len(html)
    language = page_language(cleaned)
    assert language is None or (2 <= len(language) <= 3 and language.isascii())
    content_hash(cleaned)


ARTICLE = "".join(
    f"<p>Paragraph {i} of a page about the harbour, the ferries and the winter storms.</p>"
    for i in range(5)
)


@FUZZ
@given(head=markup, middle=markup, status=st.sampled_from([200, 200, 404]), body=raw_bytes)
def test_extractor_yields_an_article_or_bad_input(sandbox, head, middle, status, body):
    """The whole extract stage on hostile HTML: an Article or BadInput, nothing else."""
    html = f"<html><head>{head}</head><body>{ARTICLE[:200]}{middle}{ARTICLE}</body></html>"
    page = RawPage(
        article_id="f" * 64,
        url="https://news.example/x",
        final_url="https://news.example/x",
        status=200,
        content_type="text/html",
        html=html,
    )
    try:
        out = list(ExtractArticles(sandbox, min_chars=100)(page))
    except BadInput as exc:
        assert exc.reason
    else:
        assert len(out) == 1 and isinstance(out[0], Article)
        assert not FORBIDDEN.search(out[0].text) and out[0].text.strip()
    resp = Response("https://news.example/x", status, {"content-type": head[:40]}, body)
    try:
        assert check_html("https://news.example/x", resp)
    except BadInput as exc:
        assert exc.reason


@FUZZ
@given(text=st.one_of(markup, st.text()))
def test_markup_cleaning_is_idempotent_on_any_text(text):
    cleaned = normalise.clean_markup(text)
    assert not FORBIDDEN.search(cleaned)
    assert normalise.clean_markup(cleaned) == cleaned
    assert page_language(text) is None or page_language(text).isalpha()


@FUZZ
@given(text=st.one_of(markup, st.text()), limit=st.integers(0, 200))
def test_normaliser_bounds_its_output(text, limit):
    cleaned = normalise.clean(text, limit, one_line=True)
    assert cleaned is not None and len(cleaned) <= limit
    assert "\x00" not in cleaned and not FORBIDDEN.search(cleaned)
    title = normalise.clean_title(text)
    assert title is None or (0 < len(title) <= normalise.TITLE_MAX and "\n" not in title)
    capped, _ = normalise.cap_text(text, 50)
    assert len(capped.encode("utf-8", "surrogatepass")) <= 50


# -- URLs -------------------------------------------------------------------------------
url_text = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "http://",
                    "https://",
                    "HTTP://",
                    "ftp://",
                    "//",
                    "[",
                    "]",
                    "::1",
                    ":",
                    "@",
                    "u:p@",
                    "a.example",
                    "A.EXAMPLE.",
                    "xn--",
                    "\u00e4",
                    ":80",
                    ":443",
                    ":99999",
                    ":x",
                    "/",
                    "?",
                    "&",
                    "=",
                    "#",
                    "%",
                    "%zz",
                    "%41",
                    "utm_source=x",
                    "fbclid=1",
                    "a=b",
                    " ",
                    "\t",
                    "\x00",
                    "..",
                    "+",
                ]
            ),
            st.text(alphabet=string.printable, max_size=6),
        ),
        max_size=20,
    ).map("".join),
)


@FUZZ
@given(url=url_text)
def test_canonical_url_is_idempotent_or_a_value_error(url):
    try:
        once = canonical_url(url)
    except ValueError:
        return
    assert canonical_url(once) == once
    assert "#" not in once
    assert urlsplit(once).username is None  # credentials never survive


@FUZZ
@given(url=url_text)
def test_clean_url_is_bounded_and_one_line(url):
    cleaned = normalise.clean_url(url)
    assert cleaned is None or (
        0 < len(cleaned) <= normalise.URL_MAX and not re.search(r"\s", cleaned)
    )


@FUZZ
@given(base=url_text, href=st.one_of(st.none(), url_text))
def test_entry_link_never_raises(base, href):
    link = entry_link(base or "https://feed.example/rss", href)
    if link is not None:
        assert link.startswith(("http://", "https://"))
        assert canonical_url(link) == link


# -- untrusted numbers -------------------------------------------------------------------
number_text = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.floats().map(str),
    st.text(alphabet='0123456789\u0663\u00b2 .-+eE,="max-age', max_size=60),
    st.integers(0, 6_000).map(lambda n: "9" * n),
)


@FUZZ
@given(value=st.one_of(st.none(), number_text), failures=st.integers(-5, 10**40))
def test_untrusted_numbers_are_always_bounded(value, failures):
    hold = retry_after_seconds(value, 1_795_000_000.0)
    assert math.isfinite(hold) and 0 <= hold <= schedule.MAX_HOLD_S
    age = schedule.max_age(None if value is None else f"public, max-age={value}")
    assert age is None or (math.isfinite(age) and 0 <= age <= schedule.MAX_HOLD_S)
    ttl = schedule.ttl_seconds(value)
    assert ttl is None or (math.isfinite(ttl) and 0 < ttl <= schedule.MAX_HOLD_S)
    policy = schedule.PollPolicy()
    delay = schedule.delay_after_failure(policy, failures, random.Random(0), ttl)
    assert math.isfinite(delay) and 0 <= delay <= max(policy.max_backoff_s, schedule.MAX_HOLD_S)
