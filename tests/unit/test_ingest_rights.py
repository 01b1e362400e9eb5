"""Rights and access detection (issue 15, part 3): each signal from invented headers,
pages, robots.txt and tdmrep.json texts; absent signals; malformed and huge input."""

from __future__ import annotations

import json
import time

import pytest
from protego import Protego

from ingest import rights
from ingest.rights import (
    detect,
    header_evidence,
    html_evidence,
    location_matches,
    parse_tdmrep,
    robots_evidence,
    tdmrep_evidence,
    verdict,
)

URL = "https://gazette.example/news/2026/harbour-strike.html"
# A page of an invented outlet, with no rights markup at all.
PLAIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Harbour strike enters third day</title>
<meta name="description" content="Dock workers in Port Ellery kept the gates shut.">
<meta name="robots" content="index, follow, max-image-preview:large">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Harbour strike"}
</script>{extra}</head><body><article><p>Dock workers kept the gates shut.</p></article>
</body></html>"""


GATED = {
    "@type": "NewsArticle",
    "hasPart": [{"@type": "WebPageElement", "isAccessibleForFree": "false", "cssSelector": ".x"}],
}
TDM_META = '<meta name="tdm-reservation" content="0">'


def page(extra: str = "") -> str:
    return PLAIN.replace("{extra}", extra)


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


# -- headers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Robots-Tag": "noai"}, ["header:X-Robots-Tag: noai"]),
        (
            {"x-robots-tag": "noindex, NoAI, noimageai"},
            ["header:X-Robots-Tag: noai", "header:X-Robots-Tag: noimageai"],
        ),
        ({"X-Robots-Tag": "GPTBot: noai"}, ["header:X-Robots-Tag: noai"]),
        ({"X-Robots-Tag": "noindex, nofollow"}, []),
        ({"TDM-Reservation": "1"}, ["header:TDM-Reservation: 1"]),
        ({"tdm-reservation": " 0 "}, ["header:TDM-Reservation: 0"]),
        ({"TDM-Reservation": "yes"}, []),  # not a TDMRep value
        (
            {"TDM-Policy": "https://gazette.example/tdm-policy.json"},
            ["header:TDM-Policy: https://gazette.example/tdm-policy.json"],
        ),
        ({"Content-Type": "text/html", "Cache-Control": "max-age=60"}, []),
    ],
)
def test_header_signals(headers, expected):
    assert header_evidence(headers) == expected


def test_each_header_signal_sets_its_flag_and_nothing_else():
    assert detect({"X-Robots-Tag": "noai"}, page(), "", "[]", URL) == rights.Rights(
        None, False, True, ("header:X-Robots-Tag: noai",)
    )
    reserved = detect({"TDM-Reservation": "1"}, page(), "", "[]", URL)
    assert (reserved.paywalled, reserved.tdm_reserved, reserved.ai_opt_out) == (None, True, False)
    assert reserved.opted_out


# -- HTML --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("markup", "expected", "flags"),
    [
        (
            ld({"@type": "NewsArticle", "isAccessibleForFree": False}),
            ["jsonld:isAccessibleForFree=false"],
            (True, False, False),
        ),
        (
            ld({"@type": "NewsArticle", "isAccessibleForFree": "False"}),
            ["jsonld:isAccessibleForFree=false"],
            (True, False, False),
        ),
        (
            ld({"@type": "NewsArticle", "isAccessibleForFree": True}),
            ["jsonld:isAccessibleForFree=true"],
            (False, False, False),
        ),
        # Google's paywalled-content markup: the flag sits on a part of the page
        (
            ld({"@graph": [{"@type": "WebPage"}, GATED]}),
            ["jsonld:isAccessibleForFree=false"],
            (True, False, False),
        ),
        (
            '<meta property="article:content_tier" content="locked">',
            ["meta:article:content_tier=locked"],
            (True, False, False),
        ),
        (
            "<meta property='article:content_tier' content='Metered'>",
            ["meta:article:content_tier=metered"],
            (True, False, False),
        ),
        (
            '<meta property="article:content_tier" content="free">',
            ["meta:article:content_tier=free"],
            (False, False, False),
        ),
        (
            '<meta name="robots" content="noai, noimageai">',
            ["meta:robots noai", "meta:robots noimageai"],
            (None, False, True),
        ),
        ('<META CONTENT="noai" NAME="GPTBot">', ["meta:gptbot noai"], (None, False, True)),
        (
            '<meta name="tdm-reservation" content="1">',
            ["meta:tdm-reservation=1"],
            (None, True, False),
        ),
        (
            TDM_META + '<meta name="tdm-policy" content="https://p.example/x">',
            ["meta:tdm-reservation=0", "meta:tdm-policy https://p.example/x"],
            (None, False, False),
        ),
        ('<meta name="description" content="noai">', [], (None, False, False)),
        ("", [], (None, False, False)),
    ],
)
def test_html_signals(markup, expected, flags):
    assert html_evidence(page(markup)) == expected
    found = verdict(html_evidence(page(markup)))
    assert (found.paywalled, found.tdm_reserved, found.ai_opt_out) == flags


@pytest.mark.parametrize(
    "block",
    [
        '{"isAccessibleForFree": false',  # cut short
        "{'isAccessibleForFree': false}",  # not JSON
        '{"isAccessibleForFree": "maybe"}',  # not a boolean
        '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nesting past the recursion limit
        '{"isAccessibleForFree": false, "n": ' + "9" * 50_000 + "}",  # a huge integer
        "",
    ],
    ids=["truncated", "single-quotes", "not-boolean", "deep", "huge-int", "empty"],
)
def test_malformed_json_ld_gives_no_evidence_and_no_exception(block):
    markup = f'<script type="application/ld+json">{block}</script>'
    assert html_evidence(page(markup)) == []


def test_json_ld_deeper_than_the_walk_bound_is_not_followed():
    deep: dict = {"isAccessibleForFree": False}
    for _ in range(rights.MAX_JSON_DEPTH + 5):
        deep = {"child": deep}
    assert html_evidence(page(ld(deep))) == []
    shallow: dict = {"isAccessibleForFree": False}
    for _ in range(3):
        shallow = {"child": shallow}
    assert html_evidence(page(ld(shallow))) == ["jsonld:isAccessibleForFree=false"]


def test_huge_and_hostile_pages_are_bounded():
    hostile = [
        '<script type="application/ld+json">' * 200_000,  # unclosed, repeated
        "<meta " * 500_000,  # unclosed tags
        "<meta " + 'name="robots" ' * 300_000 + 'content="noai">',  # one giant tag
        "<p>" + "x" * 5_000_000,  # plain and big
    ]
    for html in hostile:
        started = time.process_time()
        assert html_evidence(html) == []
        assert time.process_time() - started < 2.0
    # markup past the scanned prefix is not read: the bound is the documented one
    late = "<p>" + " " * rights.HTML_SCAN_BYTES + ld({"isAccessibleForFree": False})
    assert html_evidence(late) == []
    many = ld({"isAccessibleForFree": True}) * 1000 + ld({"isAccessibleForFree": False})
    assert html_evidence(many) == ["jsonld:isAccessibleForFree=true"] * rights.MAX_JSONLD_BLOCKS


# -- robots.txt --------------------------------------------------------------------------
ROBOTS = """User-agent: *
Allow: /

