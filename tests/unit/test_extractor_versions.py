"""Extractor versions order as PEP 440 says, and the sink keeps the newer extraction of a
fetch: a replay with an older extractor never overwrites it (in Python and in SQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from packaging.version import Version
from sqlalchemy import select

from sink import articles
from sink.articles import ArticleWriter
from sink.rows import rows_for
from tests.conftest import metric
from tests.unit.test_sink_tables import DAY, article
from wiredesk.db.tables import ArticleRow
from wiredesk.stage import Position
from wiredesk.versions import extractor_rank, newer_extractor

VERSIONS = [
    "1.0.dev1",
    "1.0a1",
    "1.0b2",
    "1.0rc1",
    "1.0",
    "1.0.post1",
    "1.0.1",
    "2.3.1",
    "2.9",
    "2.9.1",
    "2.10.0",
    "10.0",
    "1!0.5",
]


def test_ranks_sort_like_pep_440():
    ranks = [extractor_rank(f"trafilatura-{v}") for v in VERSIONS]
    assert sorted(VERSIONS, key=Version) == VERSIONS  # the list above is in PEP 440 order
    assert ranks == sorted(ranks)  # and so are their ranks, byte-wise
    assert len(set(ranks)) == len(ranks)


@pytest.mark.parametrize("version", ["t", "test", "", None, "trafilatura-", "x-not.a.version!"])
def test_an_unparseable_version_has_no_rank_and_is_never_compared(version):
    assert extractor_rank(version) is None
    assert newer_extractor(version, "trafilatura-2.3.1") == 0
    assert newer_extractor("trafilatura-2.3.1", version) == 0


def test_newer_extractor():
    assert newer_extractor("trafilatura-2.10.0", "trafilatura-2.9.1") == 1
    assert newer_extractor("trafilatura-2.9.1", "trafilatura-2.10.0") == -1
    assert newer_extractor("trafilatura-2.3.1", "trafilatura-2.3.1") == 0


NEW, OLD = "trafilatura-2.10.0", "trafilatura-2.9.1"
NEW_TEXT = "Newer extraction: Zelensky met Zelenskiy's aides in Kyiv. Zelensky spoke at length."
OLD_TEXT = "Older extraction: Zelensky met Zelenskiy's aides in Kyiv. Zelensky spoke."


def at(group: str, offset: int) -> Position:
    return Position(group, "news.enriched", 0, offset)


def stored(engine):
    with engine.connect() as conn:
        row = conn.execute(
            select(ArticleRow.extractor_version, ArticleRow.extractor_rank, ArticleRow.text)
        ).one()
    return tuple(row)


def test_an_older_extractor_replayed_later_does_not_overwrite_a_newer_extraction(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    writer.write([article(1, fetched_at=DAY, extractor_version=NEW, text=NEW_TEXT)], [at("g", 5)])
    stale = metric("wiredesk_sink_rows_total", table="articles", outcome="stale")
    # a replay of extract with the old extractor: the same fetch, a later offset
    writer.write([article(1, fetched_at=DAY, extractor_version=OLD, text=OLD_TEXT)], [at("g", 9)])
    assert stored(sqlite_engine) == (NEW, extractor_rank(NEW), NEW_TEXT)
    assert metric("wiredesk_sink_rows_total", table="articles", outcome="stale") == stale + 1


def test_a_newer_extractor_wins_over_a_later_offset_of_an_older_one(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    writer.write([article(1, fetched_at=DAY, extractor_version=OLD, text=OLD_TEXT)], [at("g", 9)])
    # another group's record of the same fetch, at a lower offset, by the newer extractor
    writer.write([article(1, fetched_at=DAY, extractor_version=NEW, text=NEW_TEXT)], [at("r", 3)])
    assert stored(sqlite_engine) == (NEW, extractor_rank(NEW), NEW_TEXT)


def test_a_later_fetch_wins_even_from_an_older_extractor(sqlite_engine):
    """The documented rule: the page's newer content beats a better extraction of older
    content (re-extracting that later fetch with the newer extractor then wins again)."""
    writer = ArticleWriter(sqlite_engine)
    writer.write([article(1, fetched_at=DAY, extractor_version=NEW, text=NEW_TEXT)], [at("g", 5)])
    later = DAY + timedelta(hours=1)
    writer.write([article(1, fetched_at=later, extractor_version=OLD, text=OLD_TEXT)], [at("g", 6)])
    assert stored(sqlite_engine) == (OLD, extractor_rank(OLD), OLD_TEXT)


def test_the_sql_guard_refuses_an_older_extractor_too(sqlite_engine):
    """The upsert's own condition (for a row another writer wrote meanwhile) applies the
    same rule when the Python check is bypassed."""
    ArticleWriter(sqlite_engine).write(
        [article(1, fetched_at=DAY, extractor_version=NEW, text=NEW_TEXT)], [at("g", 5)]
    )
    older = rows_for(article(1, fetched_at=DAY, extractor_version=OLD, text=OLD_TEXT))
    older.article |= {"source_partition": 0, "source_offset": 99}
    with sqlite_engine.begin() as conn:
        articles._upsert_articles(conn, [older])
    assert stored(sqlite_engine) == (NEW, extractor_rank(NEW), NEW_TEXT)
    newer_again = rows_for(
        article(1, fetched_at=DAY, extractor_version="trafilatura-3.0", text=OLD_TEXT)
    )
    newer_again.article |= {"source_partition": 0, "source_offset": 1}
    with sqlite_engine.begin() as conn:
        articles._upsert_articles(conn, [newer_again])
    assert stored(sqlite_engine)[0] == "trafilatura-3.0"  # a lower offset, a newer extractor
