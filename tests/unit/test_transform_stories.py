"""Stories and the whole enrich stage (real NER) on the demo corpus and on the seeds."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from tests.conftest import metric
from tests.transform_support import demo_articles, seed_articles
from transform.enrich import EnrichArticles, EnrichOptions
from transform.scoring import bcubed, pairwise
from wiredesk.records import EnrichedArticle

SEED_ENTITIES = {
    "vyacheslav-gladkov",
    "belgorod",
    "graivoron",
    "bakhmut",
    "russian-volunteer-corps",
    "freedom-of-russia-legion",
    "volodymyr-zelensky",
}


@pytest.fixture(scope="module")
def stage_factory():
    shared: dict[str, EnrichArticles] = {}

    def make(engine, **options):
        stage = EnrichArticles(engine, EnrichOptions(**options))
        if "tagger" in shared:  # one model load for the module
            stage._tagger = shared["tagger"]._tagger
        shared["tagger"] = stage
        return stage

    return make


def _enrich(stage, records) -> dict[str, EnrichedArticle]:
    out = {}
    for rec in records:
        (enriched,) = stage(rec)
        out[rec.article_id] = enriched
    return out


def test_demo_stories_group_write_ups_and_copies_follow_their_canonical(
    sqlite_engine, stage_factory
):
    items = demo_articles()
    out = _enrich(stage_factory(sqlite_engine), [a for a, _, _ in items])
    gold = {a.article_id: story for a, _, story in items}
    predicted = {i: e.story_id for i, e in out.items()}
    for rec, wire_of, _ in items:
        if wire_of:
            assert predicted[rec.article_id] == predicted[wire_of]
    members = defaultdict(set)
    for i, story in predicted.items():
        members[story].add(gold[i])
    assert all(len(labels) == 1 for labels in members.values()), members  # no event mixed
    assert bcubed(gold, predicted).recall >= 0.75
    assert pairwise(gold, predicted).precision == 1.0
    assert len(set(predicted.values())) < len(items) - 9  # more than the copies were grouped


def test_late_write_ups_join_within_the_time_window_and_not_after_it(sqlite_engine, stage_factory):
    by_id = {a.url.rsplit("/", 1)[1]: a for a, _, _ in demo_articles()}
    # three write-ups of one election by three outlets (none a copy of another)
    opening, analysis, valley = by_id["np-0004"], by_id["hh-0004"], by_id["vc-0004"]
    much_later = analysis.model_copy(
        update={"published_at": opening.published_at + timedelta(days=10)}
    )
    stage = stage_factory(sqlite_engine, story_window=timedelta(hours=72))
    first = _enrich(stage, [opening])[opening.article_id]
    outside = _enrich(stage, [much_later])[much_later.article_id]
    joined = _enrich(stage, [valley])[valley.article_id]  # hours later, other outlet
    assert outside.duplicate_of is None and joined.duplicate_of is None
    assert outside.story_id != first.story_id
    assert joined.story_id == first.story_id


def _tagged() -> float:
    return sum(
        metric("wiredesk_transform_entity_source_total", source=s) for s in ("model", "recent_text")
    )


def test_seeds_are_five_canonical_articles_in_one_story_and_copies_are_flagged(
    sqlite_engine, stage_factory
):
    seeds, copies = seed_articles()
    tagged_before = _tagged()
    records = sorted([*seeds, *(c for c, _ in copies)], key=lambda a: a.published_at)
    out = _enrich(stage_factory(sqlite_engine), records)
    assert [out[s.article_id].duplicate_of for s in seeds] == [None] * 5
    assert len({out[s.article_id].story_id for s in seeds}) == 1
    for copy, original in copies:
        assert out[copy.article_id].duplicate_of == original.article_id
        assert out[copy.article_id].story_id == out[original.article_id].story_id
    # every article's own entities (order-independent): by the model, or for a verbatim
    # copy the entities its exact text got moments ago
    assert _tagged() - tagged_before == len(records)

    ids = Counter(e.canonical_id for s in seeds for e in out[s.article_id].entities)
    assert set(ids) >= SEED_ENTITIES
    surfaces = defaultdict(set)
    for s in seeds:
        for e in out[s.article_id].entities:
            assert s.text[e.start : e.end] == e.surface
            surfaces[e.canonical_id].add(e.surface)
    assert {"Bakhmut", "Bahmut", "Bachmut"} <= surfaces["bakhmut"]
    assert {"Graivoron", "Grayvoron"} <= surfaces["graivoron"]
    zelensky = {s.removeprefix("Volodymyr ") for s in surfaces["volodymyr-zelensky"]}
    assert {"Zelensky", "Zelenskyy", "Zelenskiy"} <= zelensky
    assert {"Liberty of Russia Legion", "Freedom of Russia Legion"} <= surfaces[
        "freedom-of-russia-legion"
    ]
    for copy, _ in copies:
        for e in out[copy.article_id].entities:
            assert copy.text[e.start : e.end] == e.surface
