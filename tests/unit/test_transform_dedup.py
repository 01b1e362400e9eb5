"""Near-duplicate detection on the shared state (SQLite here; PostgreSQL in integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import metric
from tests.transform_support import article, demo_articles
from transform.dedup import DedupIndex, fingerprint
from transform.enrich import EnrichArticles, EnrichOptions
from transform.state import prune, stats
from transform.text import body_lines, normalised_hash, tokens
from wiredesk.db.dedup_tables import DedupBandRow, DedupEntryRow
from wiredesk.records import EnrichedArticle
from wiredesk.stage import BadInput

NO_NER = EnrichOptions(ner_enabled=False)


def test_normalisation_drops_headline_byline_dateline_and_boilerplate():
    text = (
        "Storm hits coast\n\nBy Ann Lee\n\nBRASK (Continental Press) - The storm hit the "
        "coast overnight.\nIt cut power to 60,000 homes.\nAdvertisement\n"
        "Sign up for our newsletter.\nFollow us on social media: pic.twitter.com/abc"
    )
    assert body_lines("Storm hits coast", text) == [
        "The storm hit the coast overnight.",
        "It cut power to 60,000 homes.",
    ]
    plain = "The storm hit the coast overnight. It cut power to 60,000 homes."
    assert normalised_hash(tokens("Storm hits coast", text)) == normalised_hash(tokens("", plain))


def test_a_text_that_is_only_its_headline_keeps_its_words():
    assert tokens("Election over", "Election over") == ["election", "over"]


def _run(stage, records):
    return {r.article_id: next(iter(stage(r))) for r in records}


def test_demo_wire_copies_are_flagged_as_copies_of_their_original(sqlite_engine):
    items = demo_articles()
    out = _run(EnrichArticles(sqlite_engine, NO_NER), [a for a, _, _ in items])
    for rec, wire_of, _ in items:
        enriched = out[rec.article_id]
        assert isinstance(enriched, EnrichedArticle)
        assert enriched.duplicate_of == wire_of, rec.title
        if wire_of:
            assert 0.6 <= (enriched.similarity or 0) <= 1.0
    assert sum(1 for _, w, _ in items if w) == 9


def test_same_event_write_ups_are_not_copies(sqlite_engine):
    items = [(a, w) for a, w, story in demo_articles() if story == "storm-edda"]
    out = _run(EnrichArticles(sqlite_engine, NO_NER), [a for a, _ in items])
    independent = [a for a, w in items if w is None]
    assert len(independent) >= 2  # the original and the other outlets' own reports
    assert all(out[a.article_id].duplicate_of is None for a in independent)


def test_exact_copy_and_copy_of_a_copy_point_at_the_earliest(sqlite_engine):
    (original, _, _), *_ = [i for i in demo_articles() if i[0].site_name == "harbourherald"]
    body = original.text.split("\n\n", 1)[1]
    same = article("same", "A new headline", f"A new headline\n\n{body}", None, "other")
    shortened = article(
        "short", "Cut", "\n\n".join(body.split("\n\n")[:3]) + "\n\nRead more: x", None, "third"
    )
    index = DedupIndex(sqlite_engine)
    t0 = datetime(2026, 5, 1, 6, 40, tzinfo=UTC)
    first = index.decide(original.article_id, fingerprint(original.title, original.text), t0)
    exact = index.decide(
        same.article_id, fingerprint(same.title, same.text), t0 + timedelta(hours=1)
    )
    near = index.decide(shortened.article_id, fingerprint(shortened.title, shortened.text), None)
    assert (first.duplicate_of, first.kind) == (None, "original")
    assert (exact.duplicate_of, exact.similarity, exact.kind) == (original.article_id, 1.0, "exact")
    assert (near.duplicate_of, near.kind) == (original.article_id, "near")


def test_a_replayed_article_gets_its_stored_verdict_without_new_state(sqlite_engine):
    items = [a for a, _, _ in demo_articles()]
    stage = EnrichArticles(sqlite_engine, NO_NER)
    first = _run(stage, items)
    with sqlite_engine.connect() as conn:
        entries = conn.scalar(select(func.count()).select_from(DedupEntryRow))
        bands = conn.scalar(select(func.count()).select_from(DedupBandRow))
    stored_before = metric("wiredesk_transform_verdicts_total", kind="stored")
    again = _run(EnrichArticles(sqlite_engine, NO_NER), list(reversed(items)))
    for article_id, enriched in first.items():
        assert again[article_id].duplicate_of == enriched.duplicate_of
        assert again[article_id].similarity == enriched.similarity
        assert again[article_id].story_id == enriched.story_id
    assert metric("wiredesk_transform_verdicts_total", kind="stored") == stored_before + len(items)
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DedupEntryRow)) == entries
        assert conn.scalar(select(func.count()).select_from(DedupBandRow)) == bands


def test_retention_prunes_old_state_and_bounds_it(sqlite_engine):
    items = [a for a, _, _ in demo_articles()]
    _run(EnrichArticles(sqlite_engine, NO_NER), items)
    before = stats(sqlite_engine)
    assert before["dedup_entries.rows"] == len(items)
    assert before["dedup_bands.rows"] <= 40 * len(items)  # bounded per article
    assert prune(sqlite_engine, timedelta(days=7))["dedup_entries"] == 0  # all recent
    later = datetime.now(UTC) + timedelta(days=8)
    counts = prune(sqlite_engine, timedelta(days=7), now=later)
    assert counts["dedup_entries"] == len(items)
    assert counts["story_article_keys"] > 0
    after = stats(sqlite_engine)
    tables = ("dedup_entries", "dedup_bands", "story_article_keys")
    assert all(after[f"{t}.rows"] == 0 for t in tables)


def test_an_article_without_words_is_bad_input_for_the_dlq(sqlite_engine):
    empty = article("empty", "", "— … !!! —", None)
    with pytest.raises(BadInput) as raised:
        list(EnrichArticles(sqlite_engine, NO_NER)(empty))
    assert raised.value.reason == "no_text"


CYRILLIC = (  # invented, like every fixture text here
    "Портовые рабочие Велмара начали забастовку в среду утром.\n\n"
    "Профсоюз заявил, что к стачке присоединились около 4200 человек, и краны в двух "
    "терминалах остановились к полудню.\n\n"
    "Администрация порта пообещала, что ни один постоянный сотрудник не будет уволен, "
    "но профсоюз считает, что около 900 рабочих мест исчезнут за несколько лет.\n\n"
    "Переговоры между сторонами должны возобновиться в пятницу в здании мэрии."
)


def test_text_in_other_scripts_is_fingerprinted_and_its_copies_found(sqlite_engine):
    original = article("ru", "Забастовка в порту", CYRILLIC, None, "ru-outlet")
    edited = CYRILLIC.replace("около 4200", "около 4,200").rsplit("\n\n", 1)[0]
    copy = article("ru-copy", "Порт остановлен", f"{edited}\n\nПодписывайтесь на рассылку", None)
    stage = EnrichArticles(sqlite_engine, NO_NER)
    out = _run(stage, [original, copy])
    assert out[original.article_id].duplicate_of is None
    assert out[copy.article_id].duplicate_of == original.article_id
