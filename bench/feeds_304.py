"""Benchmark: re-polling unchanged feeds with conditional GET vs unconditional polling.

Serves N feeds from the local news server (copies of the demo outlets' feeds at distinct
URLs), polls them all once (cold), then measures in the same run:

* conditional re-poll: the poller's normal ETag/Last-Modified requests -> 304s;
* baseline: the same re-poll with the stored validators wiped first, i.e. unconditional
  GETs that download and parse every feed (what crawlers without conditional GET do).

Both rounds must publish 0 new records. Prints requests, share of 304 answers, bytes
sent by the server, wall time and feeds/s.

    .venv/bin/python bench/feeds_304.py [--feeds 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

from devserver.server import NewsServer, load_corpus
from ingest.feeds import FeedPoller
from ingest.http import FetchOptions, make_client
from ingest.registry import FeedSpec
from ingest.sandbox import Sandbox
from wiredesk import db
from wiredesk.bus.memory import MemoryBus
from wiredesk.db.feed_tables import FeedRow
from wiredesk.runner import publish_from
from wiredesk.topics import LINKS


def _round(name: str, poller: FeedPoller, bus: MemoryBus, server: NewsServer) -> dict:
    server.reset_log()
    sent_before = server.bytes_sent
    started = time.perf_counter()
    published = publish_from(poller, bus, LINKS.name)
    seconds = time.perf_counter() - started
    counts = server.status_counts
    requests = sum(counts.values())
    return {
        "round": name,
        "requests": requests,
        "304": counts.get(304, 0),
        "share_304": counts.get(304, 0) / requests if requests else 0.0,
        "new_records": published,
        "body_bytes": server.bytes_sent - sent_before,
        "seconds": seconds,
        "feeds_per_s": requests / seconds if seconds else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Sandbox(workers=2, timeout_s=10) as sandbox:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        with NewsServer(load_corpus(), mirror_feeds=args.feeds) as server:
            opts = FetchOptions(
                user_agent="wiredesk-bench/1.0", allow_loopback_ports=frozenset({server.port})
            )
            poller = FeedPoller(
                engine,
                make_client(opts),
                opts,
                config=[FeedSpec(u) for u in server.mirror_feed_urls()],
                sandbox=sandbox,
                force=True,  # every round polls every feed, whatever the schedule says
            )
            bus = MemoryBus(partitions=1)
            rows = [_round("cold (first poll)", poller, bus, server)]
            rows.append(_round("conditional re-poll", poller, bus, server))
            with engine.begin() as conn:  # baseline: forget the validators
                conn.execute(update(FeedRow).values(etag=None, last_modified=None))
            rows.append(_round("baseline: unconditional", poller, bus, server))
        engine.dispose()
    print(f"{args.feeds} feeds on the local news server (one host, 1 request at a time)")
    print(
        f"{'round':<26}{'requests':>9}{'304s':>7}{'304 %':>8}{'new':>6}"
        f"{'body bytes':>13}{'seconds':>9}{'feeds/s':>9}"
    )
    for r in rows:
        print(
            f"{r['round']:<26}{r['requests']:>9}{r['304']:>7}{r['share_304']:>8.1%}"
            f"{r['new_records']:>6}{r['body_bytes']:>13,}{r['seconds']:>9.2f}"
            f"{r['feeds_per_s']:>9.0f}"
        )
    cond, base = rows[1], rows[2]
    print(
        f"conditional vs unconditional: {base['seconds'] / cond['seconds']:.1f}x faster, "
        f"{cond['body_bytes']:,} vs {base['body_bytes']:,} body bytes; "
        f"new records {cond['new_records']} and {base['new_records']}"
    )
    ok = cond["new_records"] == 0 and cond["share_304"] >= 0.95 and base["new_records"] == 0
    print("PASS" if ok else "FAIL", "(0 new records and >= 95% 304 on the re-poll)")


if __name__ == "__main__":
    main()
