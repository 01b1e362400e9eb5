"""Acceptance of the transform through real Kafka + PostgreSQL, with `wiredesk enrich`
worker processes in one consumer group.

The five seed reports (read at run time from ../shared/data) and two invented wire copies
of each travel news.articles -> enrich workers -> news.enriched. One worker crashes
mid-stream after publishing a batch but before committing it, and a restarted worker
takes over; then news.articles is replayed from the start by a new consumer group.
Every record ever published for an article with the same revision must carry the same
verdict, and the newest says what the seeds are.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from sqlalchemy import func, select

from tests.integration.conftest import group_progress, wait_for
from tests.transform_support import seed_articles
from transform.enrich import EnrichArticles
from wiredesk import db
from wiredesk.bus.kafka import KafkaBus
from wiredesk.db.dedup_tables import DedupEntryRow
from wiredesk.records import EnrichedArticle, VerdictRevision
from wiredesk.runner import StageRunner
from wiredesk.stage import Stage
from wiredesk.topics import ALL_TOPICS, ARTICLES, ENRICHED

pytestmark = pytest.mark.integration

VARIANTS = {
    "bakhmut": {"Bakhmut", "Bahmut", "Bachmut"},
    "graivoron": {"Graivoron", "Grayvoron"},
    "freedom-of-russia-legion": {"Liberty of Russia Legion", "Freedom of Russia Legion"},
}
RECOGNISED = {
    "vyacheslav-gladkov": "Vyacheslav Gladkov",
    "belgorod": "Belgorod",
    "graivoron": "Graivoron",
    "bakhmut": "Bakhmut",
    "russian-volunteer-corps": "Russian Volunteer Corps",
    "freedom-of-russia-legion": "Freedom of Russia Legion",
    "volodymyr-zelensky": "Volodymyr Zelensky",
}


def _enriched(bootstrap: str, topic: str) -> dict[str, list[EnrichedArticle]]:
    """Every record on the enriched topic, by article id (group-less read from the start)."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=1500
    )
    out: dict[str, list[EnrichedArticle]] = defaultdict(list)
    try:
        for message in consumer:
            record = EnrichedArticle.decode(message.value)
            assert isinstance(record, EnrichedArticle | VerdictRevision)
            out[record.article_id].append(record)
    finally:
        consumer.close()
    return out


def _members(bootstrap: str, group: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        description = admin.describe_groups([group]).get(group) or {}
        return len(description.get("members") or [])
    finally:
        admin.close()


def test_seeds_and_copies_through_two_workers_survive_a_crash_and_a_replay(
    workers, kafka_bootstrap, pg_url, unique
):
    seeds, copies = seed_articles()
    ns = f"t{unique}."
    bus = KafkaBus(kafka_bootstrap, partitions=3, namespace=ns)
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    group = ns + "enrich_articles"

    steady = workers.start("enrich")
    # The second worker dies (os._exit) after publishing its first batch, before the
    # commit: that batch is redelivered to the other worker and re-decided.
    crashing = workers.start("enrich", WIREDESK_CRASH_AT="after_output", WIREDESK_BATCH_SIZE="2")
    wait_for(lambda: _members(kafka_bootstrap, group) == 2, 90, "two workers in the group")

    for a in seeds:
        bus.publish(ARTICLES.name, a.key(), a.encode())
    bus.flush()
    wait_for(
        lambda: (
            {s.article_id for s in seeds} <= set(_enriched(kafka_bootstrap, ns + ENRICHED.name))
        ),
        120,
        "the seeds enriched",
    )
    for c, _ in copies:  # republished later, as wire copies are
        bus.publish(ARTICLES.name, c.key(), c.encode())
    bus.flush()
    assert crashing.wait(120) == 137, workers.logs()
    restarted = workers.start("enrich")  # the restarted worker rejoins the group
    everything = [*seeds, *(c for c, _ in copies)]
    wait_for(
        lambda: (lambda c, e: c == e == len(everything))(
            *group_progress(kafka_bootstrap, group, ns + ARTICLES.name)
        ),
        120,
        "every article committed by the group",
    )
    first_pass = _enriched(kafka_bootstrap, ns + ENRICHED.name)
    assert set(first_pass) >= {a.article_id for a in everything}

    # Replay news.articles from the start with a new consumer group (same stage code).
    engine = db.make_engine(pg_url)
    stage = Stage("enrich_articles", ARTICLES, EnrichArticles(engine), output=ENRICHED)
    replay = StageRunner(stage, bus, group="enrich_articles_replay")
    replay_group = ns + "enrich_articles_replay"
    for _ in range(60):
        replay.run_batch()
        done, end = group_progress(kafka_bootstrap, replay_group, ns + ARTICLES.name)
        if done == end == len(everything):
            break
    replay.consumer.close()
    published = _enriched(kafka_bootstrap, ns + ENRICHED.name)
    full = {i: [r for r in rs if isinstance(r, EnrichedArticle)] for i, rs in published.items()}
    assert all(len(full[a.article_id]) >= 2 for a in everything)  # the replay's too

    # Every record of an article with one revision, from any worker, the redelivery or
    # the replay, agrees; the newest revision is the verdict (stories merge as seeds come).
    verdict = {}
    for article_id, records in published.items():
        by_revision = defaultdict(set)
        for r in records:
            by_revision[r.revision].add((r.duplicate_of, r.story_id, r.similarity))
        assert all(len(d) == 1 for d in by_revision.values()), (article_id, by_revision)
        full = [r for r in records if isinstance(r, EnrichedArticle)]
        newest = max(records, key=lambda r: r.revision)
        verdict[article_id] = full[-1].model_copy(
            update={"duplicate_of": newest.duplicate_of, "story_id": newest.story_id}
        )

    # Five distinct canonical articles in one story; every copy flagged as its original's.
    assert [verdict[s.article_id].duplicate_of for s in seeds] == [None] * 5
    (story,) = {verdict[s.article_id].story_id for s in seeds}
    for c, original in copies:
        assert verdict[c.article_id].duplicate_of == original.article_id
        assert verdict[c.article_id].story_id == story

    # Named entities recognised, with spelling variants merged into one canonical entity.
    names: dict[str, set[str]] = defaultdict(set)
    surfaces: dict[str, set[str]] = defaultdict(set)
    for s in seeds:
        for e in verdict[s.article_id].entities:
            names[e.canonical_id].add(e.name)
            surfaces[e.canonical_id].add(e.surface)
    for canonical_id, name in RECOGNISED.items():
        assert names[canonical_id] == {name}, canonical_id
    for canonical_id, variants in VARIANTS.items():
        assert variants <= surfaces[canonical_id], canonical_id
    zelensky = {s.removeprefix("Volodymyr ") for s in surfaces["volodymyr-zelensky"]}
    assert {"Zelensky", "Zelenskyy", "Zelenskiy"} <= zelensky

    # One state row per article: redelivery and replay added none.
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DedupEntryRow)) == len(everything)
    engine.dispose()
    bus.close()
    assert steady.poll() is None and restarted.poll() is None, json.dumps(workers.logs()[-2000:])
