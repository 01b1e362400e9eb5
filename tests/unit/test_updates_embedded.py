"""Article updates end to end in embedded mode (SQLite, in-process bus) against the local
news server over real HTTP: a page that changes twice yields three versions in order on
one article row, never a duplicate of itself, with its story and entities revised and
its correction notice detected (issue 15)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select, update

from devserver.server import NewsServer, load_corpus
from wiredesk.app.commands import run_embedded
from wiredesk.bus import make_bus
from wiredesk.db.dedup_tables import DedupEntryRow
from wiredesk.db.feed_tables import ArticleRecheckRow
from wiredesk.db.tables import ArticleEntityRow, ArticleRow, ArticleVersionRow, StoryRow
from wiredesk.records import url_id
from wiredesk.settings import load_settings

COPY, ORIGINAL = "ml-0001", "hh-0001"  # a wire copy and the original it republishes
NOTICE = "Correction: An earlier version of this article gave the wrong number of strikers."


def _time_passes(engine: Engine, seconds: float) -> None:
    """Move every re-check schedule ``seconds`` into the past (as if time had passed)."""
    back = timedelta(seconds=seconds)
    with engine.begin() as conn:
        rows = conn.execute(select(ArticleRecheckRow.__table__)).all()
        for r in rows:
            conn.execute(
                update(ArticleRecheckRow)
                .where(ArticleRecheckRow.article_id == r.article_id)
                .values(
                    first_seen_at=r.first_seen_at - back,
                    next_check_at=r.next_check_at - back if r.next_check_at else None,
                )
            )


def _versions(engine: Engine, article_id: str) -> list[ArticleVersionRow]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(ArticleVersionRow.__table__)
                .where(ArticleVersionRow.article_id == article_id)
                .order_by(ArticleVersionRow.version)
            )
        )


def _row(engine: Engine, article_id: str) -> ArticleRow:
    with engine.connect() as conn:
        return conn.execute(
            select(ArticleRow.__table__).where(ArticleRow.article_id == article_id)
        ).one()


def test_a_page_changed_twice_has_three_versions_on_one_row(sqlite_url, sqlite_engine):
    corpus = load_corpus()
    bus = make_bus("memory", partitions=1)
    with NewsServer(corpus) as server:
        settings = load_settings(
            feeds=server.feed_urls(),
            database_url=sqlite_url,
            allow_private_addresses=True,
            fetch_host_delay_s=0.0,
            recheck_feed_updates=False,  # the scheduled re-checks alone
        )
        copy_id = url_id(server.article_url(COPY))
        original_id = url_id(server.article_url(ORIGINAL))
        first = run_embedded(settings, sqlite_engine, bus)
        assert first["dead_letters"] == 0
        v1 = _row(sqlite_engine, copy_id)
        assert (v1.version, v1.duplicate_of) == (1, original_id)

        article = server._ids[COPY]
        server.revise(
            COPY,
            title="CORRECTION: " + article.title,
            paragraphs=(NOTICE, *article.paragraphs),
            modified="2026-11-21T10:00:00Z",
        )
        server.reset_log()
        _time_passes(sqlite_engine, 3_601)  # the first re-check (after 1 h) is due
        second = run_embedded(settings, sqlite_engine, bus)
        assert second["links"] == len(corpus.articles)  # every article re-checked once
        pages = [status for _, path, status in server.requests_log if path.endswith(".html")]
        assert sorted(pages) == [200] + [304] * (len(corpus.articles) - 1)  # conditional GET
        v2 = _row(sqlite_engine, copy_id)
        assert v2.version == 2 and v2.title.startswith("CORRECTION:")

        server.revise(
            COPY,
            title="Velmar port strike: talks resume",
            paragraphs=(
                NOTICE,
                *article.paragraphs,
                "Talks between the union and the port resumed.",
            ),
            modified="2026-11-21T16:00:00Z",
        )
        _time_passes(sqlite_engine, 6 * 3_600)  # the second re-check (after 6 h)
        run_embedded(settings, sqlite_engine, bus)
        again = run_embedded(settings, sqlite_engine, bus)  # nothing due, nothing changed
        assert again["links"] == 0

    versions = _versions(sqlite_engine, copy_id)
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.title for v in versions] == [
        article.title,
        "CORRECTION: " + article.title,
        "Velmar port strike: talks resume",
    ]
    assert [v.correction for v in versions] == [False, True, True]
    assert versions[1].correction_notice.startswith("CORRECTION:")
    assert versions[1].diff["words_added"] > 0 and versions[1].diff["title_changed"]
    # the new paragraph's 8 words and the new headline's (the page repeats it in the text)
    assert versions[2].diff["words_added"] >= 8
    assert versions[2].diff["chars_after"] > versions[2].diff["chars_before"]
    assert len({v.text_hash for v in versions}) == 3
    fetched = [v.fetched_at for v in versions]
    assert fetched == sorted(fetched)

    row = _row(sqlite_engine, copy_id)
    assert row.version == 3 and row.title == "Velmar port strike: talks resume"
    assert NOTICE in row.text and "Talks between the union" in row.text
    assert row.modified_at is not None and row.modified_at.hour == 16
    assert row.first_published_at == v1.published_at
    # still a copy of the original, never of itself
    assert row.duplicate_of == original_id != copy_id
    with sqlite_engine.connect() as conn:
        assert (
            conn.scalar(select(ArticleRow.duplicate_of).where(ArticleRow.duplicate_of == copy_id))
            is None
        )
        state = conn.execute(
            select(
                DedupEntryRow.duplicate_of, DedupEntryRow.content_hash, DedupEntryRow.story_id
            ).where(DedupEntryRow.article_id == copy_id)
        ).one()
        story = conn.execute(
            select(StoryRow.__table__).where(StoryRow.story_id == row.story_id)
        ).one()
        mentions = conn.execute(
            select(ArticleEntityRow.__table__).where(ArticleEntityRow.article_id == copy_id)
        ).all()
    assert state.duplicate_of == original_id and state.story_id == row.story_id
    assert row.story_id == _row(sqlite_engine, original_id).story_id  # a copy joins its story
    assert story.last_update_at is not None and story.article_count >= 4
    # entities were tagged on the new text: every offset points at its surface there
    assert mentions
    for m in mentions:
        for ((start, end),) in zip(m.offsets, strict=False):
            assert row.text[start:end] in m.surfaces
    assert any("Talks" in e["surface"] or e["start"] > len(NOTICE) for e in row.entities)


def test_a_changed_feed_entry_is_refetched_at_once(sqlite_url, sqlite_engine):
    corpus = load_corpus()
    bus = make_bus("memory", partitions=1)
    with NewsServer(corpus) as server:
        settings = load_settings(
            feeds=server.feed_urls(),
            database_url=sqlite_url,
            allow_private_addresses=True,
            fetch_host_delay_s=0.0,
            recheck_after_s="",  # no scheduled re-checks: the feed alone
        )
        article_id = url_id(server.article_url(ORIGINAL))
        run_embedded(settings, sqlite_engine, bus)
        article = server._ids[ORIGINAL]
        server.revise(ORIGINAL, title="Update: " + article.title)
        second = run_embedded(settings, sqlite_engine, bus)
        assert second["links"] == 1  # only the entry that changed
    versions = _versions(sqlite_engine, article_id)
    assert [v.title for v in versions] == [article.title, "Update: " + article.title]
    assert versions[1].diff == {  # the page repeats its headline in the text
        "words_added": 1,
        "words_removed": 0,
        "title_changed": True,
        "chars_before": versions[0].text_chars,
        "chars_after": versions[0].text_chars + len("Update: "),
    }
    assert [v.correction for v in versions] == [False, False]  # "Update:" is no notice
    row = _row(sqlite_engine, article_id)
    assert (row.version, row.duplicate_of) == (2, None)  # the original stays the original
