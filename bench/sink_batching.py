#!/usr/bin/env python3
"""Sink upserts: batched (the sink's way) vs row at a time, rows/s on PostgreSQL.

The same N invented enriched articles (bench/sink_replay.py's generator: ~2.8 KB of
text, 3 entity mentions, 50 stories, 1 in 6 a duplicate) written by the sink's own
``ArticleWriter.write`` (every table, one transaction per call), in the same run, each
into a fresh empty schema:

  baseline   write([record]) per record: one transaction per row
  batch=B    write(records[i:i+B]) for B in --batch-sizes (the services use 100)

Then, in the same run, the batched modes again with the upserts as multi-row VALUES
statements (``--upserts``): how ``wiredesk.db.upsert_many`` wrote them before it became a
plain executemany (psycopg's pipeline), for the same-run comparison.

Prints rows/s, the speed-up over the baseline, per-call latency percentiles, the
latency and this process's CPU per row, and checks every run stored all N rows. No
Kafka: bench/sink_replay.py measures the same writer fed from the topic (and replays).

    eval "$(deploy/local/stack env)"; export WIREDESK_TEST_DATABASE_URL
    .venv/bin/python bench/sink_batching.py [--records 3000] [--smoke] [--json PATH]
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import benchlib
from benchlib import pct
from sink_replay import record
from sqlalchemy import func, select

import sink.articles
import sink.entity_names
import sink.revisions
import sink.stories
from sink.articles import ArticleWriter
from tests.reliability.harness.pipeline import drop_schema, fresh_schema
from wiredesk import db
from wiredesk.db.tables import ArticleRow

UPSERT_USERS = (sink.articles, sink.entity_names, sink.revisions, sink.stories)


def values_upsert(conn: Any, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """``upsert_many`` before: RETURNING, so SQLAlchemy sends multi-row VALUES statements."""
    if conn.dialect.name == "postgresql":
        stmt = stmt.returning(*stmt.table.primary_key.columns)
    conn.execute(stmt, rows)


@contextlib.contextmanager
def upserts(kind: str) -> Iterator[None]:
    """The sink's modules use ``values_upsert`` within the block when ``kind`` is "values"."""
    if kind != "values":
        yield
        return
    saved = [m.upsert_many for m in UPSERT_USERS]
    for m in UPSERT_USERS:
        m.upsert_many = values_upsert
    try:
        yield
    finally:
        for m, f in zip(UPSERT_USERS, saved, strict=True):
            m.upsert_many = f


def run(admin_url: str, records: list[Any], batch: int, kind: str = "") -> dict[str, Any]:
    schema = f"bench_sink_{uuid.uuid4().hex[:8]}"
    url = fresh_schema(admin_url, schema)
    engine = db.make_engine(url)
    try:
        writer = ArticleWriter(engine)
        calls = []
        started, cpu = time.perf_counter(), time.process_time()
        with upserts(kind):
            for i in range(0, len(records), batch):
                t = time.perf_counter()
                writer.write(records[i : i + batch])
                calls.append(time.perf_counter() - t)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(ArticleRow))
    finally:
        engine.dispose()
        drop_schema(admin_url, schema)
    mode = "baseline: row at a time" if batch == 1 else f"batch={batch}"
    return {
        "mode": f"{mode}, {kind} upserts" if kind else mode,
        "batch": batch,
        "upserts": kind or "executemany",
        "rows_per_s": len(records) / wall,
        "call_ms": [v * 1000 for v in pct(calls, 50, 95, 99)],
        "ms_per_row": wall * 1000 / len(records),
        "cpu_ms_per_row": cpu * 1000 / len(records),
        "stored": stored,
    }


def main(argv: list[str] | None = None) -> int:
    ap = benchlib.parser(__doc__)
    ap.add_argument("--records", type=int, default=3000)
    ap.add_argument("--batch-sizes", default="10,100,500", help="besides the row-at-a-time")
    ap.add_argument(
        "--upserts",
        default="10,100",
        help="batch sizes run again with multi-row VALUES upserts (before); '' for none",
    )
    ap.add_argument("--smoke", action="store_true", help="300 records")
    args = ap.parse_args(argv)
    admin_url = benchlib.test_database_url(ap)
    n = 300 if args.smoke else args.records
    records = [record(i) for i in range(n)]
    rows = [run(admin_url, records, 1)]
    rows += [run(admin_url, records, int(b)) for b in args.batch_sizes.split(",")]
    rows += [run(admin_url, records, int(b), "values") for b in args.upserts.split(",") if b]
    base = rows[0]["rows_per_s"]
    head = ["mode", "rows/s", "x base", "call p50 ms", "p95 ms", "p99 ms", "ms/row"]
    table = benchlib.table(
        [*head, "CPU ms/row", "stored"],
        [
            [r["mode"], r["rows_per_s"], r["rows_per_s"] / base, *r["call_ms"]]
            + [r["ms_per_row"], r["cpu_ms_per_row"], r["stored"]]
            for r in rows
        ],
    )
    ok = all(r["stored"] == n for r in rows)
    lines = [
        f"{n} enriched articles per mode, each into a fresh schema (ArticleWriter.write)",
        table,
        f"every run stored all {n} rows: {ok}",
        f"peak RSS of this process: {benchlib.self_peak_rss_mb():.0f} MiB",
    ]
    data = {"records": n, "rows": rows}
    benchlib.results("SINK: batched vs row-at-a-time upserts", "\n".join(lines), data, args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
