#!/usr/bin/env python3
"""The limit: extraction + NER alone on the benchmark articles, no Kafka, no database.

The irreducible CPU work of the pipeline on this machine: every article page, exactly as
the local news server renders it, through trafilatura (``ingest.sandbox_tasks.
extract_page``, called in-process: the sandbox's cost is pipeline overhead, not work)
and the enrich stage's spaCy tagger (``EntityTagger.tag``, one article at a time as the
stage does it). Measured in the same run, on the same articles:

  1 process, NER on every article                 (the issue's "one process" limit)
  1 process, NER skipped for duplicates           (they reuse their canonical's entities,
                                                   located in their own text, as enrich does;
                                                   a canonical outside the sample: nothing
                                                   to locate, so the reuse cost is a floor)
  N processes (default: one per core), both ways  (what the whole machine can do)

Duplicates are the end-to-end run's own verdicts (``--verdicts``, written by
bench/end_to_end.py) or, standalone, the corpus's wire-copy labels. Given the pipeline's
sustained articles/s (``--pipeline-rate``), prints ``pipeline / limit`` for each limit.

    .venv/bin/python bench/limit.py --articles 5000 --sample 1000   # standalone
    .venv/bin/python bench/limit.py --smoke

bench/end_to_end.py runs this script itself after the pipeline run (same articles) and
prints the ratio, so one command gives both figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import benchlib
import httpx

from devserver.server import NewsServer, load_corpus

_TAGGER: Any = None


def pages(corpus_dir: Path, sample: int) -> list[tuple[str, str, str]]:
    """(corpus id, url, html) of ``sample`` articles spread evenly over the corpus."""
    corpus = load_corpus(corpus_dir)
    arts = corpus.articles
    step = max(1, len(arts) // sample) if sample else 1
    chosen = arts[::step][: sample or None]
    with NewsServer(corpus, feed_limit=10) as server, httpx.Client() as client:
        return [
            (a.id, server.base_url + a.path, client.get(server.base_url + a.path).text)
            for a in chosen
        ]


def _init() -> None:
    global _TAGGER
    from transform.entities import EntityTagger

    _TAGGER = EntityTagger(recent_paragraphs=0)  # the work itself: nothing reused
    _TAGGER.tag("Warm-up: Mara Velt visited Port Velmar.")


def work(
    items: list[tuple[str, str, str]], dup_of: dict[str, str | None], skip_dups: bool
) -> dict[str, Any]:
    """Extract + tag ``items`` here; per-step CPU-side wall seconds and counts."""
    from ingest.sandbox_tasks import extract_page
    from transform.entities import locate

    if _TAGGER is None:
        _init()
    known: dict[str, list[Any]] = {}
    extract_s = ner_s = reuse_s = 0.0
    tagged = reused = empty = 0
    started = time.perf_counter()
    for cid, url, html in items:
        t0 = time.perf_counter()
        doc = extract_page(html, url)
        t1 = time.perf_counter()
        extract_s += t1 - t0
        if not doc or not doc["text"]:
            empty += 1
            continue
        canonical = dup_of.get(cid)
        if skip_dups and canonical:  # canonical not measured here: nothing to locate
            known[cid] = locate(doc["text"], known.get(canonical, []))
            reuse_s += time.perf_counter() - t1
            reused += 1
            continue
        known[cid] = _TAGGER.tag(doc["text"])
        ner_s += time.perf_counter() - t1
        tagged += 1
    wall = time.perf_counter() - started
    return {
        "articles": len(items),
        "wall_s": wall,
        "extract_s": extract_s,
        "ner_s": ner_s,
        "reuse_s": reuse_s,
        "tagged": tagged,
        "reused": reused,
        "empty": empty,
    }


def run_pool(
    items: list[tuple[str, str, str]], dup_of: dict[str, str | None], skip: bool, procs: int
) -> dict[str, Any]:
    """The items in ``procs`` contiguous shares (copies follow their originals)."""
    shares = [items[i * len(items) // procs : (i + 1) * len(items) // procs] for i in range(procs)]
    with ProcessPoolExecutor(procs, initializer=_init) as pool:
        list(pool.map(_noop, range(procs)))  # model loaded in every worker before timing
        started = time.perf_counter()
        parts = list(pool.map(work, shares, [dup_of] * procs, [skip] * procs))
        wall = time.perf_counter() - started
    total = {k: sum(p[k] for p in parts) for k in parts[0]}
    total["wall_s"] = wall
    return total


def _noop(_: int) -> None:
    return None


def measure(
    corpus_dir: Path,
    sample: int,
    dup_of: dict[str, str | None],
    procs: int,
) -> dict[str, Any]:
    started = time.perf_counter()
    items = pages(corpus_dir, sample)
    render_s = time.perf_counter() - started
    _init()
    work(items[:5], {}, False)  # warm trafilatura's caches
    runs = {
        "1 process, NER on all": work(items, dup_of, False),
        "1 process, NER skipped for duplicates": work(items, dup_of, True),
    }
    if procs > 1:
        runs[f"{procs} processes, NER on all"] = run_pool(items, dup_of, False, procs)
        runs[f"{procs} processes, NER skipped for duplicates"] = run_pool(
            items, dup_of, True, procs
        )
    for r in runs.values():
        r["per_s"] = r["articles"] / r["wall_s"]
    dups = sum(1 for cid, _, _ in items if dup_of.get(cid))
    return {
        "articles": len(items),
        "duplicates": dups,
        "render_s": render_s,
        "procs": procs,
        "runs": runs,
        "peak_rss_mb": benchlib.self_peak_rss_mb(),
    }


def report(data: dict[str, Any], pipeline_rate: float | None) -> str:
    rows = []
    for name, r in data["runs"].items():
        n = r["articles"]
        rows.append(
            [
                name,
                r["per_s"],
                r["extract_s"] * 1000 / n,
                r["ner_s"] * 1000 / max(1, r["tagged"]),
                r["tagged"],
                r["reused"],
                pipeline_rate / r["per_s"] if pipeline_rate else float("nan"),
            ]
        )
    head = ["limit run", "art/s", "extract ms", "NER ms/tagged", "tagged", "reused", "pipe/limit"]
    lines = [
        f"{data['articles']} articles ({data['duplicates']} duplicates by the verdicts); "
        f"pages rendered by the news server in {data['render_s']:.1f} s (not timed)",
        benchlib.table(head, rows, first=40),
    ]
    runs = list(data["runs"].values())
    for i in range(0, len(runs), 2):
        gain = runs[i + 1]["per_s"] / runs[i]["per_s"] - 1
        where = list(data["runs"])[i].split(",")[0]
        lines.append(f"gain from skipping NER for duplicates ({where}): {gain:+.1%}")
    if pipeline_rate:
        lines.append(f"pipeline sustained rate used for the ratios: {pipeline_rate:.2f} art/s")
    lines.append(f"peak RSS of this process: {data['peak_rss_mb']:.0f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, help="corpus dir (default: build one)")
    ap.add_argument("--articles", type=int, default=5000, help="corpus size when building")
    ap.add_argument("--wire-share", type=float, default=0.35, help="when building")
    ap.add_argument("--sample", type=int, default=1000, help="articles measured (0 = all)")
    ap.add_argument("--verdicts", type=Path, help="JSON {corpus id: canonical id or null}")
    ap.add_argument("--processes", type=int, default=0, help="pool size (0 = one per core)")
    ap.add_argument("--pipeline-rate", type=float, help="pipeline articles/s, for the ratio")
    ap.add_argument("--smoke", action="store_true", help="300-article corpus, 100 measured")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.articles, args.sample = 300, 100
    with tempfile.TemporaryDirectory(prefix="wiredesk-limit-") as tmp:
        corpus_dir = args.corpus
        if corpus_dir is None:
            import bench_corpus

            corpus_dir = Path(tmp) / "corpus"
            bench_corpus.write(corpus_dir, args.articles, args.wire_share)
        if args.verdicts:
            dup_of = json.loads(args.verdicts.read_text())
            source = f"pipeline verdicts ({args.verdicts.name})"
        else:
            dup_of = {a.id: a.wire_of for a in load_corpus(corpus_dir).articles}
            source = "corpus wire-copy labels"
        procs = args.processes or (os.cpu_count() or 1)
        data = measure(corpus_dir, args.sample, dup_of, procs)
    data["duplicates_from"] = source
    data["pipeline_rate"] = args.pipeline_rate
    benchlib.results(
        f"LIMIT: extraction + NER, no Kafka/DB (duplicates: {source})",
        report(data, args.pipeline_rate),
        data,
        args.json,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
