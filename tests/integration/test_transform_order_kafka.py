"""Order independence on real Kafka + PostgreSQL: the same articles (the demo corpus's
invented reports and wire copies, plus a non-transitive chain A ~ B ~ C) published in
three shuffled orders, each enriched by one and by two ``wiredesk enrich`` workers and
written by ``wiredesk sink``, end with identical duplicate groups, canonicals and story
ids in PostgreSQL. Late originals and merges reach the rows as verdict revisions."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from sqlalchemy import create_engine, make_url, select, text

from tests.integration.conftest import Workers, group_progress, wait_for
from tests.transform_support import article, demo_articles
from wiredesk import db
from wiredesk.bus.kafka import KafkaBus
from wiredesk.db.tables import ArticleRow
from wiredesk.records import Article, EnrichedArticle, VerdictRevision
from wiredesk.topics import ALL_TOPICS, ARTICLES, ENRICHED

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
T0 = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)


def _articles() -> list[Article]:
    items = [a for a, _, _ in demo_articles()]
    by_slug = {a.url.rsplit("/", 1)[1]: a for a in items}
    p = by_slug["hh-0001"].text.split("\n\n", 1)[1]
    q = by_slug["np-0004"].text.split("\n\n", 1)[1]
    chain = [  # A ~ B ~ C, not A ~ C; C is the earliest
        article("chain-a", "A", f"A\n\n{p}", T0 + timedelta(hours=2)),
        article("chain-b", "B", f"B\n\n{p}\n\n{q}", T0 + timedelta(hours=1)),
        article("chain-c", "C", f"C\n\n{q}", T0),
    ]
    return [*items, *chain]


def _members(bootstrap: str, group: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        description = admin.describe_groups([group]).get(group) or {}
        return len(description.get("members") or [])
    finally:
        admin.close()


def _revisions(bootstrap: str, topic: str) -> int:
    """Verdict revision records on the enriched topic (group-less read from the start)."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=1500
    )
    try:
        decoded = [EnrichedArticle.decode(m.value) for m in consumer]
    finally:
        consumer.close()
    return sum(isinstance(r, VerdictRevision) for r in decoded)


def _schema(postgres_url: str, name: str) -> str:
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={name}"})
    rendered = url.render_as_string(hide_password=False)
    db.upgrade(rendered)
    return rendered


def _run(
    records: list[Article], enrichers: int, bootstrap: str, postgres_url: str, logs: Path
) -> tuple[dict[str, tuple[str | None, str | None]], int]:
    tag = uuid.uuid4().hex[:10]
    ns, url = f"o{tag}.", _schema(postgres_url, f"o_{tag}")
    bus = KafkaBus(bootstrap, partitions=3, namespace=ns)
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    env = {
        "WIREDESK_BUS": "kafka",
        "WIREDESK_KAFKA_BOOTSTRAP": bootstrap,
        "WIREDESK_DATABASE_URL": url,
        "WIREDESK_NAMESPACE": ns,
        "WIREDESK_POLL_TIMEOUT_S": "0.5",
        "WIREDESK_LOG_FORMAT": "json",
        "WIREDESK_PARTITIONS": "3",
        "WIREDESK_NER_ENABLED": "false",
        "WIREDESK_BATCH_SIZE": "4",  # many small batches: workers interleave
    }
    logs.mkdir(parents=True, exist_ok=True)
    pool = Workers(env, logs)
    try:
        for _ in range(enrichers):
            pool.start("enrich")
        pool.start("sink")
        wait_for(
            lambda: _members(bootstrap, ns + "enrich_articles") == enrichers,
            90,
            f"{enrichers} enrich workers in the group",
        )
        for r in records:
            bus.publish(ARTICLES.name, r.key(), r.encode())
        bus.flush()

        def settled() -> bool:
            done, end = group_progress(bootstrap, ns + "enrich_articles", ns + ARTICLES.name)
            if not done == end == len(records):
                return False
            done, end = group_progress(bootstrap, ns + "write_articles", ns + ENRICHED.name)
            return done == end > 0

        wait_for(settled, 180, "every article enriched and every output written")
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(
                select(ArticleRow.article_id, ArticleRow.duplicate_of, ArticleRow.story_id)
            ).all()
        engine.dispose()
        revised = _revisions(bootstrap, ns + ENRICHED.name)
    finally:
        codes = pool.stop_all(timeout=20)
        bus.close()
        admin = create_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "o_{tag}" CASCADE'))
        admin.dispose()
    assert set(codes.values()) == {0}, (codes, pool.logs())  # SIGTERM: a clean exit
    return {r.article_id: (r.duplicate_of, r.story_id) for r in rows}, revised


def test_three_orders_with_one_and_two_enrichers_give_identical_verdicts(
    kafka_bootstrap, postgres_url, tmp_path
):
    records = _articles()
    orders = {"published": sorted(records, key=lambda a: (a.published_at, a.article_id))}
    orders["reversed"] = orders["published"][::-1]
    orders["shuffled"] = random.Random(7).sample(records, len(records))
    results, revised = {}, {}
    for name, order in orders.items():
        for enrichers in (1, 2):
            results[name, enrichers], revised[name, enrichers] = _run(
                order, enrichers, kafka_bootstrap, postgres_url, tmp_path / f"{name}{enrichers}"
            )
    assert revised["reversed", 1] > 0, "late originals revised their copies' verdicts"
    reference = results["published", 1]
    assert len(reference) == len(records)
    for key, verdicts in results.items():
        assert verdicts == reference, key
    # the earliest copy of each wire group is its original
    wire = {a.article_id: w for a, w, _ in demo_articles()}
    when = {a.article_id: a.published_at for a in records}
    groups: dict[str, set[str]] = {}
    for article_id, (dup, _) in reference.items():
        groups.setdefault(dup or article_id, set()).add(article_id)
    multi = [g for g in groups.values() if len(g) > 1]
    assert len(multi) == 3  # the demo's three wire groups (the chain joins one: A is hh-0001)
    for canonical, members in groups.items():
        assert canonical == min(members, key=lambda i: (when[i], i))
    group_of = {m: frozenset(g) for g in groups.values() for m in g}
    for article_id, wire_of in wire.items():
        if wire_of:
            assert group_of[article_id] == group_of[wire_of]
    chain = {a.article_id for a in records[-3:]}
    assert len({group_of[i] for i in chain}) == 1
