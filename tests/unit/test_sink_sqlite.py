"""The article writer on SQLite (the same code runs on PostgreSQL in tests/integration)."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from sink.articles import ArticleWriter
from tests.conftest import metric
from wiredesk.db.tables import ArticleRow
from wiredesk.records import EnrichedArticle

WHEN = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


def enriched(n: int, **kw) -> EnrichedArticle:
    base = dict(
        article_id=f"{n:032d}",
        url=f"http://x/{n}",
        title=f"Title {n}",
        text=f"Body of article {n}.",
        extractor_version="trafilatura-2.3.1",
        content_hash=f"{n:064d}",
        published_at=WHEN,
        authors=["A. Writer"],
    )
    return EnrichedArticle(**{**base, **kw})


def rows(engine):
    with engine.connect() as conn:
        return {r.article_id: r for r in conn.execute(select(ArticleRow)).all()}


def test_redelivered_batches_create_no_duplicate_rows_and_touch_nothing(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    batch = [enriched(i) for i in range(20)]
    writer.write(batch)
    first = rows(sqlite_engine)
    writer.write(batch)
    writer.write(batch[5:10])
    again = rows(sqlite_engine)
    assert len(again) == 20
    assert {k: r.updated_at for k, r in again.items()} == {
        k: r.updated_at for k, r in first.items()
    }
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ArticleRow)) == 20


def test_a_newer_verdict_updates_the_row_in_place_and_an_older_one_never_returns(
    sqlite_engine,
):
    writer = ArticleWriter(sqlite_engine)
    writer.write([enriched(1), enriched(2)])
    newer = enriched(2, duplicate_of=f"{1:032d}", similarity=0.93, revision=1)
    writer.write([newer])
    row = rows(sqlite_engine)[f"{2:032d}"]
    assert (row.duplicate_of, row.similarity, row.revision) == (f"{1:032d}", 0.93, 1)
    assert len(rows(sqlite_engine)) == 2
    writer.write([enriched(2, title="Re-extracted")])  # new content, verdict of revision 0
    row = rows(sqlite_engine)[f"{2:032d}"]
    assert (row.title, row.duplicate_of, row.revision) == ("Re-extracted", f"{1:032d}", 1)


def test_nul_bytes_are_removed_before_writing(sqlite_engine):
    ArticleWriter(sqlite_engine).write(
        [enriched(1, title="ab\x00cd", text="x\x00y", authors=["n\x00ul"])]
    )
    row = rows(sqlite_engine)[f"{1:032d}"]
    assert (row.title, row.text, row.authors) == ("abcd", "xy", ["nul"])


def test_an_older_version_never_overwrites_a_newer_one_so_a_replay_rewrites_nothing(
    sqlite_engine,
):
    """A page fetched twice (a crash, an upstream duplicate) leaves two versions in
    news.enriched; whichever order they come in, the later fetch is kept."""
    first = enriched(1, fetched_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    second = enriched(1, fetched_at=datetime(2026, 11, 20, 9, 5, tzinfo=UTC))
    writer = ArticleWriter(sqlite_engine)
    writer.write([first])
    writer.write([second])  # newer: rewrites the row
    kept = rows(sqlite_engine)[f"{1:032d}"]
    assert kept.fetched_at.replace(tzinfo=UTC) == second.fetched_at
    stale_before = metric("wiredesk_sink_rows_total", table="articles", outcome="stale")
    skipped_before = metric("wiredesk_redelivered_total", stage="write_articles")
    writer.write([first])  # the replay: older first ...
    writer.write([second])  # ... then the newer one, already stored
    after = rows(sqlite_engine)[f"{1:032d}"]
    assert after.updated_at == kept.updated_at and after.record_hash == kept.record_hash
    assert metric("wiredesk_sink_rows_total", table="articles", outcome="stale") == (
        stale_before + 1
    )
    assert metric("wiredesk_redelivered_total", stage="write_articles") == skipped_before + 2
