#!/usr/bin/env python3
"""How often distinct originals share dedup band keys: the bench corpus's invented texts
against real news (the baseline, in the same run).

Two distinct articles that share a band key are a dedup candidate pair to verify, so the
share of such pairs sets how a dedup lookup's cost grows with the state. The growth bench
(``bench/state_growth.py``) needs invented originals that share keys about as rarely as
real ones: for each kind, ``--articles`` distinct originals (no copies), and per article
the number of others sharing at least one band key (mean, p99) and the largest posting
list, scaled to 1,000 articles.

    .venv/bin/python bench/corpus_overlap.py [--articles 2000]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_corpus  # noqa: E402
import benchlib  # noqa: E402

from tests.reliability.harness import corpus as rel  # noqa: E402
from transform.dedup import fingerprint  # noqa: E402


def texts(kind: str, n: int) -> list[tuple[str, str]]:
    """``n`` distinct originals of one kind as (title, body)."""
    if kind == "real":
        real = list(bench_corpus.real_texts())[:n]
        return [(t, "\n".join(p)) for t, p, _ in real]
    rng = random.Random(11)
    if kind == "templated":
        return [(f"news {i}", "\n".join(rel._invented_paragraphs(rng))) for i in range(n)]
    pool, words = bench_corpus.sentence_pool()
    swap = bench_corpus.SWAP[kind]
    return [
        (f"news {i}", "\n".join(bench_corpus._sampled_paragraphs(rng, pool, words, swap)))
        for i in range(n)
    ]


def overlap(docs: list[tuple[str, str]]) -> dict[str, float]:
    bands = [set(fingerprint(title, body).bands) for title, body in docs]
    postings: dict[int, list[int]] = {}
    for i, keys in enumerate(bands):
        for k in keys:
            postings.setdefault(k, []).append(i)
    partners = []
    for i, keys in enumerate(bands):
        others = {j for k in keys for j in postings[k] if j != i}
        partners.append(len(others))
    partners.sort()
    n = len(docs)
    return {
        "articles": n,
        "partners_mean": sum(partners) / n,
        "partners_p99": partners[int(0.99 * (n - 1))],
        "largest_posting_per_1000": max(len(v) for v in postings.values()) * 1000 / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=2000, help="originals per kind")
    args = ap.parse_args(argv)
    rows = []
    for kind in ("real", "templated", "sampled", "mutated"):
        r = overlap(texts(kind, args.articles))
        rows.append(
            [
                kind,
                r["articles"],
                r["partners_mean"],
                r["partners_p99"],
                r["largest_posting_per_1000"],
            ]
        )
    print(f"{benchlib.commit()}: distinct originals sharing band keys (baseline: real)")
    print(
        benchlib.table(
            ["kind", "articles", "others sharing a key: mean", "p99", "largest posting /1000"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
