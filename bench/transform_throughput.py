"""Enrich-stage throughput with and without NER, NER cost and savings, state bytes per article.

    eval "$(deploy/local/stack env)"   # PostgreSQL (a throwaway schema is created and dropped)
    .venv/bin/python bench/transform_throughput.py [--articles 1000] [--devset FILE] [--runs no-ner]

Runs the first N articles of the dedup dev set (build it first:
bench/build_transform_devsets.py), in published order, through the enrich stage
(``transform.enrich.EnrichArticles``: the code the services run) on PostgreSQL, one
process, three ways in the same run:

  baseline    the walking skeleton this replaced: exact duplicates only (one claim on the
              normalised-text hash per article), no stories, no entities
  no-ner      near-duplicates + stories, entities off (WIREDESK_NER_ENABLED=false)
  full        near-duplicates + stories + entities (the default)
  batched     no-ner as the service runs it: each batch of ``--batch`` articles decided
              in one transaction first (``EnrichArticles.prepare``), then processed

and prints articles/s, per-article latency percentiles, the time per step, how many
articles ran NER and how many copies reused their canonical's entities, the state's bytes
per article (pg_total_relation_size of the state tables, with their indexes and TOAST,
divided by the articles remembered: the dedup index, the story state, and both), the
SQL statements sent per article (an executemany counts once) and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import create_engine, event, make_url, text

from transform.enrich import EnrichArticles, EnrichOptions
from transform.evaluate import _published, as_article
from transform.state import stats
from wiredesk import db
from wiredesk.db import insert_for
from wiredesk.db.dedup_tables import ContentFingerprintRow
from wiredesk.records import Article

ROOT = Path(__file__).resolve().parents[1]


def exact_only(engine) -> Callable[[Article], object]:
    """The skeleton's enricher: claim the content hash, first claimer is canonical."""
    table = ContentFingerprintRow.__table__

    def process(record: Article) -> object:
        with engine.begin() as conn:
            claim = insert_for(engine, table).values(
                content_hash=record.content_hash, article_id=record.article_id
            )
            conn.execute(claim.on_conflict_do_nothing())
            return conn.scalar(
                text("SELECT article_id FROM content_fingerprints WHERE content_hash = :h"),
                {"h": record.content_hash},
            )

    return process


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def run(label: str, url: str, records: list[Article], make, batch: int) -> dict[str, object]:
    db.upgrade(url)
    engine = db.make_engine(url)
    process = make(engine)
    steps = ("fingerprint", "dedup", "ner", "reuse", "story")
    revised = sample("wiredesk_enrich_revision_records_total", how="pending")
    before = {s: sample("wiredesk_transform_step_seconds_sum", step=s) for s in steps}
    counts_before = {
        s: sample("wiredesk_transform_entity_source_total", source=s)
        for s in ("model", "reused", "fallback")
    }
    latencies = []
    sent = {"statements": 0}  # an executemany counts once

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_: object) -> None:
        sent["statements"] += 1

    prepare = getattr(process, "prepare", None) if label == "batched" else None
    prepared = 0.0
    cpu_started = time.process_time()
    started = time.perf_counter()
    for i in range(0, len(records), batch if prepare else 1):
        if prepare is not None:
            t0 = time.perf_counter()
            prepare(records[i : i + batch])
            prepared += time.perf_counter() - t0
        for record in records[i : i + batch] if prepare else [records[i]]:
            t0 = time.perf_counter()
            out = process(record)
            if not isinstance(out, str | None):
                list(out)  # the stage is a generator
            latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    result: dict[str, object] = {
        "run": label,
        "articles": len(records),
        "seconds": round(elapsed, 2),
        "articles_per_s": round(len(records) / elapsed, 1),
        "cpu_ms_per_article": round(cpu * 1000 / len(records), 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(sorted(latencies)[int(len(latencies) * 0.95)] * 1000, 2),
        "batch_decide_ms_per_article": round(prepared * 1000 / len(records), 2),
        "statements_per_article": round(sent["statements"] / len(records), 2),
    }
    result["revision_records"] = int(
        sample("wiredesk_enrich_revision_records_total", how="pending") - revised
    )
    for s in steps:
        spent = sample("wiredesk_transform_step_seconds_sum", step=s) - before[s]
        result[f"{s}_ms_per_article"] = round(spent * 1000 / len(records), 2)
    for s, n in counts_before.items():
        result[f"entities_{s}"] = int(
            sample("wiredesk_transform_entity_source_total", source=s) - n
        )
    tagged = int(result["entities_model"]) + int(result["entities_fallback"])
    reused = int(result["entities_reused"])
    ner_s = sample("wiredesk_transform_step_seconds_sum", step="ner") - before["ner"]
    reuse_s = sample("wiredesk_transform_step_seconds_sum", step="reuse") - before["reuse"]
    result["ner_ms_per_tagged"] = round(ner_s * 1000 / tagged, 2) if tagged else 0.0
    result["reuse_ms_per_copy"] = round(reuse_s * 1000 / reused, 2) if reused else 0.0
    if tagged and reused:  # what NER would have cost the copies, less what reuse did
        result["ner_seconds_saved"] = round(reused * ner_s / tagged - reuse_s, 1)
    if label != "baseline":
        figures = stats(engine)
        articles = max(1, int(figures["dedup_entries.rows"]))

        def per_article(*tables: str) -> int:
            return round(sum(int(figures.get(f"{t}.bytes") or 0) for t in tables) / articles)

        result["dedup_index_bytes_per_article"] = per_article(
            "dedup_entries", "dedup_bands", "content_fingerprints"
        )
        result["story_state_bytes_per_article"] = per_article(
            "story_state",
            "story_keys",
            "story_article_keys",  # before and after dedup_0001
        )
        result["state_bytes_per_article"] = figures["bytes_per_article"]
        result["state_rows_per_article"] = round(
            sum(v for k, v in figures.items() if k.endswith(".rows") and isinstance(v, int))
            / max(1, int(figures["dedup_entries.rows"])),
            1,
        )
    engine.dispose()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument(
        "--devset", type=Path, default=ROOT / "build" / "devsets" / "dedup_dev.jsonl"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--batch", type=int, default=100, help="articles per batch of the batched run"
    )
    parser.add_argument(
        "--order",
        choices=("published", "reversed"),
        default="published",
        help="arrival order (reversed: latest first, so late originals revise their copies)",
    )
    parser.add_argument(
        "--runs", default="baseline,no-ner,full", help="comma-separated subset of the runs"
    )
    args = parser.parse_args()
    base_url = os.environ.get("WIREDESK_TEST_DATABASE_URL")
    if not base_url:
        parser.error('no PostgreSQL: eval "$(deploy/local/stack env)" first')
    if not args.devset.exists():
        parser.error(f"{args.devset} missing: run bench/build_transform_devsets.py first")
    rows = [json.loads(line) for line in args.devset.open(encoding="utf-8")]
    rows.sort(key=lambda r: (_published(r), r["id"]))
    records = [as_article(r) for r in rows[: args.articles]]
    if args.order == "reversed":
        records.reverse()

    admin = create_engine(base_url)
    results = []
    runs = [
        ("baseline", exact_only),
        ("no-ner", lambda e: EnrichArticles(e, EnrichOptions(ner_enabled=False))),
        ("full", lambda e: _loaded(EnrichArticles(e, EnrichOptions()))),
        ("batched", lambda e: EnrichArticles(e, EnrichOptions(ner_enabled=False))),
    ]
    wanted = set(args.runs.split(","))
    for label, make in [r for r in runs if r[0] in wanted]:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            url_text = url.render_as_string(hide_password=False)
            results.append(run(label, url_text, records, make, args.batch))
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"runs": results, "peak_rss_mb": round(peak_mb)}))
        return 0
    keys = list(dict.fromkeys(k for r in results for k in r))
    print(f"{'':<26}" + "".join(f"{r['run']:>14}" for r in results))
    for key in keys[1:]:
        print(f"{key:<26}" + "".join(f"{str(r.get(key, '-')):>14}" for r in results))
    print(f"peak RSS (MB): {peak_mb:.0f}   load average: {os.getloadavg()[0]:.2f}")
    return 0


def _loaded(stage: EnrichArticles) -> EnrichArticles:
    stage.tagger  # noqa: B018 (load the model before the clock starts)
    return stage


if __name__ == "__main__":
    sys.exit(main())
