#!/usr/bin/env python3
"""Cost per article as the state grows (issue 17's growth curve): 5,000 -> 50,000 articles.

The end-to-end benchmark's corpus (``bench_corpus.build``: real BBC and ECB+ texts, then
invented originals, 35 % wire copies; by default the invented originals are real
sentences drawn at random with a quarter of their words replaced, ``--invented``)
published as a steady stream (``--per-day``, default 5,000 a day), in publication order,
through the two stages whose work depends on what came before, as the services run them,
batch by batch (``--batch``, default 100) on PostgreSQL:

  enrich   ``EnrichArticles.prepare`` (dedup, story and revision decisions of the batch in
           one transaction) then the stage per article, NER off: NER's cost does not
           depend on the state (its own sections of BENCHMARKS.md measure it)
  sink     ``ArticleWriter.write`` of the batch's outputs (articles, stories, entities)

Printed per slice of ``--slice`` articles (default 5,000): CPU ms per article of this
process (both stages) and of PostgreSQL, wall ms per article, and the state remembered
(dedup fingerprints, story keys, article rows); the first slice is the baseline each
later slice is compared with, in the same run. The state grows with every article (the
bench keeps all of it; retention would prune after ``transform_retention_days``), while a
story lookup reads only the 72-hour window: once the window is full (15,000 articles at
5,000 a day), later slices should cost what the slice before did.

    eval "$(deploy/local/stack env)"     # or ./dev bench state_growth
    .venv/bin/python bench/state_growth.py [--articles 50000] [--per-day 5000] [--smoke]

A fresh schema in ``WIREDESK_TEST_DATABASE_URL`` is created and dropped.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bench_corpus
import benchlib
from end_to_end import stack_pids
from sqlalchemy import Engine, text

from sink.articles import ArticleWriter
from tests.reliability.harness.pipeline import drop_schema, fresh_schema
from transform.enrich import EnrichArticles, EnrichOptions
from wiredesk import db
from wiredesk.records import Article

STATE_TABLES = {
    "fingerprints": "content_fingerprints",
    "story_keys": "story_article_keys",
    "article_rows": "articles",
}


def articles(n: int, per_day: int, invented: str = "mutated") -> list[Article]:
    """The corpus as enricher input; ``per_day``: published at that steady rate, ending now
    (0: the corpus's own times, all ``n`` within two days)."""
    _, corpus, _ = bench_corpus.build(n, invented=invented)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=n / max(1, per_day))
    out = []
    for i, a in enumerate(corpus):
        digest = hashlib.sha256(a.id.encode()).hexdigest()
        published = datetime.fromisoformat(a.published.replace("Z", "+00:00")).astimezone(UTC)
        if per_day:
            published = start + timedelta(days=i / per_day)
        out.append(
            Article(
                article_id=digest[:32],
                url=f"https://{a.site}.example/{a.slug}",
                title=a.title,
                text="\n".join(a.paragraphs),
                published_at=published,
                discovered_at=published,
                fetched_at=published,
                extractor_version="bench",
                content_hash=digest,
            )
        )
    return out


def cpu_of(pids: list[int]) -> float:
    return sum(benchlib.cpu_seconds(p) for pid in pids for p in benchlib.descendants(pid))


