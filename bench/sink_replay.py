"""Benchmark: sink writes and replays on real Kafka + PostgreSQL.

Produces N invented enriched articles (each with 3 entity mentions, 50 stories, 1 in 6 a
duplicate) to a fresh namespace, then measures in one run:

  baseline   read + decode the topic with a bare KafkaConsumer (no database): the ceiling
  first      `replay --stage write_articles --from earliest` into empty tables (inserts)
  replay     the same again: every record already stored (the no-op upsert path)
  restore    delete one tenth of the articles, replay the whole topic again

Prints records/s, batch-time percentiles and peak RSS. Needs WIREDESK_KAFKA_BOOTSTRAP and
WIREDESK_TEST_DATABASE_URL (`eval "$(deploy/local/stack env)"`). The schema it creates
is dropped at the end.

    .venv/bin/python bench/sink_replay.py --records 10000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import create_engine, delete, func, make_url, select, text

from sink.articles import ArticleWriter
from wiredesk import db
from wiredesk.app.ops.replay import replay
from wiredesk.app.ops.replay_consumers import KafkaReplayConsumer
from wiredesk.bus.kafka import KafkaBus
from wiredesk.db.tables import ArticleRow
from wiredesk.records import EnrichedArticle, Entity
from wiredesk.stage import Stage
from wiredesk.topics import DLQ, ENRICHED

START = datetime(2026, 11, 1, tzinfo=UTC)
WORDS = [
    "officials",
    "said",
    "the",
    "strike",
    "at",
    "the",
    "port",
    "entered",
    "its",
    "third",
    "day",
    "as",
    "talks",
    "resumed",
]


def record(n: int) -> EnrichedArticle:
    body = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(400))
    text_ = f"Mara Velt visited Port Velmar. {body} Ivo Dranik replied."
    entities = [
        Entity(
            canonical_id="Q1", name="Mara Velt", label="PER", surface="Mara Velt", start=0, end=9
        ),
        Entity(
            canonical_id="Q10",
            name="Port Velmar",
            label="LOC",
            surface="Port Velmar",
            start=18,
            end=29,
        ),
        Entity(
            canonical_id=f"Q{100 + n % 200}",
            name=f"Person {n % 200}",
            label="PER",
            surface="Ivo Dranik",
            start=len(text_) - 18,
            end=len(text_) - 8,
        ),
    ]
    published = START + timedelta(minutes=n)
    return EnrichedArticle(
        article_id=f"{n:032x}",
        url=f"https://outlet{n % 40}.example/a/{n}",
        title=f"Report {n}",
        text=text_,
        site_name=f"Outlet {n % 40}",
        published_at=published,
        discovered_at=published,
        fetched_at=published,
        extractor_version="trafilatura-2.3.1",
        content_hash=f"{n:064x}",
        duplicate_of=f"{n - 1:032x}" if n % 6 == 5 else None,
        story_id=f"s{n % 50}",
        entities=entities,
    )


def produce(bootstrap: str, ns: str, n: int) -> None:
    bus = KafkaBus(bootstrap, partitions=6, namespace=ns)
    bus.ensure_topics([ENRICHED.name, DLQ.name])
    bus.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    for i in range(n):
        r = record(i)
        producer.send(ns + ENRICHED.name, key=r.key().encode(), value=r.encode())
    producer.flush()
    producer.close()


def baseline(bootstrap: str, ns: str, n: int) -> float:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=16 * 1024 * 1024
    )
    topic = ns + ENRICHED.name
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.seek_to_beginning()
    started, seen = time.perf_counter(), 0
    while seen < n:
        for records in consumer.poll(timeout_ms=1000, max_records=500).values():
            for r in records:
                EnrichedArticle.decode(r.value)
                seen += 1
    consumer.close()
    return n / (time.perf_counter() - started)


def run_replay(bootstrap: str, ns: str, engine, label: str) -> dict:  # type: ignore[no-untyped-def]
    bus = KafkaBus(bootstrap, namespace=ns)
    stage = Stage("write_articles", ENRICHED, sink=ArticleWriter(engine), batch_size=100)
    group = f"bench.{label}.{uuid.uuid4().hex[:6]}"
    consumer = KafkaReplayConsumer(bootstrap, ENRICHED.name, group, None, None, ns)
    marks: list[float] = [time.perf_counter()]
    result = replay(
        stage,
        bus,
        consumer,
        group,
        on_progress=lambda done, total: marks.append(time.perf_counter()),
    )
    bus.close()
    batches = sorted(b - a for a, b in zip(marks, marks[1:], strict=False))
    q = statistics.quantiles(batches, n=100) if len(batches) > 1 else [batches[0]] * 99
    return {
        "label": label,
        "records": result.replayed,
        "per_s": result.rate,
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    bootstrap = os.environ["WIREDESK_KAFKA_BOOTSTRAP"]
    admin_url = os.environ["WIREDESK_TEST_DATABASE_URL"]
    ns = f"bench{uuid.uuid4().hex[:8]}."
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url_s = url.render_as_string(hide_password=False)
    try:
        db.upgrade(url_s)
        engine = db.make_engine(url_s)
        t0 = time.perf_counter()
        produce(bootstrap, ns, args.records)
        print(f"produced {args.records} records in {time.perf_counter() - t0:.1f} s")
        baseline(bootstrap, ns, args.records)  # warm-up: the first read comes from disk
        rows = [
            {
                "label": "baseline (read+decode, no DB)",
                "records": args.records,
                "per_s": baseline(bootstrap, ns, args.records),
            }
        ]
        rows.append(run_replay(bootstrap, ns, engine, "first write (inserts)"))
        rows.append(run_replay(bootstrap, ns, engine, "replay (all unchanged)"))
        with engine.begin() as conn:
            conn.execute(delete(ArticleRow).where(ArticleRow.article_id.like("%0")))
            left = conn.scalar(select(func.count()).select_from(ArticleRow))
        rows.append(run_replay(bootstrap, ns, engine, f"restore ({args.records - left} deleted)"))
        with engine.connect() as conn:
            final = conn.scalar(select(func.count()).select_from(ArticleRow))
        engine.dispose()
        print(f"\n{'phase':<34}{'records':>9}{'rec/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for r in rows:
            print(
                f"{r['label']:<34}{r['records']:>9}{r['per_s']:>10.0f}"
                + "".join(f"{r.get(k, float('nan')):>9.1f}" for k in ("p50_ms", "p95_ms", "p99_ms"))
            )
        base = rows[0]["per_s"]
        for r in rows[1:]:
            print(f"{r['label']}: {r['per_s'] / base:.0%} of the baseline")
        print(f"rows after restore: {final} (expected {args.records}); batch = 100 records")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MiB; load average: {os.getloadavg()[0]:.2f}")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
