"""Dates the enricher cannot believe are unknown, and no time arithmetic can raise."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.conftest import metric
from tests.transform_support import article
from transform.dedup import order_key
from transform.enrich import EnrichArticles, EnrichOptions
from transform.state import as_utc, untrusted_date
from transform.storysim import same_story, story_features
from wiredesk.records import EnrichedArticle

FETCHED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EXTREMES = [
    datetime.min,
    datetime.max,
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),  # before year 1 in UTC
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))),  # after 9999
    datetime(2026, 11, 21, 12, 0),  # naive
    FETCHED,
]


@pytest.mark.parametrize(
    ("published", "reason"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), "before_1990"),
        (datetime(1989, 12, 31, 23, 59, tzinfo=UTC), "before_1990"),
        (datetime(1990, 1, 1, tzinfo=UTC), None),
        (FETCHED + timedelta(hours=23), None),
        (FETCHED + timedelta(days=1, seconds=1), "future"),
        (datetime(9999, 12, 31, 23, 59, 59), "future"),  # naive: taken as UTC
        (None, None),
    ],
)
def test_publication_dates_before_1990_or_over_a_day_ahead_are_untrusted(published, reason):
    assert untrusted_date(published, FETCHED) == reason


def test_time_helpers_and_story_windows_never_raise_on_extremes_or_naive_aware_mixes():
    feats = {
        a: story_features("Port strike", "Cranes stop at Velmar port.", (), a) for a in EXTREMES
    }
    for a in EXTREMES:
        assert as_utc(a).tzinfo is not None
        assert order_key(a, a, "x") <= order_key(None, None, "x")  # known before unknown
        for b in EXTREMES:  # no OverflowError, no TypeError
            untrusted_date(a, b)
            same_story(feats[a], feats[b], 0.5, timedelta(hours=72))
    assert same_story(feats[datetime.min], feats[datetime.min], 0.5, timedelta(0))


def test_an_untrusted_date_is_unknown_on_the_record_and_kept_as_claimed(sqlite_engine):
    claimed = datetime(1, 1, 1, tzinfo=UTC)
    rec = article(
        "old", "Harbour cranes stop", "Harbour cranes stop\n\nThe cranes stopped.", claimed
    )
    before = metric("wiredesk_transform_untrusted_dates_total", reason="before_1990")
    (out,) = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=False))(rec)
    assert isinstance(out, EnrichedArticle)
    assert (out.published_at, out.published_at_claimed) == (None, claimed)
    assert metric("wiredesk_transform_untrusted_dates_total", reason="before_1990") == before + 1


WORDS = [
    "harbour",
    "crane",
    "union",
    "strike",
    "port",
    "velmar",
    "terminal",
    "wage",
    "talks",
    "ministry",
    "cargo",
    "ship",
    "berth",
    "dock",
    "shift",
    "overtime",
    "container",
    "freight",
    "quay",
    "negotiator",
    "mayor",
    "council",
    "pension",
]


def test_a_story_seeded_by_a_year_1_date_does_not_poison_the_100_articles_sharing_its_keys(
    sqlite_engine,
):
    """The seed's date, and extremes in later articles, must not make anyone raise."""
    rng = random.Random(11)
    title = "Velmar port strike: cranes stand still as union walks out"

    def body(i: int) -> str:
        words = " ".join(rng.choice(WORDS) for _ in range(120))
        return f"{title}\n\nReport {i}. {words}."

    seed = article("seed", title, body(0), datetime(1, 1, 1, tzinfo=UTC))
    dates = [T for T in EXTREMES if T not in (datetime.min, datetime.max)]
    later = [
        article(f"a{i}", title, body(i), dates[i % len(dates)] if i % 10 == 0 else None)
        for i in range(1, 101)
    ]
    stage = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=False))
    enriched, newest = set(), {}
    for rec in [seed, *later]:
        for out in stage(rec):  # raises on failure: the test fails on the first one
            if isinstance(out, EnrichedArticle):
                enriched.add(out.article_id)
            if out.article_id not in newest or out.revision > newest[out.article_id].revision:
                newest[out.article_id] = out  # revisions: stories merge as articles arrive
    assert enriched == {r.article_id for r in [seed, *later]}
    assert len({r.story_id for r in newest.values()}) == 1, "one story, seed included"
