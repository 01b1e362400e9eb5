"""Article versions in the sink, correction notices and the re-check schedule."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ingest.recheck import RecheckPolicy, checks_due_by, entry_digest, next_check
from sink.articles import ArticleWriter
from sink.versions import diff_summary
from tests.conftest import metric
from wiredesk.corrections import find_notice
from wiredesk.db.tables import ArticleRow, ArticleVersionRow
from wiredesk.records import EnrichedArticle
from wiredesk.stage import Position

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ID = "a" * 32


def version(n: int, title: str, text: str, **kw) -> EnrichedArticle:
    """The article as fetched at T0 + n hours."""
    base = dict(
        article_id=ID,
        url="http://news.example/story",
        canonical_url="http://news.example/story",
        title=title,
        text=text,
        extractor_version="trafilatura-2.0.0",
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        published_at=T0,
        fetched_at=T0 + timedelta(hours=n),
    )
    return EnrichedArticle(**{**base, **kw})


V1 = version(0, "Port strike", "Dockers walk out in Velmar.")
V2 = version(1, "CORRECTION: Port strike", "Correction: 300 dockers. Dockers walk out in Velmar.")
V3 = version(6, "Port strike ends", "Correction: 300 dockers. Dockers walk out. Talks resumed.")


def stored(engine) -> tuple[list, object]:
    with engine.connect() as conn:
        versions = conn.execute(
            select(ArticleVersionRow.__table__).order_by(ArticleVersionRow.version)
        ).all()
        row = conn.execute(select(ArticleRow.__table__)).one()
    return versions, row


def test_each_change_is_a_version_and_a_replay_adds_none(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    before = metric("wiredesk_article_updates_total", source="news.example")
    for record in (V1, V2, V3):
        writer.write([record])
    for record in (V1, V2, V3, V3):  # a replay (a fresh group: no fence), a redelivery
        writer.write([record])
    versions, row = stored(sqlite_engine)
    assert [(v.version, v.title) for v in versions] == [
        (1, "Port strike"),
        (2, "CORRECTION: Port strike"),
        (3, "Port strike ends"),
    ]
    assert [v.correction for v in versions] == [False, True, True]
    assert (row.version, row.title) == (3, "Port strike ends")
    assert row.first_published_at.replace(tzinfo=UTC) == T0  # SQLite: naive UTC
    assert versions[0].diff is None
    assert versions[2].diff["words_added"] == 2 and versions[2].diff["words_removed"] == 2
    assert metric("wiredesk_article_updates_total", source="news.example") - before == 2


def test_versions_in_one_batch_are_all_kept_in_order(sqlite_engine):
    ArticleWriter(sqlite_engine).write([V1])
    ArticleWriter(sqlite_engine).write([V2, V3])
    versions, row = stored(sqlite_engine)
    assert [v.version for v in versions] == [1, 2, 3] and row.version == 3
    assert [v.fetched_at.replace(tzinfo=UTC) for v in versions] == [
        V1.fetched_at,
        V2.fetched_at,
        V3.fetched_at,
    ]


def test_fenced_redelivery_and_older_versions_add_no_version(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    at = [Position("write_articles", "news.enriched", 0, n) for n in range(3)]
    writer.write([V1, V3], at[:2])
    writer.write([V1, V3], at[:2])  # at or below the fence: skipped
    writer.write([V2], [None])  # fetched before the stored version: stale
    versions, row = stored(sqlite_engine)
    assert [v.version for v in versions] == [1, 2] and row.title == V3.title


def test_a_refetch_with_the_same_text_or_a_reextraction_is_no_new_version(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    writer.write([V1])
    refetched = version(2, V1.title, V1.text)
    writer.write([refetched])  # re-checked: nothing changed
    newer = refetched.model_copy(
        update={"extractor_version": "trafilatura-2.1.0", "title": "Port strike!"}
    )
    writer.write([newer])  # the same fetch re-extracted (a replay with a newer extractor)
    versions, row = stored(sqlite_engine)
    assert [v.version for v in versions] == [1]
    assert (row.version, row.title) == (1, "Port strike!")


def test_diff_summary_counts_words_as_multisets():
    assert diff_summary("A", "one two two three", "B", "two three four four") == {
        "words_added": 2,
        "words_removed": 2,
        "title_changed": True,
        "chars_before": 17,
        "chars_after": 19,
    }


@pytest.mark.parametrize(
    ("title", "text", "found"),
    [
        ("CORRECTION: Mayor resigns", "Body.", "CORRECTION: Mayor resigns"),
        ("Mayor resigns", "Correction: the vote was 5-4. More.", "Correction: the vote was 5-4."),
        ("Mayor", "Text. An earlier version of this article misspelt her name.", "An earlier"),
        ("Mayor", "Body.\nThis article has been updated with her statement.", "This article"),
        ("Mayor", "Clarification \u2014 the fund is municipal. Rest.", "Clarification"),
        ("Mayor", "Editor's note: this story was corrected on Monday.", "Editor's note"),
        ("Mayor", "Corrections were made to the budget, she said.", None),
        ("Mayor", "The correction: was minor, he said.", None),
        ("Mayor", "Officials said the data was updated.", None),
    ],
)
def test_correction_notices(title, text, found):
    notice = find_notice(title, text)
    assert (notice is None) if found is None else notice.startswith(found)


def test_a_notice_deep_inside_a_long_text_does_not_count():
    text = "Word. " * 1_000 + "Correction: quoted in a court filing. " + "Word. " * 1_000
    assert find_notice("Title", text) is None
    assert find_notice("Title", text + "Correction: the date was wrong.") is not None


def test_the_schedule_is_a_function_of_first_seen_and_checks_done():
    policy = RecheckPolicy(after_s=(3_600, 21_600, 86_400))
    assert next_check(T0, 0, policy) == T0 + timedelta(hours=1)
    assert next_check(T0, 2, policy) == T0 + timedelta(hours=24)
    assert next_check(T0, 3, policy) is None
    # a check made late counts the rounds whose time has passed: one request, not three
    assert checks_due_by(T0, T0 + timedelta(hours=30), policy) == 3
    assert checks_due_by(T0, T0 + timedelta(minutes=59), policy) == 0


def test_entry_digest_changes_with_title_date_or_summary():
    base = entry_digest("Title", T0, "Summary")
    assert base == entry_digest("Title", T0, "Summary")
    assert len({base, entry_digest("Title 2", T0, "Summary"), entry_digest("Title", T0, "S")}) == 3
    assert base != entry_digest("Title", T0 + timedelta(seconds=1), "Summary")
