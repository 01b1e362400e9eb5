"""The sink worker on real Kafka + PostgreSQL: a crash between the database write and the
offset commit redelivers the batch without duplicating a row; poison goes to the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select

from tests.integration.conftest import group_progress, wait_for
from wiredesk.bus.kafka import KafkaBus
from wiredesk.db.tables import ArticleRow
from wiredesk.records import DeadLetter, EnrichedArticle
from wiredesk.topics import DLQ, ENRICHED

pytestmark = pytest.mark.integration


def enriched(n: int) -> EnrichedArticle:
    return EnrichedArticle(
        article_id=f"{n:032d}",
        url=f"http://wire.example/{n}",
        title=f"Story {n}",
        text=f"Body {n}. " * 20,
        extractor_version="trafilatura-2.3.1",
        content_hash=f"{n:064d}",
        published_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


def produce(bootstrap: str, namespace: str, values: list[tuple[str | None, bytes]]) -> None:
    bus = KafkaBus(bootstrap, partitions=3, namespace=namespace)
    bus.ensure_topics([ENRICHED.name, DLQ.name])
    for key, value in values:
        bus.publish(ENRICHED.name, key, value)
    bus.flush()
    bus.close()


def row_stats(url: str) -> tuple[int, int, dict[str, datetime]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(ArticleRow))
        distinct = conn.scalar(select(func.count(func.distinct(ArticleRow.article_id))))
        updated = dict(conn.execute(select(ArticleRow.article_id, ArticleRow.updated_at)).all())
    engine.dispose()
    return total, distinct, updated


def test_crash_after_write_before_commit_redelivers_without_duplicates(
    workers, kafka_bootstrap, pg_url, unique
):
    ns = f"t{unique}."
    records = [enriched(i) for i in range(30)]
    produce(kafka_bootstrap, ns, [(r.key(), r.encode()) for r in records])
    group, topic = f"{ns}write_articles", f"{ns}{ENRICHED.name}"

    crashing = workers.start("sink", WIREDESK_CRASH_AT="after_output", WIREDESK_BATCH_SIZE="10")
    assert crashing.wait(90) == 137, workers.logs()
    written, _, before_restart = row_stats(pg_url)
    assert 0 < written <= 10  # the first batch reached the database...
    assert group_progress(kafka_bootstrap, group, topic) == (0, 30)  # ...but was not committed

    workers.start("sink", WIREDESK_BATCH_SIZE="10")
    wait_for(
        lambda: group_progress(kafka_bootstrap, group, topic) == (30, 30),
        90,
        "the restarted sink to commit all 30 offsets",
    )
    codes = workers.stop_all()
    assert codes["sink-1"] == 0, workers.logs()  # SIGTERM: finish, commit, exit cleanly

    total, distinct, after = row_stats(pg_url)
    assert total == distinct == 30
    # the redelivered batch was an idempotent no-op: the rows written before the crash
    # were not rewritten
    assert {k: after[k] for k in before_restart} == before_restart


def test_poison_messages_land_in_the_dlq_and_the_worker_goes_on(
    workers, kafka_bootstrap, pg_url, unique
):
    ns = f"t{unique}."
    good = [enriched(i) for i in range(10)]
    values = [(r.key(), r.encode()) for r in good[:5]]
    values += [("poison-1", b"\x00\x01 not json"), ("poison-2", b'{"schema": "other/9"}')]
    values += [(r.key(), r.encode()) for r in good[5:]]
    produce(kafka_bootstrap, ns, values)

    workers.start("sink")
    wait_for(
        lambda: (
            group_progress(kafka_bootstrap, f"{ns}write_articles", f"{ns}{ENRICHED.name}")
            == (12, 12)
        ),
        90,
        "the sink to commit past the poison messages",
    )
    assert workers.stop_all()["sink-0"] == 0

    total, _, _ = row_stats(pg_url)
    assert total == 10
    bus = KafkaBus(kafka_bootstrap, namespace=ns)
    reader = bus.consumer([DLQ.name], "dlq-reader")
    letters = []
    wait_for(lambda: letters.extend(reader.poll(50, 0.5)) or len(letters) >= 2, 30, "DLQ")
    reader.close()
    dead = sorted((DeadLetter.decode(m.value) for m in letters), key=lambda d: d.reason)
    assert [(d.reason, d.stage, d.source_key) for d in dead] == [
        ("decode_not_json", "write_articles", "poison-1"),
        ("decode_wrong_schema", "write_articles", "poison-2"),
    ]
