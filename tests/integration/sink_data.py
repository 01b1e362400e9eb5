"""Invented enriched articles over three days, with entities, stories and duplicates,
produced to Kafka with message timestamps on their publication day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer
from sqlalchemy import create_engine, delete, select

from wiredesk.bus.kafka import KafkaBus
from wiredesk.db.tables import (
    ArticleEntityRow,
    ArticleRow,
    EntityRow,
    SourceRow,
    StoryRow,
)
from wiredesk.records import EnrichedArticle, Entity
from wiredesk.topics import DLQ, ENRICHED

DAY0 = datetime(2026, 11, 18, tzinfo=UTC)
PEOPLE = [("Q1", "Mara Velt", ["Mara Velt", "M. Velt"]), ("Q2", "Ivo Dranik", ["Ivo Dranik"])]
PLACES = [("Q10", "Port Velmar", ["Port Velmar", "Velmar"]), ("Q11", "Kharnivka", ["Kharnivka"])]
TABLES = (SourceRow, ArticleRow, EntityRow, ArticleEntityRow, StoryRow)
WRITE_TIMES = ("created_at", "updated_at")


def article(n: int) -> EnrichedArticle:
    day, slot = divmod(n, 30)
    published = DAY0 + timedelta(days=day, hours=1 + slot % 20, minutes=n % 7)
    person, place = PEOPLE[n % 2], PLACES[(n // 3) % 2]
    p_surface, l_surface = person[2][n % len(person[2])], place[2][n % len(place[2])]
    text = (
        f"Report {n}. {p_surface} spoke in {l_surface} on day {day}. "
        + "Officials gave further details about the dockers' strike and the plant fire. " * 4
    )
    entities = []
    for cid, name, label, surface in (
        (person[0], person[1], "PER", p_surface),
        (place[0], place[1], "LOC", l_surface),
    ):
        start = text.index(surface)
        entities.append(
            Entity(
                canonical_id=cid,
                name=name,
                label=label,
                surface=surface,
                start=start,
                end=start + len(surface),
            )
        )
    return EnrichedArticle(
        article_id=f"{n:032x}",
        url=f"https://outlet{n % 4}.example/{day}/{n}",
        title=f"Story {n % 5}: report {n}",
        text=text,
        authors=[f"Writer {n % 3}"],
        site_name=f"Outlet {n % 4}",
        published_at=published,
        discovered_at=published + timedelta(minutes=3),
        fetched_at=published + timedelta(minutes=4),
        extractor_version="trafilatura-2.3.1",
        content_hash=f"{n:064x}",
        duplicate_of=f"{n - 1:032x}" if n % 6 == 5 else None,
        similarity=0.97 if n % 6 == 5 else None,
        story_id=f"story-{n % 5}",
        entities=entities,
    )


def produce_days(bootstrap: str, namespace: str, days: int = 3) -> list[EnrichedArticle]:
    """30 articles per day, each sent with its publication time as the message timestamp."""
    bus = KafkaBus(bootstrap, partitions=3, namespace=namespace)
    bus.ensure_topics([ENRICHED.name, DLQ.name])
    bus.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    records = [article(n) for n in range(30 * days)]
    futures = [
        producer.send(
            namespace + ENRICHED.name,
            key=r.key().encode(),
            value=r.encode(),
            timestamp_ms=int(r.published_at.timestamp() * 1000),
        )
        for r in records
    ]
    producer.flush()
    for f in futures:
        f.get(timeout=30)
    producer.close()
    return records


def snapshot(url: str, write_times: bool = True) -> dict[str, list[tuple]]:
    """Every row of every sink table, sorted; without created/updated_at if asked."""
    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        for row_type in TABLES:
            table = row_type.__table__
            cols = [c for c in table.c if write_times or c.name not in WRITE_TIMES]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    engine.dispose()
    return out


def delete_day(url: str, day: datetime) -> int:
    """Delete the articles published on ``day`` and what only they referenced."""
    engine = create_engine(url)
    with engine.begin() as conn:
        in_day = (ArticleRow.published_at >= day) & (ArticleRow.published_at < day + timedelta(1))
        stories = set(conn.scalars(select(ArticleRow.story_id).where(in_day)))
        deleted = conn.execute(delete(ArticleRow).where(in_day)).rowcount
        conn.execute(delete(StoryRow).where(StoryRow.story_id.in_(stories)))
        used = select(ArticleEntityRow.canonical_id)
        conn.execute(delete(EntityRow).where(EntityRow.canonical_id.not_in(used)))
        sources = select(ArticleRow.source_id).where(ArticleRow.source_id.is_not(None))
        conn.execute(delete(SourceRow).where(SourceRow.source_id.not_in(sources)))
    engine.dispose()
    return deleted
