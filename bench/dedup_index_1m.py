#!/usr/bin/env python3
"""Dedup index at scale: rensa vs datasketch MinHash-LSH, lookup + insert per article and
memory per article, at 1M articles (needs the bench extra: pip install -e '.[bench]').

Both indexes get the same signatures (rensa RMinHash, 60 values, the deployed seed) and
the deployed banding, 20 bands of 3 rows (transform.minhash: BANDS, ROWS; the deployed
signature has 128 values and bands its first 60: rensa's LSH wants the signature length
to be bands x rows, so 60-value signatures stand in for them). Per article, as the enrich stage
does: look the signature up, then insert it. Each library runs in its own child process
so its memory is measured alone: RSS growth over the inserts / articles (rensa's index
lives in Rust memory, which tracemalloc cannot see; RSS sees both).

Articles are generated, not read (1M real texts do not exist here): each is a set of
--shingles random tokens from a 200,000-token vocabulary, regenerated from its number
(nothing kept in memory but the index); 30% are copies of an earlier article with 10%
of their tokens replaced, so lookups do find candidates. The deployed index is the
PostgreSQL tables (dedup_bands, BENCHMARKS.md: bytes per article); this compares the
two libraries' own in-memory LSH at a size the database run could not reach quickly.

    .venv/bin/python bench/dedup_index_1m.py                   # 1,000,000 articles
    .venv/bin/python bench/dedup_index_1m.py --articles 10000  # smoke size
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from typing import Any

import benchlib
import numpy as np
import rensa
from benchlib import pct, status_kb

from transform.minhash import BANDS, ROWS, SEED

PERM = BANDS * ROWS
VOCAB = [f"tok{i}" for i in range(200_000)]


def tokens(i: int, shingles: int, copy_share: float) -> tuple[list[str], int | None]:
    """Article ``i``'s shingles and, for a copy, the article it copies."""
    rng = random.Random(i)
    if i > 0 and rng.random() < copy_share:
        source = rng.randrange(i)
        base, _ = tokens(source, shingles, copy_share)  # as it was generated
        for k in rng.sample(range(shingles), shingles // 10):
            base[k] = rng.choice(VOCAB)
        return base, source
    return rng.choices(VOCAB, k=shingles), None


def signer(toks: list[str]) -> Any:
    m = rensa.RMinHash(num_perm=PERM, seed=SEED)
    m.update(toks)
    return m


def child(library: str, n: int, shingles: int, copy_share: float) -> dict[str, Any]:
    if library == "rensa":
        index: Any = rensa.RMinHashLSH(threshold=0.5, num_perm=PERM, num_bands=BANDS)
        wrap = lambda m: m  # noqa: E731
    else:
        from datasketch import MinHash, MinHashLSH

        index = MinHashLSH(threshold=0.5, num_perm=PERM, params=(BANDS, ROWS))

        def wrap(m: Any) -> Any:
            return MinHash(hashvalues=np.asarray(m.digest(), dtype=np.uint64), scheme="affine32")

    times = np.zeros(n, dtype=np.float32)
    found = copies = 0
    rss_before = status_kb(_self(), "VmRSS")
    started = time.perf_counter()
    for i in range(n):
        toks, source = tokens(i, shingles, copy_share)
        sig = wrap(signer(toks))
        t = time.perf_counter()
        hits = index.query(sig)
        index.insert(i, sig)
        times[i] = time.perf_counter() - t
        if source is not None:
            copies += 1
            found += source in hits
    wall = time.perf_counter() - started
    rss_after = status_kb(_self(), "VmRSS")
    lat = pct(times.tolist(), 50, 95, 99)
    return {
        "library": library,
        "articles": n,
        "index_s": float(times.sum()),
        "per_s": n / float(times.sum()),
        "us": [v * 1e6 for v in lat],
        "total_s": wall,
        "bytes_per_article": (rss_after - rss_before) * 1024 / n,
        "rss_mb": rss_after / 1024,
        "peak_rss_mb": status_kb(_self(), "VmHWM") / 1024,
        "copies": copies,
        "copies_found": found,
    }


def _self() -> int:
    import os

    return os.getpid()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--shingles", type=int, default=100, help="shingles per article")
    ap.add_argument("--copy-share", type=float, default=0.3)
    ap.add_argument("--smoke", action="store_true", help="10,000 articles")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.smoke:
        args.articles = 10_000
    if args.child:
        print(json.dumps(child(args.child, args.articles, args.shingles, args.copy_share)))
        return 0
    rows = []
    for library in ("rensa", "datasketch"):
        print(f"{library}: {args.articles:,} articles ...", flush=True)
        cmd = [sys.executable, __file__, "--child", library, "--articles", str(args.articles)]
        cmd += ["--shingles", str(args.shingles), "--copy-share", str(args.copy_share)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    head = ["library", "lookup+insert/s", "p50 us", "p95 us", "p99 us", "bytes/article"]
    head += ["peak MiB", "copies found", "run s"]
    table = benchlib.table(
        head,
        [
            [
                r["library"],
                r["per_s"],
                *r["us"],
                r["bytes_per_article"],
                r["peak_rss_mb"],
                f"{r['copies_found'] / max(1, r['copies']):.1%}",
                r["total_s"],
            ]
            for r in rows
        ],
        first=12,
    )
    rensa_r, ds = rows
    lines = [
        f"{args.articles:,} articles, {args.shingles} shingles each, {args.copy_share:.0%} "
        f"copies; LSH {BANDS} bands x {ROWS} rows; lookup then insert per article",
        table,
        "run s = the child's whole loop, article generation and signing included (not timed "
        "in lookup+insert)",
        f"rensa vs datasketch: {rensa_r['per_s'] / ds['per_s']:.1f}x the lookup+insert rate, "
        f"{rensa_r['bytes_per_article'] / ds['bytes_per_article']:.2f}x the memory per article",
    ]
    data = {"articles": args.articles, "rows": rows}
    benchlib.results("DEDUP INDEX: rensa vs datasketch LSH", "\n".join(lines), data, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
