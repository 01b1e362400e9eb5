"""Near-duplicate figures beside the baseline: recall by edit kind, false merges, cost.

``wiredesk eval dedup`` scores the enrich stage itself; this module adds, in the same
command, the *predicate* on its own: candidates from an in-memory band index (the first
``MAX_CANDIDATES`` by keys shared, as the stage's SQL orders them), each verified, and
groups as connected components of the verified pairs, for two predicates:

  nearcopy   :func:`transform.dedup.fingerprint` and :meth:`DedupIndex.similarity`
  baseline   the predicate before containment sketches (frozen here): 20 three-row
             bands of the body and 20 of the lead, verified on MinHash estimates
             (containment >= 0.75 with Jaccard >= 0.15, or lead Jaccard >= 0.6 with
             containment >= 0.5)

Rows may carry ``edit`` (the dev set's edit kind of an invented copy, see
:mod:`transform.heavycopy`); a copy is *found* when it ends in the group of the article
named by its ``dup_group``.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from transform import minhash
from transform.dedup import MAX_CANDIDATES, DedupIndex, Fingerprint, fingerprint
from transform.heavycopy import BEYOND
from transform.scoring import pairwise
from transform.text import lead_shingles, normalised_hash, shingles, tokens

Fingerprinter = Callable[[str, str], Fingerprint]
Verifier = Callable[[Fingerprint, Fingerprint], "float | None"]


def baseline_fingerprint(title: str, text: str) -> Fingerprint:
    words = tokens(title, text)
    grams = shingles(words)
    sig = minhash.signature(grams)
    lead = minhash.signature(lead_shingles(words, 100))
    bands = minhash.band_keys(sig, salt=0) + minhash.band_keys(lead, salt=1)
    return Fingerprint(normalised_hash(words), len(grams), sig, lead, bands)


def baseline_similarity(a: Fingerprint, b: Fingerprint) -> float | None:
    ov = minhash.overlap(a.signature, a.shingle_count, b.signature, b.shingle_count)
    scores = []
    if ov.containment >= 0.75 and ov.jaccard >= 0.15:
        scores.append(ov.containment)
    lead = minhash.jaccard(a.lead_signature, b.lead_signature)
    if lead >= 0.6 and ov.containment >= 0.5:
        scores.append(lead)
    return max(scores) if scores else None


class _Components:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        while self.parent.setdefault(x, x) != x:
            self.parent[x] = x = self.parent[self.parent[x]]
        return x

    def join(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        self.parent[rb] = ra


def replay(
    rows: list[dict[str, Any]], fingerprinter: Fingerprinter, verify: Verifier
) -> tuple[dict[str, str], dict[str, float]]:
    """Groups (id -> component root) and cost figures of one predicate, rows in order."""
    postings: dict[int, list[int]] = defaultdict(list)
    ids: list[str] = []
    fps: list[Fingerprint] = []
    owners: dict[str, int] = {}
    groups = _Components()
    candidates = verified = 0
    started = time.perf_counter()
    fp_seconds = 0.0
    for row in rows:
        t0 = time.perf_counter()
        fp = fingerprinter(str(row["title"]), str(row["text"]))
        fp_seconds += time.perf_counter() - t0
        me = str(row["id"])
        groups.find(me)
        if fp.shingle_count == 0:
            continue
        shared: Counter[int] = Counter()
        for key in set(fp.bands):
            shared.update(postings.get(key, ()))
        ranked = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CANDIDATES]
        candidates += len(ranked)
        for seq, _ in ranked:
            if verify(fp, fps[seq]) is not None:
                verified += 1
                groups.join(me, ids[seq])
        if fp.content_hash in owners:
            groups.join(me, ids[owners[fp.content_hash]])
        owners.setdefault(fp.content_hash, len(ids))
        for key in set(fp.bands):
            postings[key].append(len(ids))
        ids.append(me)
        fps.append(fp)
    n = max(len(rows), 1)
    cost = {
        "band_keys_per_article": round(sum(len(set(f.bands)) for f in fps) / max(len(fps), 1), 1),
        "candidates_per_article": round(candidates / n, 2),
        "verified_per_article": round(verified / n, 2),
        "fingerprint_ms": round(1000 * fp_seconds / n, 3),
        "ms_per_article": round(1000 * (time.perf_counter() - started) / n, 3),
        "stored_bytes_per_article": round(
            sum(len(f.signature) + len(f.lead_signature) for f in fps) / max(len(fps), 1)
        ),
    }
    return {i: groups.find(i) for i in ids_of(rows)}, cost


def ids_of(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in rows]


def by_edit(rows: list[dict[str, Any]], predicted: dict[str, str]) -> dict[str, dict]:
    """Per edit kind: copies, how many ended in their original's group, recall."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in rows:
        kind, original = row.get("edit"), str(row.get("dup_group"))
        if not kind or original not in predicted or str(row["id"]) not in predicted:
            continue
        total[kind] += 1
        found[kind] += predicted[str(row["id"])] == predicted[original]
    out = {
        k: {"copies": total[k], "found": found[k], "recall": round(found[k] / total[k], 4)}
        for k in sorted(total)
    }
    heavy = [k for k in total if k != "light" and k not in BEYOND]
    if heavy:
        n, f = sum(total[k] for k in heavy), sum(found[k] for k in heavy)
        out["heavy"] = {"copies": n, "found": f, "recall": round(f / n, 4)}
    return out


