"""Transform state on the real PostgreSQL: copies decided at the same moment by different
connections (as by different workers) still find each other, and so do write-ups of one
story; the state's size per article is bounded. (Migrations against the models on
PostgreSQL: tests/integration/test_sink_postgres_schema.py covers every table.)"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.transform_support import article, demo_articles, seed_articles
from transform.dedup import DedupIndex, fingerprint
from transform.state import stats
from transform.stories import StoryIndex, story_id_for
from transform.storysim import story_features
from transform.wirecopy import DevArticle, wire_copy
from wiredesk import db
from wiredesk.db.dedup_tables import DedupEntryRow
from wiredesk.records import Article

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(pg_url):
    engine = db.make_engine(pg_url, pool_size=8)
    yield engine
    engine.dispose()


def _at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls in threads released by one barrier, so they race for real."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _clique_of_copies(index: DedupIndex, original: Article, seed: int) -> list[Article] | None:
    """The original and 5 invented copies, if every pair is verified similar.

    With a clique every decision links to every earlier one, so a second group can only
    come from two decisions that did not see each other.
    """
    dev = DevArticle(original.article_id, original.title, original.text, original.published_at)
    copies = [original] + [
        _article(wire_copy(dev, seed=seed, copy_no=k), f"{seed}-{k}") for k in range(1, 6)
    ]
    fps = [fingerprint(a.title, a.text) for a in copies]
    rows = [SimpleNamespace(**vars(fp)) for fp in fps]
    for i, j in itertools.combinations(range(len(copies)), 2):
        if index.similarity(fps[i], rows[j]) is None or not set(fps[i].bands) & set(fps[j].bands):
            return None
    return copies


def _stored(engine, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                DedupEntryRow.article_id, DedupEntryRow.duplicate_of, DedupEntryRow.story_id
            ).where(DedupEntryRow.article_id.in_(ids))
        ).all()
    return {r.article_id: (r.duplicate_of, r.story_id) for r in rows}


def test_copies_decided_at_the_same_moment_end_in_one_group_under_the_earliest(engine):
    index = DedupIndex(engine)
    originals = [a for a, wire_of, _ in demo_articles() if wire_of is None]
    groups = [g for n, a in enumerate(originals) if (g := _clique_of_copies(index, a, n))]
    assert len(groups) >= 8
    for copies in groups[:8]:
        _at_once(
            [
                lambda a=a: index.decide(a.article_id, fingerprint(a.title, a.text), None)
                for a in copies
            ]
        )
        ids = [a.article_id for a in copies]
        earliest = min(ids)  # no dates: the smallest id is the canonical
        stored = _stored(engine, ids)
        assert {i: d for i, (d, _) in stored.items()} == {
            i: (None if i == earliest else earliest) for i in ids
        }


def test_write_ups_of_one_story_decided_at_the_same_moment_share_it(engine):
    seeds, _ = seed_articles()
    feats = {s.article_id: story_features(s.title, s.text, (), s.published_at) for s in seeds}
    for s in seeds:  # every seed needs its dedup row first
        DedupIndex(engine).decide(s.article_id, fingerprint(s.title, s.text), s.published_at)
    stories = StoryIndex(engine)
    _at_once([lambda s=s: stories.assign(s.article_id, feats[s.article_id]) for s in seeds])
    earliest = min(seeds, key=lambda s: (s.published_at, s.article_id))
    stored = _stored(engine, [s.article_id for s in seeds])
    assert {story for _, story in stored.values()} == {story_id_for(earliest.article_id)}


def test_state_bytes_per_article_are_bounded(engine):
    index = DedupIndex(engine)
    for a, _, _ in demo_articles():
        index.decide(a.article_id, fingerprint(a.title, a.text), a.published_at)
    figures = stats(engine)
    assert figures["dedup_entries.rows"] == 30
    assert figures["dedup_bands.rows"] <= 40 * 30
    assert 0 < figures["bytes_per_article"] < 64_000  # small tables: mostly page overhead


def _article(item: DevArticle, key: str) -> Article:
    return article(key, item.title, item.text, item.published, f"copy{key}")
