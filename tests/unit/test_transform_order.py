"""Order independence of the enrich stage: the canonical is the earliest copy whatever the
arrival order, non-transitive chains form one group, revisions reach the sink, and the
number of revision records per input is bounded."""

from __future__ import annotations

import itertools
import random
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from sink.articles import ArticleWriter
from tests.conftest import metric
from tests.transform_support import article, demo_articles
from transform.enrich import EnrichArticles, EnrichOptions
from wiredesk import db as database
from wiredesk.db.tables import ArticleRow
from wiredesk.records import Article, EnrichedArticle, VerdictRevision

NO_NER = EnrichOptions(ner_enabled=False)
T0 = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def blank_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("blank") / "blank.db"
    database.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def fresh(blank_db, tmp_path):
    """A factory of migrated, empty SQLite engines (a copy of one migrated file)."""
    engines = []

    def make():
        path = tmp_path / f"run{len(engines)}.db"
        shutil.copy(blank_db, path)
        engine = database.make_engine(f"sqlite:///{path}")
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def enrich(engine, records: list[Article], **options) -> list:
    stage = EnrichArticles(engine, EnrichOptions(ner_enabled=False, **options))
    return [out for r in records for out in stage(r)]


def final(outputs) -> dict[str, tuple]:
    """article id -> (duplicate_of, story_id) after applying every record by revision."""
    best: dict[str, tuple] = {}
    for r in outputs:
        if r.article_id not in best or r.revision > best[r.article_id][0]:
            best[r.article_id] = (r.revision, r.duplicate_of, r.story_id)
    return {k: v[1:] for k, v in best.items()}


def chain() -> list[Article]:
    """A ~ B and B ~ C (B is A padded with C's text) but not A ~ C; C published first."""
    items = {a.url.rsplit("/", 1)[1]: a for a, _, _ in demo_articles()}
    p = items["hh-0001"].text.split("\n\n", 1)[1]
    q = items["np-0004"].text.split("\n\n", 1)[1]
    return [
        article("chain-a", "A", f"A\n\n{p}", T0 + timedelta(hours=2)),
        article("chain-b", "B", f"B\n\n{p}\n\n{q}", T0 + timedelta(hours=1)),
        article("chain-c", "C", f"C\n\n{q}", T0),
    ]


def test_a_non_transitive_chain_is_one_group_with_the_earliest_canonical_in_every_order(fresh):
    a, b, c = chain()
    results = set()
    for order in itertools.permutations([a, b, c]):
        verdicts = final(enrich(fresh(), list(order)))
        results.add(tuple(sorted(verdicts.items())))
        assert verdicts[c.article_id][0] is None  # the earliest is the original
        assert verdicts[a.article_id][0] == verdicts[b.article_id][0] == c.article_id
        assert len({v[1] for v in verdicts.values()}) == 1  # one story
    assert len(results) == 1  # identical verdicts and story ids in all 6 orders


def test_the_earliest_wire_copy_is_the_original_in_all_24_orders(fresh):
    group = [a for a, wire_of, _ in demo_articles() if a.url.endswith("-0002")][:4]
    assert len(group) == 4
    earliest = min(group, key=lambda a: (a.published_at, a.article_id))
    results = set()
    for order in itertools.permutations(group):
        verdicts = final(enrich(fresh(), list(order)))
        assert verdicts[earliest.article_id][0] is None
        others = {verdicts[a.article_id][0] for a in group if a is not earliest}
        assert others == {earliest.article_id}
        results.add(tuple(sorted(verdicts.items())))
    assert len(results) == 1


def test_revisions_are_emitted_and_the_sink_ends_as_in_published_order(fresh):
    items = [a for a, _, _ in demo_articles()]
    before = metric("wiredesk_enrich_revisions_total", kind="canonical")
    late_first = sorted(items, key=lambda a: a.published_at, reverse=True)
    outputs = enrich(fresh(), late_first)
    revised = [r for r in outputs if isinstance(r, VerdictRevision)]
    assert revised, "originals arriving after their copies revise the copies' verdicts"
    assert metric("wiredesk_enrich_revisions_total", kind="canonical") > before
    reference = enrich(fresh(), items)  # published order: nothing to revise
    assert not any(isinstance(r, VerdictRevision) for r in reference)

    def sink_rows(records, engine) -> dict[str, tuple]:
        writer = ArticleWriter(engine)
        for i in range(0, len(records), 7):
            writer.write(records[i : i + 7])
        with engine.connect() as conn:
            rows = conn.execute(
                ArticleRow.__table__.select().with_only_columns(
                    ArticleRow.article_id, ArticleRow.duplicate_of, ArticleRow.story_id
                )
            ).all()
        return {r.article_id: (r.duplicate_of, r.story_id) for r in rows}

    expected = sink_rows(reference, fresh())
    assert sink_rows(outputs, fresh()) == expected
    # revisions before their articles (they wait), and everything twice (a replay)
    shuffled = [*revised, *outputs]
    random.Random(1).shuffle(shuffled)
    assert sink_rows(shuffled + outputs, fresh()) == expected
    wire = {a.article_id: w for a, w, _ in demo_articles()}
    assert {k: v[0] for k, v in expected.items()} == wire


def test_revision_records_per_input_are_bounded_and_the_rest_follow(fresh):
    (original, *_), body = demo_articles()[0], None
    body = original.text.split("\n\n", 1)[1]
    copies = [
        article(f"copy{i}", f"Copy {i}", f"Copy {i}\n\n{body}", T0 + timedelta(hours=i + 1))
        for i in range(12)
    ]
    first = article("first", "First", f"First\n\n{body}", T0)
    others = [a for a, w, _ in demo_articles() if w is None][5:9]
    engine = fresh()
    stage = EnrichArticles(engine, EnrichOptions(ner_enabled=False, max_revisions=5))
    for c in copies:
        list(stage(c))
    counts = []
    for record in [first, *others]:
        out = list(stage(record))
        counts.append(sum(isinstance(r, VerdictRevision) for r in out))
    assert counts[:4] == [5, 5, 2, 0]  # 12 copies revised, five per input at most
    emitted = enrich(engine, [])  # nothing left pending
    assert emitted == []


def test_a_redelivered_article_re_emits_the_revisions_it_emitted(fresh):
    a, b, c = chain()
    engine = fresh()
    enrich(engine, [a, b])
    first = enrich(engine, [c])
    again = enrich(engine, [c])  # the worker died before publishing: redelivered
    revs = lambda out: sorted(  # noqa: E731
        (r.article_id, r.revision) for r in out if isinstance(r, VerdictRevision)
    )
    assert revs(first) and revs(again) == revs(first)
    enriched = [r for r in again if isinstance(r, EnrichedArticle)]
    assert [r.duplicate_of for r in enriched] == [None]
