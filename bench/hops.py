#!/usr/bin/env python3
"""Where freshness goes: each article's time from topic to topic, after an end-to-end run.

Reads the topics an end-to-end run left on the broker (``bench/end_to_end.py`` prints no
namespace; list them with ``--list``) and takes, for each article id, the broker
timestamp (the producer's create time) of its first record in ``news.links``,
``news.raw``, ``news.articles`` and ``news.enriched``. Prints p50/p95/p99 of each hop for
the last ``--last`` articles to appear in ``news.links`` (default 1,900: about the paced
phase of a 5,000-article run), so the stage that holds articles longest shows.

    .venv/bin/python bench/hops.py --list
    .venv/bin/python bench/hops.py e2eda7b315c [--last 1900] [--json PATH]

The first hop starts after the poller published the link; the row's write (the sink) is
the end-to-end benchmark's own "polled -> row" minus these hops.
"""

from __future__ import annotations

import argparse
import json
import os

import benchlib
from benchlib import pct
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

TOPICS = ("news.links", "news.raw", "news.articles", "news.enriched")


def first_seen(bootstrap: str, topic: str) -> dict[str, float]:
    """Article id -> the broker timestamp (s) of its first record in ``topic``."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        seen: dict[str, float] = {}
        for message in consumer:
            try:
                article_id = json.loads(message.value).get("article_id")
            except (ValueError, AttributeError):
                continue
            if isinstance(article_id, str):
                seen.setdefault(article_id, message.timestamp / 1000)
        return seen
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("namespace", nargs="?", help="the run's topic prefix, e.g. e2eda7b315c")
    ap.add_argument("--list", action="store_true", help="list the namespaces on the broker")
    ap.add_argument("--last", type=int, default=1900, help="articles (the last to appear)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    args = ap.parse_args(argv)
    bootstrap = os.environ.get("WIREDESK_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    if args.list or not args.namespace:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        names = sorted({t.split(".")[0] for t in admin.list_topics() if t.endswith("news.links")})
        admin.close()
        print("\n".join(names) or "no namespaces with news.links")
        return 0 if args.list else 2
    prefix = args.namespace.rstrip(".") + "."
    seen = {topic: first_seen(bootstrap, prefix + topic) for topic in TOPICS}
    links = seen["news.links"]
    ids = sorted(links, key=links.__getitem__)[-args.last :]
    rows, data = [], {"namespace": args.namespace, "articles": len(ids), "hops": {}}
    for a, b in zip(TOPICS, TOPICS[1:], strict=False):
        waits = [seen[b][i] - seen[a][i] for i in ids if i in seen[a] and i in seen[b]]
        if not waits:
            continue
        p = pct(waits, 50, 95, 99)
        rows.append([f"{a} -> {b}", len(waits), *p])
        data["hops"][f"{a} -> {b}"] = {"n": len(waits), "p50_p95_p99_s": p}
    lines = [
        f"namespace {args.namespace}: the last {len(ids)} articles to appear in news.links",
        benchlib.table(["hop", "n", "p50 s", "p95 s", "p99 s"], rows, first=34),
    ]
    benchlib.results("FRESHNESS BY HOP", "\n".join(lines), data, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
