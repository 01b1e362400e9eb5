"""Which near-duplicate library: rensa vs datasketch MinHash vs SimHash, on the dedup dev set.

    .venv/bin/pip install -e '.[bench]'        # datasketch, simhash
    .venv/bin/python bench/transform_dedup_libraries.py [--devset build/devsets/dedup_dev.jsonl]

Same run, same normalised shingles (transform.text), articles in published order:

  exact          baseline: SHA-256 of the normalised text (the walking skeleton's method)
  rensa          the enrich stage itself (DedupIndex on SQLite) with rensa signatures
  datasketch     the same stage with datasketch MinHash signatures swapped in
  simhash-3/6    64-bit SimHash of the shingles; a copy when within 3 (or 6) bits of an
                 earlier article (the design note's first idea)

Prints pairwise precision/recall/F1 against dup_group, the signature cost per article and
the whole run's articles/s (signature + index + verification).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from transform import minhash
from transform.enrich import EnrichOptions
from transform.evaluate import _published, run_stage
from transform.scoring import pairwise
from transform.text import normalised_hash, shingles, tokens

ROOT = Path(__file__).resolve().parents[1]


def datasketch_signature(grams: Iterable[str]) -> bytes:
    from datasketch import MinHash

    m = MinHash(num_perm=minhash.NUM_PERM, seed=minhash.SEED)
    m.update_batch([g.encode("utf-8") for g in sorted(grams)])
    return np.asarray(m.hashvalues, dtype="<u4").tobytes()


def signature_ms(signer: Callable[[Iterable[str]], bytes], sets: list[set[str]]) -> float:
    started = time.perf_counter()
    for s in sets:
        signer(s)
    return (time.perf_counter() - started) * 1000 / len(sets)


def with_signer(rows: list[dict], signer: Callable[[Iterable[str]], bytes]) -> dict:
    original = minhash.signature
    minhash.signature = signer
    try:
        out, seconds, _ = run_stage(rows, EnrichOptions(ner_enabled=False))
    finally:
        minhash.signature = original
    gold = {str(r["id"]): str(r["dup_group"]) for r in rows}
    predicted = {i: e.duplicate_of or e.article_id for i, e in out.items()}
    return {**pairwise(gold, predicted).as_dict(), "articles_per_s": round(len(rows) / seconds, 1)}


def exact(rows: list[dict]) -> dict:
    started = time.perf_counter()
    first: dict[str, str] = {}
    predicted = {}
    for r in rows:
        h = normalised_hash(tokens(r["title"], r["text"]))
        predicted[r["id"]] = first.setdefault(h, r["id"])
    seconds = time.perf_counter() - started
    gold = {r["id"]: r["dup_group"] for r in rows}
    return {**pairwise(gold, predicted).as_dict(), "articles_per_s": round(len(rows) / seconds, 1)}


def simhash_run(rows: list[dict], sets: list[set[str]], bits: int) -> dict:
    from simhash import Simhash

    started = time.perf_counter()
    values = np.zeros(len(rows), dtype=np.uint64)
    root: list[str] = []
    predicted = {}
    for n, (r, grams) in enumerate(zip(rows, sets, strict=True)):
        values[n] = np.uint64(Simhash(sorted(grams)).value)
        if n:
            xor = np.bitwise_xor(values[:n], values[n])
            distance = np.unpackbits(xor.view(np.uint8).reshape(n, 8), axis=1).sum(axis=1)
            close = np.flatnonzero(distance <= bits)
            root.append(root[int(close[0])] if len(close) else r["id"])
        else:
            root.append(r["id"])
        predicted[r["id"]] = root[-1]
    seconds = time.perf_counter() - started
    gold = {r["id"]: r["dup_group"] for r in rows}
    return {**pairwise(gold, predicted).as_dict(), "articles_per_s": round(len(rows) / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--devset", type=Path, default=ROOT / "build" / "devsets" / "dedup_dev.jsonl"
    )
    args = parser.parse_args()
    if not args.devset.exists():
        parser.error(f"{args.devset} missing: run bench/build_transform_devsets.py first")
    rows = [json.loads(line) for line in args.devset.open(encoding="utf-8")]
    rows.sort(key=lambda r: (_published(r), r["id"]))
    sets = [shingles(tokens(r["title"], r["text"])) for r in rows]
    from simhash import Simhash

    results = {
        "exact": {**exact(rows), "signature_ms": 0.0},
        "rensa": {
            **with_signer(rows, minhash.signature),
            "signature_ms": signature_ms(minhash.signature, sets),
        },
        "datasketch": {
            **with_signer(rows, datasketch_signature),
            "signature_ms": signature_ms(datasketch_signature, sets),
        },
    }
    simhash_ms = signature_ms(lambda s: Simhash(sorted(s)).value.to_bytes(8, "little"), sets)
    for bits in (3, 6):
        results[f"simhash-{bits}"] = {**simhash_run(rows, sets, bits), "signature_ms": simhash_ms}
    print(f"{len(rows)} articles from {args.devset.name}; 2 signatures per article for MinHash")
    print(f"{'method':<12}{'precision':>10}{'recall':>8}{'f1':>8}{'sig ms':>9}{'articles/s':>12}")
    for name, r in results.items():
        print(
            f"{name:<12}{r['precision']:>10.4f}{r['recall']:>8.4f}{r['f1']:>8.4f}"
            f"{r['signature_ms']:>9.3f}{r['articles_per_s']:>12}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
