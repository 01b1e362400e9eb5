#!/usr/bin/env python3
"""The enricher's postings: one statement over an array vs an executemany, on PostgreSQL.

Every decided article adds its postings to the candidate indexes: about 40 band keys to
``dedup_bands`` and 8 story keys to ``story_article_keys``. Both ways, in the same run,
each into a fresh schema with the real tables, N entries of 40 + 8 random keys, one
transaction per 20 entries (a batch's decisions share one):

  baseline   SQLAlchemy executemany of one row per key (psycopg's pipeline): the code
             before ``transform.state_sql.insert_postings``
  array      ``insert_postings``: INSERT .. SELECT FROM unnest(keys), one per entry

Prints this process's CPU and the wall time per entry, and checks both stored every row.

    eval "$(deploy/local/stack env)"; export WIREDESK_TEST_DATABASE_URL
    .venv/bin/python bench/postings.py [--entries 5000] [--smoke] [--json PATH]
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import benchlib
from sqlalchemy import Table, func, select

from tests.reliability.harness.pipeline import drop_schema, fresh_schema
from transform.state_sql import insert_postings, insert_postings_each
from wiredesk import db
from wiredesk.db.dedup_tables import DedupBandRow, StoryKeyRow

TABLES: tuple[tuple[Table, int], ...] = (
    (DedupBandRow.__table__, 40),  # type: ignore[attr-defined]
    (StoryKeyRow.__table__, 8),  # type: ignore[attr-defined]
)
PER_TRANSACTION = 20


def run(admin_url: str, entries: list[tuple[int, int, list[list[int]]]], how: str) -> dict:
    write = insert_postings if how == "array" else insert_postings_each
    schema = f"bench_postings_{uuid.uuid4().hex[:8]}"
    engine = db.make_engine(fresh_schema(admin_url, schema))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(entries), PER_TRANSACTION):
            with engine.begin() as conn:
                for seq, at, keys in entries[i : i + PER_TRANSACTION]:
                    for (table, _), table_keys in zip(TABLES, keys, strict=True):
                        write(conn, table, table_keys, seq, at, seq * 7)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        with engine.connect() as conn:
            stored = [conn.scalar(select(func.count()).select_from(t)) for t, _ in TABLES]
    finally:
        engine.dispose()
        drop_schema(admin_url, schema)
    n = len(entries)
    return {
        "how": how,
        "cpu_ms_per_entry": cpu * 1000 / n,
        "wall_ms_per_entry": wall * 1000 / n,
        "stored": stored,
    }


def main(argv: list[str] | None = None) -> int:
    ap = benchlib.parser(__doc__)
    ap.add_argument("--entries", type=int, default=5000)
    ap.add_argument("--smoke", action="store_true", help="300 entries")
    args = ap.parse_args(argv)
    admin_url = benchlib.test_database_url(ap)
    n = 300 if args.smoke else args.entries
    rng = random.Random(1)
    entries = [
        (seq, 1_700_000_000 + seq, [[rng.getrandbits(62) for _ in range(k)] for _, k in TABLES])
        for seq in range(1, n + 1)
    ]
    want = [sum(len(set(e[2][i])) for e in entries) for i in range(len(TABLES))]
    results: list[dict[str, Any]] = []
    for how in ("baseline", "array", "baseline", "array"):  # twice, interleaved
        results.append(run(admin_url, entries, how))
    rows = [
        [r["how"], r["cpu_ms_per_entry"], r["wall_ms_per_entry"], "/".join(map(str, r["stored"]))]
        for r in results
    ]
    ok = all(r["stored"] == want for r in results)
    cpu = {
        h: min(r["cpu_ms_per_entry"] for r in results if r["how"] == h)
        for h in ("baseline", "array")
    }
    lines = [
        f"{n} entries of {' + '.join(str(k) for _, k in TABLES)} keys, "
        f"{PER_TRANSACTION} entries per transaction, each run into a fresh schema",
        benchlib.table(["how", "CPU ms/entry", "wall ms/entry", "rows stored"], rows),
        f"client CPU per entry, best of two: array / baseline = "
        f"{cpu['array'] / cpu['baseline']:.2f}",
        f"every run stored every posting ({want[0]} / {want[1]}): {ok}",
    ]
    data = {"entries": n, "runs": results}
    benchlib.results(
        "ENRICHER: postings as one array vs executemany", "\n".join(lines), data, args.json
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