User-agent: GPTBot
Disallow: /

User-agent: CCBot
Disallow: /news/

User-agent: Google-Extended
Disallow: /opinion/
"""


def test_robots_ai_crawler_rules_are_per_url():
    parsed = Protego.parse(ROBOTS)
    assert robots_evidence(parsed, URL) == ["robots:GPTBot disallow", "robots:CCBot disallow"]
    opinion = "https://gazette.example/opinion/column.html"
    assert robots_evidence(parsed, opinion) == [
        "robots:GPTBot disallow",
        "robots:Google-Extended disallow",
    ]
    assert verdict(robots_evidence(parsed, URL)).ai_opt_out is True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "User-agent: *\nAllow: /\n",
        "User-agent: *\nDisallow: /private/\n",  # applies to everyone, not to this URL
        "User-agent: wiredesk\nDisallow: /\n",  # us, not an AI crawler
        "\x00\xff garbage\nDisallow /\n::::\n",
    ],
)
def test_robots_without_ai_rules_for_the_url(text):
    evidence = robots_evidence(Protego.parse(text), URL)
    assert evidence == []
    assert verdict(evidence).ai_opt_out is False


def test_robots_not_read_is_unknown():
    assert robots_evidence(None, URL) == ["robots:unknown"]
    assert verdict(["robots:unknown"]).ai_opt_out is None


# -- tdmrep.json -------------------------------------------------------------------------
TDMREP = json.dumps(
    [
        {"location": "/news/*/free-*", "tdm-reservation": 0},
        {
            "location": "/news/*",
            "tdm-reservation": 1,
            "tdm-policy": "https://gazette.example/tdm.json",
        },
        {"location": "/", "tdm-reservation": "0"},
    ]
)


def test_tdmrep_first_matching_rule_applies():
    rules = parse_tdmrep(TDMREP)
    assert rules is not None and len(rules) == 3
    assert tdmrep_evidence(rules, URL) == [
        "tdmrep:/news/* tdm-reservation=1",
        "tdmrep:tdm-policy https://gazette.example/tdm.json",
    ]
    free = "https://gazette.example/news/2026/free-sample.html"
    assert tdmrep_evidence(rules, free) == ["tdmrep:/news/*/free-* tdm-reservation=0"]
    assert tdmrep_evidence(rules, "https://gazette.example/about") == ["tdmrep:/ tdm-reservation=0"]
    assert verdict(tdmrep_evidence(rules, URL)).tdm_reserved is True
    assert verdict(tdmrep_evidence(rules, free)).tdm_reserved is False


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"location": "/", "tdm-reservation": 1}',  # an object, not a list
        "[" * 50_000 + "]" * 50_000,
        json.dumps([{"location": "/", "tdm-reservation": 1}] * 2_000),  # over 64 KiB
        b"\xff\xfe\x00[",
    ],
    ids=["broken", "object", "deep", "too-big", "bytes"],
)
def test_unreadable_tdmrep_is_unknown(text):
    assert parse_tdmrep(text) is None
    assert tdmrep_evidence(None, URL) == ["tdmrep:unknown"]
    assert verdict(["tdmrep:unknown"]).tdm_reserved is None


def test_tdmrep_rules_of_the_wrong_shape_are_ignored():
    text = json.dumps(
        [
            "/news/*",
            {"location": "/news/*", "tdm-reservation": True},  # a bool is not 1
            {"location": "/news/*", "tdm-reservation": 2},
            {"location": 5, "tdm-reservation": 1},
            {"tdm-reservation": 1},
        ]
    )
    assert parse_tdmrep(text) == []
    assert tdmrep_evidence([], URL) == []  # a file without a rule for the page: not reserved
    assert verdict([]).tdm_reserved is False


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/", "/anything", True),
        ("/news/", "/news/a.html", True),
        ("/news/", "/sport/a.html", False),
        ("/news/*.html", "/news/2026/a.html", True),
        ("/news/*.html$", "/news/2026/a.html?x=1", False),
        ("/news/*.html$", "/news/2026/a.html", True),
        ("/a$", "/a", True),
        ("/a$", "/ab", False),
        ("*", "/x", True),
        ("/*/b/*/d", "/a/b/c/d", True),
        ("/*/b/*/d", "/a/c/b/d", False),
        ("/x*y*z", "/x" + "y" * 3000, False),
    ],
)
def test_location_patterns(pattern, path, matches):
    assert location_matches(pattern, path) is matches


def test_location_matching_is_linear_on_hostile_patterns():
    started = time.process_time()
    rules = [rights.TdmRule("/" + "*a" * 250, 1, None)] * rights.TDMREP_MAX_RULES
    assert tdmrep_evidence(rules, "https://h.example/" + "a" * 4000 + "b") == [
        f"tdmrep:{('/' + '*a' * 250)[:80]} tdm-reservation=1"
    ]
    assert tdmrep_evidence(rules, "https://h.example/" + "b" * 4000) == []
    assert time.process_time() - started < 2.0


# -- evidence -> flags -------------------------------------------------------------------
def test_nothing_known_and_nothing_said():
    assert detect({}, page(), None, None, URL) == rights.Rights(
        None, None, None, ("robots:unknown", "tdmrep:unknown")
    )
    assert detect({}, page(), "", "[]", URL) == rights.Rights(None, False, False, ())


def test_a_reservation_anywhere_wins_and_explicit_statements_beat_unknown():
    said = verdict(["header:TDM-Reservation: 0", "tdmrep:/news/* tdm-reservation=1"])
    assert said.tdm_reserved is True
    assert verdict(["header:TDM-Reservation: 0", "tdmrep:unknown"]).tdm_reserved is False
    both = verdict(["jsonld:isAccessibleForFree=true", "meta:article:content_tier=locked"])
    assert both.paywalled is True
    assert verdict(["robots:unknown", "meta:robots noai"]).ai_opt_out is True


def test_informative_evidence_sets_no_flag():
    # a policy URL that happens to end like a directive or a reservation is not one
    found = verdict(
        [
            "header:TDM-Policy: https://p.example/noai",
            "meta:tdm-policy https://p.example/tdm-reservation=1",
            "tdmrep:tdm-policy https://p.example/x",
        ]
    )
    assert (found.paywalled, found.tdm_reserved, found.ai_opt_out) == (None, False, False)


def test_evidence_is_deduplicated_capped_and_printable():
    found = verdict(["meta:robots noai"] * 5 + [f"x:{i}\x00\n" + "y" * 500 for i in range(100)])
    assert found.evidence[0] == "meta:robots noai"
    assert len(found.evidence) == rights.MAX_EVIDENCE
    assert all(len(e) <= rights.EVIDENCE_CHARS and e.isprintable() for e in found.evidence)


def test_everything_at_once():
    found = detect(
        {"X-Robots-Tag": "noai", "TDM-Reservation": "1"},
        page(ld({"isAccessibleForFree": False})),
        ROBOTS,
        TDMREP,
        URL,
    )
    assert (found.paywalled, found.tdm_reserved, found.ai_opt_out) == (True, True, True)
    assert found.evidence == (
        "header:X-Robots-Tag: noai",
        "header:TDM-Reservation: 1",
        "robots:GPTBot disallow",
        "robots:CCBot disallow",
        "tdmrep:/news/* tdm-reservation=1",
        "tdmrep:tdm-policy https://gazette.example/tdm.json",
        "jsonld:isAccessibleForFree=false",
    )
