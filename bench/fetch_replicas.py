"""Benchmark: fetcher replicas on Kafka, politeness and throughput (issue 16).

``--hosts`` local news servers, each on its own loopback address (127.0.0.<n>) and each
serving ``Crawl-delay: --crawl-delay`` in its robots.txt; ``--per-host`` article links of
each are published to news.links; real ``wiredesk fetch`` processes of one consumer
group fetch them. Every request is logged by the host that received it. Runs, in one
command (``--runs``, ``<fetchers>:<keying>``):

* ``1:host``, ``2:host``, ``3:host``: news.links keyed by host (wiredesk.hostroute);
* ``3:url``: the old routing, keyed by URL (the baseline: one host on every fetcher);
* ``3:host:100``: a third field sets ``WIREDESK_FETCH_BATCH_SIZE`` (default 20);
* ``2+1:host``: two fetchers, and a third joins ``--join-after`` s into the run: the
  rebalance moves hosts to a new owner mid-run.

Printed per run: pages/s (pages / seconds from the first request to the last page),
the minimum gap between two requests to one host (robots.txt and tdmrep.json
included) over all hosts, how many hosts saw a gap under the Crawl-delay, and how many
hosts were requested by more than one fetcher.

    eval "$(deploy/local/stack env)"   # Kafka + PostgreSQL of your stack
    .venv/bin/python bench/fetch_replicas.py [--hosts 30 --per-host 4 --crawl-delay 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchlib import REPO, results, table
from sqlalchemy import create_engine, make_url, text

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests import hostroute_support as h  # noqa: E402
from wiredesk import db  # noqa: E402


def run_one(args: argparse.Namespace, spec: str, database_url: str, workdir: Path) -> dict:
    fetchers, keying, *batch = spec.split(":")
    first, _, late = fetchers.partition("+")
    n_first, n_late = int(first), int(late or 0)
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    bus = h.make_topics(args.bootstrap, namespace, args.partitions)
    env = h.fetch_env(args.bootstrap, namespace, database_url, args.partitions)
    if batch:
        env["WIREDESK_FETCH_BATCH_SIZE"] = batch[0]
    logs = workdir / namespace.rstrip(".")
    logs.mkdir()
    expected = args.hosts * args.per_host
    with h.hosts(args.hosts, args.crawl_delay) as servers:
        pool = h.Fetchers.start(n_first, env, logs)
        try:
            h.wait_stable(args.bootstrap, namespace + "fetch_pages", n_first)
            h.publish(bus, h.links(servers, args.per_host), keying)
            if n_late:
                time.sleep(args.join_after)
                more = h.Fetchers.start(n_late, env, logs, first_index=n_first)
                pool.procs.extend(more.procs)
            h.wait_pages(servers, expected, timeout=args.timeout)
        except AssertionError:
            print(pool.logs())
            raise
        finally:
            pool.stop()
            bus.close()
        reports = h.report(servers)
        span = h.page_span_s(servers)
        agents = {a for s in servers for _, _, _, a in s.request_hits}
        per_fetcher = sorted(
            (
                sum(1 for s in servers if any(x == a for _, _, _, x in s.request_hits))
                for a in agents
            ),
            reverse=True,
        )
    gaps = [r.min_gap_s for r in reports]
    return {
        "run": spec,
        "fetchers": n_first + n_late,
        "keying": keying,
        "pages": expected,
        "seconds": round(span, 2),
        "pages_per_s": round(expected / span, 2),
        "min_gap_s": round(min(gaps), 3),
        "median_host_min_gap_s": round(sorted(gaps)[len(gaps) // 2], 3),
        "hosts_under_delay": sum(g < args.crawl_delay for g in gaps),
        "hosts_on_many_fetchers": sum(r.clients > 1 for r in reports),
        "fetchers_used": len(agents),
        "hosts_per_fetcher": "/".join(map(str, per_fetcher)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hosts", type=int, default=30)
    ap.add_argument("--per-host", type=int, default=4, help="pages per host (<= 30)")
    ap.add_argument("--crawl-delay", type=float, default=2.0)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument(
        "--runs", default="1:url,1:host,2:host,3:host,3:url,3:host:100,1:host:100,2+1:host"
    )
    ap.add_argument("--join-after", type=float, default=8.0, help="for <n>+<m> runs")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json", help="also write the results as JSON here ('-': stdout)")
    args = ap.parse_args(argv)
    args.bootstrap = os.environ["WIREDESK_KAFKA_BOOTSTRAP"]
    pg = os.environ["WIREDESK_TEST_DATABASE_URL"]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"})
    database_url = url.render_as_string(hide_password=False)
    db.upgrade(database_url)
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fetch-replicas-") as tmp:
            for spec in args.runs.split(","):
                rows.append(run_one(args, spec.strip(), database_url, Path(tmp)))
                print(rows[-1], flush=True)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    headers = ["run (fetchers:keying)", "pages/s", "s", "min gap s", "median host gap s"]
    headers += ["hosts < delay", "hosts on >1 fetcher", "hosts per fetcher"]
    body = table(
        headers,
        [
            [
                r["run"],
                r["pages_per_s"],
                r["seconds"],
                r["min_gap_s"],
                r["median_host_min_gap_s"],
                r["hosts_under_delay"],
                r["hosts_on_many_fetchers"],
                r["hosts_per_fetcher"],
            ]
            for r in rows
        ],
        first=22,
    )
    title = (
        f"fetch replicas: {args.hosts} hosts x {args.per_host} pages, Crawl-delay "
        f"{args.crawl_delay:g} s, {args.partitions} partitions"
    )
    results(title, body, {"args": vars(args), "runs": rows}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
