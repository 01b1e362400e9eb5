"""`wiredesk dlq list` and `resend` on real Kafka + PostgreSQL: letters are summarised by
stage and reason; a resend re-publishes each original once, a second resend nothing."""

from __future__ import annotations

import base64

import pytest

from tests.integration.conftest import group_progress, wait_for
from tests.integration.test_ops_replay import wiredesk
from tests.integration.test_sink_delivery import enriched, produce
from wiredesk.bus.kafka import KafkaBus
from wiredesk.records import DeadLetter
from wiredesk.topics import DLQ, ENRICHED, RAW

pytestmark = pytest.mark.integration


def letter(n: int, stage: str, reason: str, source: str, value: bytes) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        source_topic=source,
        partition=0,
        offset=n,
        source_key=f"key-{n}",
        reason=reason,
        detail=f"detail {n}",
        original=base64.b64encode(value).decode(),
    )


def test_dlq_list_and_an_idempotent_resend(kafka_bootstrap, pg_url, unique, workers):
    ns = f"t{unique}."
    bus = KafkaBus(kafka_bootstrap, partitions=3, namespace=ns)
    bus.ensure_topics([DLQ.name, ENRICHED.name, RAW.name])
    good = [enriched(i) for i in range(3)]
    letters = [
        letter(i, "write_articles", "write_rejected", ENRICHED.name, r.encode())
        for i, r in enumerate(good)
    ]
    letters += [letter(10, "extract_articles", "too_short", RAW.name, b"{}")]
    for d in letters:
        bus.publish(DLQ.name, d.key(), d.encode())
    bus.flush()
    bus.close()
    produce(kafka_bootstrap, ns, [])  # the topics exist; news.enriched is empty

    listed = wiredesk(workers.env, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert "4 dead letters" in listed.stdout
    assert "write_rejected" in listed.stdout and "too_short" in listed.stdout

    first = wiredesk(workers.env, "dlq", "resend", "--stage", "write_articles")
    assert first.returncode == 0, first.stderr
    assert "re-published 3 dead letters" in first.stdout
    again = wiredesk(workers.env, "dlq", "resend", "--stage", "write_articles")
    assert "re-published 0 dead letters" in again.stdout and "3 had been" in again.stdout
    assert group_progress(kafka_bootstrap, f"{ns}nobody", f"{ns}{ENRICHED.name}") == (0, 3)
    assert group_progress(kafka_bootstrap, f"{ns}nobody", f"{ns}{RAW.name}") == (0, 0)

    # the re-sent originals are real records: the sink stores them
    workers.start("sink")
    wait_for(
        lambda: (
            group_progress(kafka_bootstrap, f"{ns}write_articles", f"{ns}{ENRICHED.name}") == (3, 3)
        ),
        60,
        "the sink to write the re-sent records",
    )
    listed = wiredesk(workers.env, "dlq", "list", "--reason", "write_rejected")
    assert "3 dead letters" in listed.stdout
    nothing = wiredesk(workers.env, "dlq", "list", "--reason", "no_such_reason")
    assert nothing.returncode == 3, nothing.stderr  # a read command that found nothing