def run(
    records: list[Article], engine: Engine, pg: Callable[[], list[int]], args: Any, rows: list[dict]
) -> None:
    """The articles through enrich and the sink, batch by batch; a row per slice."""
    enricher = EnrichArticles(engine, EnrichOptions(ner_enabled=False))
    writer = ArticleWriter(engine)
    slice_at = time.monotonic()
    cpu_at, pg_at = time.process_time(), cpu_of(pg())
    print(f"{len(records):,} articles; a line per slice of {args.slice:,}", flush=True)
    for start in range(0, len(records), args.batch):
        batch = records[start : start + args.batch]
        enricher.prepare(batch)
        writer.write([out for record in batch for out in enricher(record)])
        done = start + len(batch)
        if done // args.slice > start // args.slice or done == len(records):
            n = done - (rows[-1]["articles"] if rows else 0)
            cpu, pg_cpu = time.process_time(), cpu_of(pg())
            with engine.connect() as conn:
                state = {
                    name: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for name, table in STATE_TABLES.items()
                }
            rows.append(
                {
                    "articles": done,
                    "cpu_ms": (cpu - cpu_at) * 1000 / n,
                    "pg_cpu_ms": (pg_cpu - pg_at) * 1000 / n,
                    "wall_ms": (time.monotonic() - slice_at) * 1000 / n,
                    **state,
                }
            )
            r = rows[-1]
            print(
                f"  {done:>7,} articles: CPU {r['cpu_ms']:.2f}, PostgreSQL {r['pg_cpu_ms']:.2f}, "
                f"wall {r['wall_ms']:.2f} ms/article",
                flush=True,
            )
            cpu_at, pg_at, slice_at = cpu, pg_cpu, time.monotonic()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=50_000, help="articles (default 50,000)")
    ap.add_argument("--slice", type=int, default=5_000, help="articles per reported slice")
    ap.add_argument("--batch", type=int, default=100, help="articles per batch (default 100)")
    ap.add_argument(
        "--per-day",
        type=int,
        default=5_000,
        help="articles published per day, a steady stream (default 5,000: the 72-hour story "
        "window then holds 15,000); 0 = the corpus's own times (all within two days)",
    )
    ap.add_argument(
        "--invented",
        choices=("mutated", "sampled", "templated"),
        default="mutated",
        help="originals beyond the real texts: real sentences drawn at random with a quarter "
        "of their words replaced (default: they share band keys about as often as real "
        "articles do, bench/corpus_overlap.py), the same unchanged (about 5x as often), or "
        "the end-to-end corpus's templated sentences (one band key in half of all articles)",
    )
    ap.add_argument("--smoke", action="store_true", help="1,000 articles in slices of 250")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.articles, args.slice = 1_000, 250
    admin = os.environ.get("WIREDESK_TEST_DATABASE_URL")
    if not admin:
        sys.exit('needs PostgreSQL: eval "$(deploy/local/stack env)" (or ./dev bench ...)')
    state_dir = Path(os.environ.get("WIREDESK_STACK_DIR", benchlib.REPO / ".stack"))
    pg = stack_pids(state_dir)["postgresql"]
    records = articles(args.articles, args.per_day, args.invented)
    schema = f"g_{os.getpid()}"
    engine = db.make_engine(fresh_schema(admin, schema))  # as the services make theirs
    rows: list[dict] = []
    interrupted = False
    # Ctrl-C or a TERM (also when started in the background, where INT is ignored) ends the
    # run with the slices measured so far, and the schema dropped
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    try:
        run(records, engine, pg, args, rows)
    except KeyboardInterrupt:  # the slices measured so far are still reported
        interrupted = True
    finally:
        engine.dispose()
        drop_schema(admin, schema)
    if not rows:
        return 1
    first = rows[0]
    table = benchlib.table(
        [
            "articles so far",
            "CPU ms/art",
            "x first",
            "PG ms/art",
            "wall ms/art",
            "x first",
            "fingerprints",
            "story keys",
            "rows",
        ],
        [
            [
                f"{r['articles']:,}",
                r["cpu_ms"],
                r["cpu_ms"] / first["cpu_ms"],
                r["pg_cpu_ms"],
                r["wall_ms"],
                r["wall_ms"] / first["wall_ms"],
                *(r[name] for name in STATE_TABLES),
            ]
            for r in rows
        ],
        first=16,
    )
    lines = [
        f"{len(records):,} articles of the end-to-end corpus ({args.invented} invented "
        "originals) in publication order, "
        + (f"{args.per_day:,} a day" if args.per_day else "its own times (two days)")
        + f", batches of {args.batch}: enrich (NER off) + sink on PostgreSQL; per slice "
        f"of {args.slice:,}",
        table,
        f"peak RSS of this process: {benchlib.self_peak_rss_mb():.0f} MiB",
    ]
    if interrupted:
        lines.append(f"INTERRUPTED after {rows[-1]['articles']:,} articles")
    data = {"articles": len(records), "batch": args.batch, "per_day": args.per_day, "slices": rows}
    benchlib.results("STATE GROWTH: cost per article, 5k -> 50k", "\n".join(lines), data, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
