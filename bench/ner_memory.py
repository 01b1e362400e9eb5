#!/usr/bin/env python3
"""NER memory over a long run: tagging inside spaCy's memory zone (what the enricher does,
``EntityTagger.tag``) against plain ``nlp(text)`` (the baseline), each in its own fresh
process on the same BBC texts, in the same run.

Prints, every ``--step`` articles: the strings in the shared vocabulary, the process's
RSS, and CPU ms per article; then whether both modes found the same entities.

    .venv/bin/python bench/ner_memory.py [--docs 1500] [--step 300] [--smoke] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import benchlib


def rss_mb() -> float:
    return benchlib.status_kb(os.getpid(), "VmRSS") / 1024


def measure(mode: str, docs: int, step: int) -> dict[str, Any]:
    """Run in a child: tag ``docs`` texts in ``mode`` ("zone" or "plain")."""
    from transform.entities import MAX_CHARS, EntityTagger, canonicalise, mentions

    tagger = EntityTagger()
    texts = benchlib.bbc_texts(docs)
    points = [{"articles": 0, "strings": len(tagger.nlp.vocab.strings), "rss_mb": rss_mb()}]
    found, started = [], time.process_time()
    for n, text in enumerate(texts, 1):
        if mode == "zone":
            entities = tagger.tag(text)
        else:
            entities = canonicalise(mentions(tagger.nlp(text[:MAX_CHARS])), tagger.aliases)
        found.append([(e.canonical_id, e.start, e.end) for e in entities])
        if n % step == 0 or n == len(texts):
            points.append(
                {"articles": n, "strings": len(tagger.nlp.vocab.strings), "rss_mb": rss_mb()}
            )
    cpu_ms = (time.process_time() - started) / len(texts) * 1000
    return {"mode": mode, "points": points, "cpu_ms_per_article": cpu_ms, "found": found}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1500)
    parser.add_argument("--step", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="100 articles")
    parser.add_argument("--json", help="also write the figures as JSON (- = stdout)")
    parser.add_argument("--child", choices=("zone", "plain"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.docs, args.step = 100, 50
    if args.child:
        print(json.dumps(measure(args.child, args.docs, args.step)))
        return 0
    runs = {}
    for mode in ("plain", "zone"):  # each in a fresh process: RSS is the process's own
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                mode,
                "--docs",
                str(args.docs),
                "--step",
                str(args.step),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        runs[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    rows = []
    for base, zone in zip(runs["plain"]["points"], runs["zone"]["points"], strict=True):
        rows.append(
            (base["articles"], base["strings"], zone["strings"], base["rss_mb"], zone["rss_mb"])
        )
    body = benchlib.table(
        ["articles", "strings: plain", "strings: zone", "RSS MiB: plain", "RSS MiB: zone"], rows, 10
    )
    same = runs["plain"]["found"] == runs["zone"]["found"]
    body += (
        f"\nCPU ms per article: plain {runs['plain']['cpu_ms_per_article']:.1f}, "
        f"zone {runs['zone']['cpu_ms_per_article']:.1f}"
        f"\nsame entities in both modes: {same}"
    )
    data = {m: {k: v for k, v in r.items() if k != "found"} for m, r in runs.items()}
    benchlib.results("NER memory: memory zone vs plain, one process each", body, data, args.json)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
