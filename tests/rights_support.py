"""The invented rights fixtures both rights pipeline tests serve (embedded and Kafka): the
demo corpus with a response header, a robots.txt AI-crawler rule, a tdmrep.json and page
markup per outlet or page, and the flags each article must end up with."""

from __future__ import annotations

import json

from devserver.server import load_corpus

CORPUS = load_corpus()
PAYWALL_LD = (
    '<script type="application/ld+json">'
    '{"@type": "NewsArticle", "isAccessibleForFree": false}</script>'
)
ROBOTS = "User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /meridianledger/\n"
TDMREP = [
    {
        "location": "/northgatepost/*",
        "tdm-reservation": 1,
        "tdm-policy": "https://policy.example/tdm",
    },
    {"location": "/", "tdm-reservation": 0},
]


def _path(article_id: str) -> str:
    return next(a.path for a in CORPUS.articles if a.id == article_id)


# One coastlinebulletin article opts out in its own markup, another is gated in its markup,
# a third says TDM-Reservation in its headers; the outlet's other pages say nothing.
CB_META, CB_LOCKED, CB_HEADER = "cb-0004", "cb-0005", "cb-0006"
FAULTS = dict(
    robots_txt=ROBOTS,
    tdmrep_json=json.dumps(TDMREP),
    page_headers={
        "/harbourherald/*": {"X-Robots-Tag": "googlebot: noindex, noai"},
        _path(CB_HEADER): {"TDM-Reservation": "1"},
    },
    page_head_markup={
        "/valleyclarion/*": PAYWALL_LD,
        _path(CB_META): '<meta name="robots" content="noai, noimageai">',
        _path(CB_LOCKED): '<meta property="article:content_tier" content="locked">',
    },
)
# article id -> (paywalled, tdm_reserved, ai_opt_out, evidence that must be there)
EXPECTED: dict[str, tuple[bool | None, bool, bool, str | None]] = {}
for a in CORPUS.articles:
    EXPECTED[a.id] = {
        "harbourherald": (None, False, True, "header:X-Robots-Tag: noai"),
        "meridianledger": (None, False, True, "robots:GPTBot disallow"),
        "northgatepost": (None, True, False, "tdmrep:/northgatepost/* tdm-reservation=1"),
        "valleyclarion": (True, False, False, "jsonld:isAccessibleForFree=false"),
        "coastlinebulletin": (None, False, False, "tdmrep:/ tdm-reservation=0"),
    }[a.site]
EXPECTED[CB_META] = (None, False, True, "meta:robots noai")
EXPECTED[CB_LOCKED] = (True, False, False, "meta:article:content_tier=locked")
EXPECTED[CB_HEADER] = (None, True, False, "header:TDM-Reservation: 1")
OPTED_OUT = {i for i, (_, tdm, ai, _) in EXPECTED.items() if tdm or ai}


def check_flags(rows: dict) -> None:
    """Each stored row (article id -> row, None when not stored) has its expected flags."""
    for article_id, row in rows.items():
        if row is None:
            continue
        paywalled, tdm, ai, evidence = EXPECTED[article_id]
        assert (row.paywalled, row.tdm_reserved, row.ai_opt_out) == (paywalled, tdm, ai), (
            article_id,
            row.rights_evidence,
        )
        assert evidence in row.rights_evidence, (article_id, row.rights_evidence)
