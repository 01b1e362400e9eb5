#!/usr/bin/env python3
"""NER: one document at a time (what the enrich stage does) vs spaCy batching and processes.

The enrich stage's pipeline (``transform.entities.load_pipeline``: the ner model + the
curated EntityRuler) on N BBC article texts, in the same run:

  baseline      nlp(text) per article, one at a time (EntityTagger.tag's call)
  pipe b=B      nlp.pipe(texts, batch_size=B) for B in --batch-sizes
  pipe n_proc   nlp.pipe(texts, batch_size=32, n_process=2): spaCy's own process pool
                (its start-up, a model load per process, is inside the timing)

Prints docs/s, per-document latency percentiles (for batches: the batch's time shared
by its documents, i.e. what an article waits is the whole batch), the speed-up over the
baseline, peak RSS of this process, and whether every mode found the same entities.

    .venv/bin/python bench/ner_batching.py [--docs 1000] [--smoke] [--json PATH]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import benchlib
from benchlib import pct

from transform.entities import MAX_CHARS, load_pipeline


def ents(doc: Any) -> tuple[tuple[int, int, str], ...]:
    return tuple((e.start_char, e.end_char, e.label_) for e in doc.ents)


def one_at_a_time(nlp: Any, docs: list[str]) -> tuple[dict, list]:
    times, found = [], []
    started = time.perf_counter()
    for text in docs:
        t = time.perf_counter()
        found.append(ents(nlp(text)))
        times.append(time.perf_counter() - t)
    return _row("baseline: nlp(text) one at a time", docs, started, times, times), found


def piped(nlp: Any, docs: list[str], batch: int, procs: int = 1) -> tuple[dict, list]:
    found, waits, shares = [], [], []
    started = last = time.perf_counter()
    for i, doc in enumerate(nlp.pipe(docs, batch_size=batch, n_process=procs)):
        found.append(ents(doc))
        if (i + 1) % batch == 0 or i + 1 == len(docs):
            now = time.perf_counter()
            size = (i % batch) + 1
            waits += [now - last] * size  # every article of the batch waited for all of it
            shares += [(now - last) / size] * size
            last = now
    name = f"nlp.pipe batch_size={batch}" + (f", n_process={procs}" if procs > 1 else "")
    return _row(name, docs, started, shares, waits), found


def _row(name: str, docs: list[str], started: float, per_doc: list, waits: list) -> dict:
    wall = time.perf_counter() - started
    return {
        "mode": name,
        "docs_per_s": len(docs) / wall,
        "ms_per_doc": [v * 1000 for v in pct(per_doc, 50, 95, 99)],
        "wait_ms": [v * 1000 for v in pct(waits, 50, 95, 99)],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--docs", type=int, default=1000, help="BBC articles tagged per mode")
    ap.add_argument("--batch-sizes", default="8,32,128", help="nlp.pipe batch sizes")
    ap.add_argument("--smoke", action="store_true", help="60 documents")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    args = ap.parse_args(argv)
    docs = [t[:MAX_CHARS] for t in benchlib.bbc_texts(60 if args.smoke else args.docs)]
    started = time.perf_counter()
    nlp = load_pipeline()
    load_s = time.perf_counter() - started
    nlp(docs[0])  # warm
    base, expected = one_at_a_time(nlp, docs)
    rows, same = [base], {}
    for b in (int(x) for x in args.batch_sizes.split(",")):
        row, found = piped(nlp, docs, b)
        rows.append(row)
        same[row["mode"]] = found == expected
    row, found = piped(nlp, docs, 32, procs=2)
    rows.append(row)
    same[row["mode"]] = found == expected
    data = {"docs": len(docs), "model_load_s": load_s, "rows": rows, "same_entities": same}
    data["peak_rss_mb"] = benchlib.self_peak_rss_mb()
    head = ["mode", "docs/s", "x base", "ms/doc p50", "p95", "wait p50", "wait p95", "wait p99"]
    table = benchlib.table(
        head,
        [
            [
                r["mode"],
                r["docs_per_s"],
                r["docs_per_s"] / base["docs_per_s"],
                *r["ms_per_doc"][:2],
                *r["wait_ms"],
            ]
            for r in rows
        ],
        first=36,
    )
    lines = [
        f"{len(docs)} BBC articles (avg {sum(map(len, docs)) / len(docs):.0f} chars); "
        f"model load {load_s:.1f} s",
        table,
        "wait = how long an article waits for its result (the whole batch, in a batch)",
        f"same entities as the baseline: {same}",
        f"peak RSS of this process (n_process workers not included): {data['peak_rss_mb']:.0f} MiB",
    ]
    benchlib.results(
        "NER: one at a time vs batching vs processes", "\n".join(lines), data, args.json
    )
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
