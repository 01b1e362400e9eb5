"""Near copies: recall against cost as the number of single-value body bands changes.

    .venv/bin/python bench/build_transform_devsets.py        # build/devsets/dedup_dev.jsonl
    .venv/bin/python bench/nearcopy_tradeoff.py [--devset FILE] [--bands 0 12 20 32 48]

Same run, articles in published order, the copy predicate on its own
(:func:`transform.nearcopy_eval.replay`: an in-memory band index, the first
``MAX_CANDIDATES`` candidates by keys shared, groups = connected components): the
baseline (the predicate before containment sketches), then the current one with each
``SINGLE_BANDS`` value. Per row: band keys per article, candidates verified per article,
ms per article (fingerprint + lookup + verification, one process), pairwise F1, false
merges (pairs), recall of the heavily edited copies and of the padded ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from transform import nearcopy, nearcopy_eval
from transform.dedup import DedupIndex, fingerprint
from transform.evaluate import _order, read_labelled

ROOT = Path(__file__).resolve().parents[1]


def row(name: str, rows: list[dict], fingerprinter, verify) -> dict:
    predicted, cost = nearcopy_eval.replay(rows, fingerprinter, verify)
    scored = nearcopy_eval.score(rows, predicted)
    edits = scored["by_edit"]
    return {
        "run": name,
        **cost,
        "f1": scored["pairwise"]["f1"],
        "false_merge_pairs": scored["false_merges"]["pairs"],
        "heavy_recall": edits.get("heavy", {}).get("recall"),
        "padded_recall": edits.get("padded", {}).get("recall"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devset", type=Path, default=ROOT / "build/devsets/dedup_dev.jsonl")
    parser.add_argument("--bands", type=int, nargs="+", default=[0, 12, 20, 32, 48])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = sorted(read_labelled(args.devset, "dup_group"), key=_order)
    index = DedupIndex(None)  # type: ignore[arg-type]  (similarity needs no database)
    out = [
        row(
            "baseline",
            rows,
            nearcopy_eval.baseline_fingerprint,
            nearcopy_eval.baseline_similarity,
        )
    ]
    deployed = nearcopy.SINGLE_BANDS
    try:
        for bands in args.bands:
            nearcopy.SINGLE_BANDS = bands
            name = f"single={bands}" + (" (deployed)" if bands == deployed else "")
            out.append(row(name, rows, fingerprint, index.similarity))
    finally:
        nearcopy.SINGLE_BANDS = deployed
    cols = [
        ("run", 20),
        ("band_keys_per_article", 6),
        ("candidates_per_article", 8),
        ("ms_per_article", 8),
        ("f1", 7),
        ("false_merge_pairs", 6),
        ("heavy_recall", 7),
        ("padded_recall", 7),
    ]
    print(f"{len(rows)} articles of {args.devset}")
    print(
        "  ".join(
            f"{'keys' if c == 'band_keys_per_article' else c.split('_')[0]:>{w}}" for c, w in cols
        )
    )
    for r in out:
        print("  ".join(f"{r[c]!s:>{w}}" for c, w in cols))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
