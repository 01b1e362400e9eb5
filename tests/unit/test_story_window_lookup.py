"""Story-candidate lookups read only the postings inside the story window (issue 17)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.transform_support import demo_articles
from transform import state_sql as sql
from transform.enrich import EnrichArticles, EnrichOptions
from transform.state import key_of
from transform.storysim import epoch_seconds
from wiredesk.db.dedup_tables import DedupEntryRow, StoryKeyRow

WINDOW = timedelta(hours=72)


def _keys_of(conn, article_id: str) -> tuple[int, list[tuple[int, int | None]]]:
    seq = conn.scalar(select(DedupEntryRow.seq).where(DedupEntryRow.article_id == article_id))
    rows = conn.execute(
        select(StoryKeyRow.key, StoryKeyRow.at).where(StoryKeyRow.entry_seq == seq)
    ).all()
    return seq, [(r.key, r.at) for r in rows]


def _candidates(conn, keys: list[int], me: int, when: int) -> set[int]:
    span = WINDOW // timedelta(seconds=1)
    found = {"keys": keys, "me": me, "lo": when - span, "hi": when + span}
    return {r.seq for r in conn.execute(sql.STORY_CANDIDATES_SQL, found)}


def test_keys_carry_the_story_time_and_lookups_skip_postings_outside_the_window(sqlite_engine):
    by_id = {a.url.rsplit("/", 1)[1]: a for a, _, _ in demo_articles()}
    opening = by_id["np-0004"]
    later = by_id["hh-0004"].model_copy(
        update={"published_at": opening.published_at + timedelta(days=10)}
    )
    stage = EnrichArticles(sqlite_engine, EnrichOptions(ner_enabled=False, story_window=WINDOW))
    for article in (opening, later):
        (enriched,) = stage(article)
        assert enriched.article_id == article.article_id
    t0, t1 = epoch_seconds(opening.published_at), epoch_seconds(later.published_at)
    with sqlite_engine.begin() as conn:
        first_seq, first_keys = _keys_of(conn, opening.article_id)
        later_seq, later_keys = _keys_of(conn, later.article_id)
        assert first_keys and {at for _, at in first_keys} == {t0}
        ties = conn.scalars(select(StoryKeyRow.tie).where(StoryKeyRow.entry_seq == first_seq))
        assert set(ties) == {key_of("tie", opening.article_id)}  # a function of the id only
        assert later_keys and {at for _, at in later_keys} == {t1}
        shared = sorted({k for k, _ in first_keys} & {k for k, _ in later_keys})
        assert shared, "the two write-ups of one election share story keys"
        # around the later article's time the opening (ten days before) is not read ...
        assert first_seq not in _candidates(conn, shared, later_seq, t1)
        # ... around its own time it is
        assert first_seq in _candidates(conn, shared, later_seq, t0)
        # keys stored before the time column (NULL) count as an unknown time: always read
        conn.execute(update(StoryKeyRow).where(StoryKeyRow.entry_seq == first_seq).values(at=None))
        assert first_seq in _candidates(conn, shared, later_seq, t1)