def false_merges(gold: dict[str, str], predicted: dict[str, str]) -> dict[str, int]:
    """Predicted pairs whose articles are in different gold groups, and the predicted
    groups holding more than one gold group."""
    members: dict[str, list[str]] = defaultdict(list)
    for i, g in predicted.items():
        members[g].append(i)
    pairs = groups = 0
    for ids in members.values():
        counts = Counter(gold[i] for i in ids)
        if len(counts) > 1:
            groups += 1
            same = sum(n * (n - 1) // 2 for n in counts.values())
            pairs += len(ids) * (len(ids) - 1) // 2 - same
    return {"pairs": pairs, "groups": groups}


def score(rows: list[dict[str, Any]], predicted: dict[str, str]) -> dict[str, Any]:
    gold = {str(r["id"]): str(r["dup_group"]) for r in rows if str(r["id"]) in predicted}
    return {
        "pairwise": pairwise(gold, predicted).as_dict(),
        "false_merges": false_merges(gold, predicted),
        "by_edit": by_edit(rows, predicted),
    }


def compare(rows: list[dict[str, Any]], index: DedupIndex) -> dict[str, Any]:
    """The current predicate and the baseline on the same rows (in the given order)."""
    out = {}
    runs = {
        "nearcopy": (fingerprint, lambda a, b: index.similarity(a, b)),
        "baseline": (baseline_fingerprint, baseline_similarity),
    }
    for name, (fingerprinter, verify) in runs.items():
        predicted, cost = replay(rows, fingerprinter, verify)
        out[name] = {**score(rows, predicted), "cost": cost}
    return out


def lines(key: str, value: Any) -> list[str]:
    """Terminal lines for the ``by_edit``, ``false_merges`` and ``predicate`` results."""
    if key == "false_merges":
        return [f"{key:<22} {value['pairs']} pairs in {value['groups']} groups"]
    if key == "by_edit":
        return [
            f"recall {kind:<15} {v['recall']:.4f}  ({v['found']} of {v['copies']} copies)"
            for kind, v in value.items()
        ]
    out = [f"{key} (candidates from an in-memory band index, groups = components):"]
    for name, run in value.items():
        p, fm, cost = run["pairwise"], run["false_merges"], run["cost"]
        out.append(
            f"  {name:<9} precision {p['precision']:.4f}  recall {p['recall']:.4f}  f1 "
            f"{p['f1']:.4f}  false merges {fm['pairs']} pairs  candidates/article "
            f"{cost['candidates_per_article']}  ms/article {cost['ms_per_article']}"
        )
        out.append(
            "            by edit: "
            + "  ".join(f"{k} {v['recall']:.3f}" for k, v in run["by_edit"].items())
        )
    return out
