"""The sink rewrites a story's entity map (``story_entities``) with the story row: when
its members change, when an article moves out, and the same map whatever the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from sink.articles import ArticleWriter
from wiredesk import db
from wiredesk.db.tables import StoryEntityRow
from wiredesk.records import EnrichedArticle, Entity

DAY = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NAMES = {
    "heller": ("Heller", "PER"),
    "mark-heller": ("Mark Heller", "PER"),
    "tom-heller": ("Tom Heller", "PER"),
    "usgs": ("USGS", "ORG"),
    "united-states-geological-survey": ("United States Geological Survey", "ORG"),
}


def article(
    n: int, story: str, ids: list[str], revision: int = 0, label: str | None = None
) -> EnrichedArticle:
    text = f"Report {n}: " + ". ".join(f"{NAMES[i][0]} spoke" for i in ids) + "."
    entities = []
    for cid in ids:
        surface, tagged = NAMES[cid]
        start = text.index(surface)
        entities.append(
            Entity(
                canonical_id=cid,
                name=surface,
                label=label or tagged,
                surface=surface,
                start=start,
                end=start + len(surface),
            )
        )
    return EnrichedArticle(
        article_id=f"{n:032d}",
        url=f"https://www.outlet.example/news/{n}",
        title=f"Title {n}",
        text=text,
        site_name="Outlet",
        extractor_version="trafilatura-2.3.1",
        content_hash=f"{n:064d}",
        published_at=DAY + timedelta(hours=n),
        story_id=story,
        entities=entities,
        revision=revision,
    )


def story_map(engine: Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(select(StoryEntityRow.__table__)).all()}


BASE = [
    article(1, "s1", ["heller"]),
    article(2, "s1", ["mark-heller", "usgs"]),
    article(3, "s1", ["united-states-geological-survey"]),
]
FULL = {
    ("s1", "heller", "mark-heller"),
    ("s1", "usgs", "united-states-geological-survey"),
}


def check_story_entity_map(engine: Engine) -> None:
    """The scenario, on any database the sink runs on (also run on PostgreSQL)."""
    writer = ArticleWriter(engine)
    writer.write(BASE[:1])
    assert story_map(engine) == set()  # a bare surname alone: nothing to resolve to
    writer.write(BASE[1:])
    assert story_map(engine) == FULL
    # a second Heller joins the story: the surname is ambiguous, its row goes
    writer.write([article(4, "s1", ["tom-heller"])])
    assert story_map(engine) == {("s1", "usgs", "united-states-geological-survey")}
    # ... and moves to another story (a new verdict): the map is recomputed, not kept
    writer.write([article(4, "s2", ["tom-heller"], revision=1)])
    assert story_map(engine) == FULL
    # the whole story moves: its rows follow the members to the new story id
    writer.write(
        [
            article(n, "s3", ids, revision=1)
            for n, ids in (
                (1, ["heller"]),
                (2, ["mark-heller", "usgs"]),
                (3, ["united-states-geological-survey"]),
            )
        ]
    )
    assert story_map(engine) == {("s3", e, r) for _, e, r in FULL}


def test_the_map_is_rewritten_when_members_change(sqlite_engine: Engine) -> None:
    check_story_entity_map(sqlite_engine)


def test_the_map_does_not_depend_on_arrival_order(tmp_path: Path) -> None:
    maps = []
    for name, order in (("fwd", BASE), ("rev", list(reversed(BASE)))):
        url = f"sqlite:///{tmp_path / name}.db"
        db.upgrade(url)  # the migrations, as deployed
        engine = db.make_engine(url)
        writer = ArticleWriter(engine)
        for record in order:  # one batch each: every arrival refreshes the story
            writer.write([record])
        writer.write(order)  # a replay changes nothing
        maps.append(story_map(engine))
        engine.dispose()
    assert maps[0] == maps[1] == FULL


def test_the_map_uses_each_articles_own_labels(sqlite_engine: Engine) -> None:
    # another story's article tags "Heller" ORG and is written last (so the entities
    # row says ORG): this story's map, from its own articles' mentions, keeps the person
    writer = ArticleWriter(sqlite_engine)
    writer.write(BASE)
    writer.write([article(9, "s9", ["heller"], label="ORG")])
    writer.write([article(4, "s1", ["usgs"])])  # s1 is refreshed after the relabel
    assert story_map(sqlite_engine) == FULL
