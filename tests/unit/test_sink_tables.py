"""The sink's tables on SQLite: entities, mentions, stories, sources; replays are no-ops;
changed records update in place; text is sanitised with offsets kept right."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from sink.articles import ArticleWriter
from tests.conftest import metric
from wiredesk.db.tables import ArticleEntityRow, ArticleRow, EntityRow, SourceRow, StoryRow
from wiredesk.records import EnrichedArticle, Entity

DAY = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ZEL = "Q3874799"


def mention(text: str, surface: str, canonical_id: str = ZEL, name: str = "Volodymyr Zelenskyy"):
    start = text.index(surface)
    return Entity(
        canonical_id=canonical_id,
        name=name,
        label="PER",
        surface=surface,
        start=start,
        end=start + len(surface),
    )


def article(n: int, *, story: str | None = "s1", hours: int = 0, **kw) -> EnrichedArticle:
    text = kw.pop("text", f"Report {n}: Zelensky met Zelenskiy's aides in Kyiv. Zelensky spoke.")
    entities = kw.pop("entities", None)
    if entities is None:
        entities = [
            mention(text, "Zelensky"),
            mention(text, "Zelenskiy"),
            mention(text, "Kyiv", "Q1899", "Kyiv"),
        ]
    base = dict(
        article_id=f"{n:032d}",
        url=f"https://www.outlet{n % 2}.example/news/{n}",
        title=f"Title {n}",
        text=text,
        site_name=f"Outlet {n % 2}",
        extractor_version="trafilatura-2.3.1",
        content_hash=f"{n:064d}",
        published_at=DAY + timedelta(hours=hours),
        story_id=story,
        entities=entities,
    )
    return EnrichedArticle(**{**base, **kw})


def snapshot(engine):
    out = {}
    with engine.connect() as conn:
        for row_type in (SourceRow, ArticleRow, EntityRow, ArticleEntityRow, StoryRow):
            out[row_type.__tablename__] = sorted(
                tuple(r) for r in conn.execute(select(row_type.__table__)).all()
            )
    return out


def test_entities_mentions_sources_and_stories_are_written(sqlite_engine):
    ArticleWriter(sqlite_engine).write([article(1, hours=2), article(2, hours=1)])
    snap = snapshot(sqlite_engine)
    with sqlite_engine.connect() as conn:
        entities = dict(conn.execute(select(EntityRow.canonical_id, EntityRow.name)).all())
        mentions = conn.execute(
            select(ArticleEntityRow)
            .where(ArticleEntityRow.article_id == f"{1:032d}")
            .order_by(ArticleEntityRow.canonical_id)
        ).all()
        story = conn.execute(select(StoryRow)).one()
        sources = dict(conn.execute(select(SourceRow.host, SourceRow.name)).all())
    assert entities == {ZEL: "Volodymyr Zelenskyy", "Q1899": "Kyiv"}
    kyiv, zel = mentions
    assert (kyiv.surfaces, kyiv.mentions) == (["Kyiv"], 1)
    assert zel.surfaces == ["Zelensky", "Zelenskiy"] and zel.mentions == 2
    text = article(1).text
    assert [text[s:e] for s, e in zel.offsets] == ["Zelensky", "Zelenskiy"]
    # the story: earliest article's title, first/last time, count
    assert (story.title, story.article_count) == ("Title 2", 2)
    assert story.first_seen_at.replace(tzinfo=UTC) == DAY + timedelta(hours=1)
    assert story.last_update_at.replace(tzinfo=UTC) == DAY + timedelta(hours=2)
    assert sources == {"outlet1.example": "Outlet 1", "outlet0.example": "Outlet 0"}
    assert len(snap["articles"]) == 2


def test_replaying_batches_changes_nothing_in_any_table(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    batch = [article(i, story=f"s{i % 3}", hours=i) for i in range(12)]
    writer.write(batch)
    before = snapshot(sqlite_engine)
    unchanged = metric("wiredesk_sink_rows_total", table="articles", outcome="unchanged")
    writer.write(batch)
    writer.write(list(reversed(batch[3:8])))
    assert snapshot(sqlite_engine) == before  # contents and updated_at alike
    after = metric("wiredesk_sink_rows_total", table="articles", outcome="unchanged")
    assert after - unchanged == 17


def test_a_newer_extractor_and_a_new_verdict_update_rows_in_place(sqlite_engine):
    writer = ArticleWriter(sqlite_engine)
    writer.write([article(1), article(2)])
    text = "Re-extracted report: Zelenskyy visited Kyiv."
    writer.write(
        [
            article(
                2,
                text=text,
                extractor_version="trafilatura-9.9",
                duplicate_of=f"{1:032d}",
                entities=[mention(text, "Zelenskyy")],
                story="s2",
                revision=1,
            ),
        ]
    )
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(ArticleRow).where(ArticleRow.article_id == f"{2:032d}")).one()
        mentions = conn.execute(
            select(ArticleEntityRow.canonical_id, ArticleEntityRow.surfaces).where(
                ArticleEntityRow.article_id == f"{2:032d}"
            )
        ).all()
        stories = {s.story_id: s.article_count for s in conn.execute(select(StoryRow))}
        total = len(conn.execute(select(ArticleRow.article_id)).all())
    assert (row.extractor_version, row.text, row.duplicate_of) == (
        "trafilatura-9.9",
        text,
        f"{1:032d}",
    )
    assert mentions == [(ZEL, ["Zelenskyy"])]  # the Kyiv mention is gone
    assert stories == {"s1": 1, "s2": 1}  # the article moved between stories
    assert total == 2
    writer.write([article(1, story="s2", revision=1)])
    with sqlite_engine.connect() as conn:
        assert {s.story_id: s.article_count for s in conn.execute(select(StoryRow))} == {"s2": 2}


def test_nul_and_lone_surrogates_are_cleaned_and_offsets_follow(sqlite_engine):
    text = "a\x00b\x00 Zelensky in \ud800 Kyiv"
    nul = metric("wiredesk_sink_sanitised_total", kind="nul")
    ArticleWriter(sqlite_engine).write(
        [article(1, text=text, title="T\x00itle", entities=[mention(text, "Zelensky")])]
    )
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(ArticleRow)).one()
        offsets = conn.execute(select(ArticleEntityRow.offsets)).scalar_one()
    assert (row.title, row.text) == ("Title", "ab Zelensky in \ufffd Kyiv")
    assert [row.text[s:e] for s, e in offsets] == ["Zelensky"]
    assert row.entities[0]["start"] == offsets[0][0]
    assert metric("wiredesk_sink_sanitised_total", kind="nul") - nul == 2


def test_new_rows_count_verdicts_and_freshness(sqlite_engine):
    dup = metric("wiredesk_sink_articles_total", verdict="duplicate")
    fresh = metric("wiredesk_freshness_seconds_count", since="published")
    ArticleWriter(sqlite_engine).write([article(1), article(2, duplicate_of=f"{1:032d}")])
    ArticleWriter(sqlite_engine).write([article(2, duplicate_of=f"{1:032d}")])  # replay
    assert metric("wiredesk_sink_articles_total", verdict="duplicate") - dup == 1
    assert metric("wiredesk_freshness_seconds_count", since="published") - fresh == 2
