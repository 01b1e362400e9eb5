"""A new version of an article in the enricher: re-fingerprinted, never a copy of its own
earlier version, its dedup group and story revised; an older version replayed changes
nothing (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.transform_support import demo_articles
from transform.enrich import EnrichArticles, EnrichOptions
from wiredesk.db.dedup_tables import DedupEntryRow
from wiredesk.records import Article, EnrichedArticle

NO_NER = EnrichOptions(ner_enabled=False)
FETCHED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _enrich(stage: EnrichArticles, record: Article) -> EnrichedArticle:
    out = next(iter(stage(record)))
    assert isinstance(out, EnrichedArticle)
    return out


def _updated(record: Article, text: str, hours: float = 0) -> Article:
    return record.model_copy(
        update={
            "text": text,
            "content_hash": str(hash(text)),
            "fetched_at": FETCHED + timedelta(hours=hours),
        }
    )


def _entry(engine, article_id: str):
    with engine.connect() as conn:
        return conn.execute(
            select(DedupEntryRow.__table__).where(DedupEntryRow.article_id == article_id)
        ).one()


def test_updates_are_revised_never_copies_of_themselves(sqlite_engine):
    items = demo_articles()
    by_title = {a.title: (a, wire_of, story) for a, wire_of, story in items}
    stage = EnrichArticles(sqlite_engine, NO_NER)
    first = {a.article_id: _enrich(stage, a) for a, _, _ in items}

    # a wire copy gets a correction paragraph: still a copy of its original, not itself
    copy, original_id, _ = next(v for t, v in by_title.items() if t.startswith("Velmar port"))
    v2 = _updated(copy, "Correction: 300 dockers, not 3,000.\n\n" + copy.text)
    out = _enrich(stage, v2)
    assert out.duplicate_of == original_id != copy.article_id
    assert out.story_id == first[original_id].story_id
    assert _entry(sqlite_engine, copy.article_id).version_fetched_at is not None

    # an independent article rewritten as a copy of another story's original joins it
    # (group and story), and the earlier original of the pair stays the canonical
    storm, _, _ = next(v for t, v in by_title.items() if t.startswith("Storm Edda batters"))
    other, _, _ = next(v for v in items if v[2] == "football-transfer" and v[1] is None)
    assert first[other.article_id].story_id != first[storm.article_id].story_id
    out = _enrich(stage, _updated(other, storm.text))
    storm_now = _entry(sqlite_engine, storm.article_id)
    if storm.published_at < other.published_at:  # the earliest member is the canonical
        assert (out.duplicate_of, storm_now.duplicate_of) == (storm.article_id, None)
    else:
        assert (out.duplicate_of, storm_now.duplicate_of) == (None, other.article_id)
    assert out.story_id == _entry(sqlite_engine, storm.article_id).story_id
    assert out.revision > first[other.article_id].revision

    # the older version replayed after the newer one: the stored verdict, state unchanged
    before = _entry(sqlite_engine, copy.article_id)
    again = _enrich(stage, _updated(copy, copy.text, hours=-1))
    assert again.duplicate_of == original_id
    after = _entry(sqlite_engine, copy.article_id)
    assert (after.content_hash, after.revision) == (before.content_hash, before.revision)
