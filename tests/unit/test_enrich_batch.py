"""The enricher decides a whole batch in one transaction (``EnrichArticles.prepare``):
same outputs as one article at a time, decisions stored before any output, and a batch
whose decisions fail keeps none of them and falls back to one article at a time."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from tests.transform_support import article, demo_articles
from transform.enrich import EnrichArticles, EnrichOptions
from transform.stories import StoryIndex
from wiredesk import db as database
from wiredesk.bus.memory import MemoryBus
from wiredesk.db.dedup_tables import DedupEntryRow
from wiredesk.records import DeadLetter, EnrichedArticle
from wiredesk.runner import RunnerOptions, StageRunner
from wiredesk.stage import BadInput, Stage
from wiredesk.topics import ARTICLES, DLQ, ENRICHED

NO_NER = EnrichOptions(ner_enabled=False)


@pytest.fixture
def fresh(tmp_path_factory, tmp_path):
    blank = tmp_path_factory.mktemp("blank") / "blank.db"
    database.upgrade(f"sqlite:///{blank}")
    engines = []

    def make():
        path = tmp_path / f"run{len(engines)}.db"
        shutil.copy(blank, path)
        engines.append(database.make_engine(f"sqlite:///{path}"))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def late_first() -> list:
    """The demo articles, latest first: originals arrive after copies and revise them."""
    items = [a for a, _, _ in demo_articles()]
    return sorted(items, key=lambda a: (a.published_at, a.article_id), reverse=True)


def dumped(outputs) -> list[dict]:
    return [r.model_dump(mode="json") for r in outputs]


def test_batched_decisions_give_the_same_records_as_one_at_a_time(fresh):
    items = late_first()
    one_by_one = EnrichArticles(fresh(), NO_NER)
    expected = [out for r in items for out in one_by_one(r)]
    batched = EnrichArticles(fresh(), NO_NER)
    outputs = []
    for i in range(0, len(items), 7):
        batch = items[i : i + 7]
        batched.prepare(batch)
        outputs += [out for r in batch for out in batched(r)]
    assert any(not isinstance(r, EnrichedArticle) for r in expected)  # revisions too
    assert dumped(outputs) == dumped(expected)


def test_the_batch_is_decided_and_committed_before_any_record_is_processed(fresh):
    engine = fresh()
    items = late_first()[:6]
    stage = EnrichArticles(engine, NO_NER)
    stage.prepare(items)
    with engine.connect() as conn:  # another connection: committed
        stored = conn.scalar(select(func.count()).where(DedupEntryRow.story_id.is_not(None)))
    assert stored == len(items)


class _FailsFor(StoryIndex):
    """A story index with a bug that one article triggers."""

    def __init__(self, engine, article_id: str) -> None:
        super().__init__(engine)
        self.bad = article_id

    def assign_in(self, conn, article_id, feats, revise=False):
        if article_id == self.bad:
            raise RuntimeError("a bug this article triggers")
        return super().assign_in(conn, article_id, feats, revise)


def test_a_failing_decision_keeps_nothing_of_the_batch_and_the_rest_go_through(fresh):
    engine = fresh()
    items = late_first()[:6]
    bad = items[2]
    stage = EnrichArticles(engine, NO_NER)
    stage.stories = _FailsFor(engine, bad.article_id)
    with pytest.raises(RuntimeError):
        stage.prepare(items)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DedupEntryRow)) == 0

    bus = MemoryBus()
    for r in items:
        bus.publish(ARTICLES.name, r.key(), r.encode())
    runner = StageRunner(
        Stage("enrich_articles", ARTICLES, stage, output=ENRICHED, prepare=stage.prepare),
        bus,
        options=RunnerOptions(poll_timeout_s=0.1, retry_initial_backoff_s=0.01),
    )
    assert runner.run_batch() == len(items)
    enriched = [EnrichedArticle.decode(m.value) for m in bus.messages(ENRICHED.name)]
    assert {r.article_id for r in enriched} == {r.article_id for r in items} - {bad.article_id}
    (letter,) = [DeadLetter.decode(m.value) for m in bus.messages(DLQ.name)]
    assert letter.reason == "processing_error" and "a bug this article" in letter.detail


def test_a_record_without_text_is_left_to_process_which_rejects_it(fresh):
    engine = fresh()
    items = late_first()[:3]
    empty = article("empty", "", "", None)
    stage = EnrichArticles(engine, NO_NER)
    stage.prepare([*items, empty])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DedupEntryRow)) == len(items)
    with pytest.raises(BadInput, match="no_text"):
        list(stage(empty))
