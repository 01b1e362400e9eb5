"""``wiredesk eval stories-offline FILE``: the story model (:mod:`transform.storysim`) beside
baselines measured in the same run, on a labelled file.

FILE is JSONL (optionally gzipped) with either ``{id, text, cluster_id}`` rows (the ECB+
files of ../shared/data; the title is the first line's first 14 words, as
bench/build_transform_devsets.py makes it) or ``{id, title, text, published, story}`` rows
(the stories dev set). Printed, each as B-cubed and pairwise P/R/F1:

* the model, over a threshold sweep, at its default threshold and at the best one;
* (a) TF-IDF single-link, IDF from the evaluated file itself, best threshold of a sweep;
* (b) the current product: every record through the enrich stage (``eval stories``);
* (c) an online centroid clusterer in arrival order (same TF-IDF), best threshold;
* order independence: the model's partition in three shuffled orders;
* the model's cost per candidate pair (microseconds).

Rows that cannot be scored (no id, no text, no label) are counted and skipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from transform import storysim
from transform.evaluate import ECB_DAY, stand_in_title
from transform.scoring import PRF, bcubed, pairwise

SWEEP = [round(0.05 + 0.025 * i, 3) for i in range(27)]  # 0.05 .. 0.70


class EvalInputError(ValueError):
    """The file is unreadable or holds no scorable record."""


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    text: str
    published: datetime | None
    gold: str


def _parse_time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_item(row: Any, n: int) -> Item | None:
    """A scorable item of a JSONL row (n: its line, for ECB+ rows' stand-in time), or None."""
    if not isinstance(row, dict):
        return None
    text, label = row.get("text"), row.get("story", row.get("cluster_id"))
    if not isinstance(text, str) or not text.strip() or label is None or row.get("id") is None:
        return None
    title = row.get("title")
    if not isinstance(title, str):
        title = stand_in_title(text)
    published = _parse_time(row["published"]) if row.get("published") else None
    if published is None:  # ECB+: every article on one day, one second apart
        published = ECB_DAY + timedelta(seconds=n)
    return Item(str(row["id"]), title, text, published, str(label))


def read_items(path: Path) -> tuple[list[Item], int]:
    """(scorable items, skipped rows) of a JSONL or JSONL.gz file."""
    opener = gzip.open if path.suffix == ".gz" else open
    items, skipped, seen = [], 0, set()
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if not line.strip():
                    continue
                try:
                    item = as_item(json.loads(line), n)
                except (json.JSONDecodeError, TypeError, ValueError):
                    item = None
                if item is None or item.id in seen:
                    skipped += 1
                    continue
                seen.add(item.id)
                items.append(item)
    except (OSError, UnicodeDecodeError, EOFError, zlib.error) as exc:
        raise EvalInputError(f"{path}: cannot read ({exc})") from exc
    if not items:
        raise EvalInputError(
            f"{path}: no scorable record (JSONL rows with id, text and story or cluster_id)"
        )
    return items, skipped


def tag_entities(items: Sequence[Item], model: str | None) -> tuple[list[list[Any]], str]:
    """Entities of each item from the project's tagger, or none (and why)."""
    if not model:
        return [[] for _ in items], "off"
    try:
        from transform.entities import EntityTagger

        tagger = EntityTagger(model)
    except Exception as exc:  # noqa: BLE001 (a missing model only turns entities off)
        return [[] for _ in items], f"off ({exc.__class__.__name__}: {exc})"
    return tagger.tag_many(i.text for i in items), "{lang}_{name}-{version}".format(
        **tagger.nlp.meta
    )


def scores(items: Sequence[Item], labels: Sequence[Any]) -> dict[str, Any]:
    gold = {i.id: i.gold for i in items}
    predicted = {i.id: f"p{label}" for i, label in zip(items, labels, strict=True)}
    return {
        "bcubed": bcubed(gold, predicted).as_dict(),
        "pairwise": pairwise(gold, predicted).as_dict(),
        "stories": len(set(labels)),
    }


def partition(items: Sequence[Item], labels: Sequence[Any]) -> frozenset[frozenset[str]]:
    groups: dict[Any, set[str]] = {}
    for item, label in zip(items, labels, strict=True):
        groups.setdefault(label, set()).add(item.id)
    return frozenset(frozenset(g) for g in groups.values())


def _best(sweep: list[dict[str, Any]]) -> dict[str, Any]:
    return max(sweep, key=lambda r: (r["bcubed"]["f1"], -r["threshold"]))


# --- the model -----------------------------------------------------------------------------


def model_sweep(
    items: Sequence[Item], feats: Sequence[storysim.StoryFeatures]
) -> tuple[list[dict[str, Any]], float, int]:
    """Sweep of thresholds; (rows, microseconds per candidate pair, candidate pairs)."""
    pairs = storysim.candidate_pairs(feats)
    started = time.perf_counter()
    sims = [(storysim.similarity(feats[i], feats[j]), i, j) for i, j in pairs]
    micro = (time.perf_counter() - started) * 1e6 / max(1, len(pairs))
    rows = []
    for t in SWEEP:
        edges = [
            (i, j) for s, i, j in sims if s >= t and storysim.within_window(feats[i], feats[j])
        ]
        rows.append({"threshold": t, **scores(items, storysim.components(len(items), edges))})
    return rows, micro, len(pairs)


def order_independence(
    items: Sequence[Item], feats: Sequence[storysim.StoryFeatures], threshold: float
) -> bool:
    """The same partition from the original order and three seeded shuffles."""
    reference = partition(items, storysim.cluster(feats, threshold))
    for seed in (1, 2, 3):
        order = list(range(len(items)))
        random.Random(seed).shuffle(order)
        labels = storysim.cluster([feats[k] for k in order], threshold)
        if partition([items[k] for k in order], labels) != reference:
            return False
    return True


# --- baselines -----------------------------------------------------------------------------


def tfidf_vectors(items: Sequence[Item]) -> list[dict[str, float]]:
    """Classic TF-IDF (title + text, sublinear tf), IDF from the evaluated collection."""
    docs = [Counter(storysim.words(f"{i.title}\n{i.text}")) for i in items]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n = len(docs)
    out = []
    for d in docs:
        vec = {w: (1 + math.log(c)) * math.log((n + 1) / (df[w] + 1)) for w, c in d.items()}
        norm = math.sqrt(math.fsum(v * v for v in vec.values())) or 1.0
        out.append({w: v / norm for w, v in vec.items()})
    return out


def _cos(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return math.fsum(a[k] * b[k] for k in sorted(a.keys() & b.keys()))


def single_link_sweep(items: Sequence[Item], vecs: Sequence[dict[str, float]]) -> list[dict]:
    sims = [
        (_cos(vecs[i], vecs[j]), i, j) for i in range(len(vecs)) for j in range(i + 1, len(vecs))
    ]
    return [
        {
            "threshold": t,
            **scores(
                items, storysim.components(len(items), [(i, j) for s, i, j in sims if s >= t])
            ),
        }
        for t in SWEEP
    ]


def centroid_labels(vecs: Sequence[dict[str, float]], threshold: float) -> list[int]:
    """Online: each article joins the most similar story centroid (>= threshold), in order."""
    centroids: list[dict[str, float]] = []
    labels = []
    for vec in vecs:
        best, best_score = -1, threshold
        for k, c in enumerate(centroids):
            norm = math.sqrt(math.fsum(v * v for v in c.values())) or 1.0
            score = _cos(vec, c) / norm
            if score >= best_score:
                best, best_score = k, score
        if best < 0:
            centroids.append(dict(vec))
            labels.append(len(centroids) - 1)
        else:
            c = centroids[best]
            for w, v in vec.items():
                c[w] = c.get(w, 0.0) + v
            labels.append(best)
    return labels


def centroid_sweep(items: Sequence[Item], vecs: Sequence[dict[str, float]]) -> list[dict]:
    return [{"threshold": t, **scores(items, centroid_labels(vecs, t))} for t in SWEEP]


def product(items: Sequence[Item], ner_model: str | None) -> dict[str, Any]:
    """The current enrich stage, as ``wiredesk eval stories`` runs it."""
    from transform.enrich import EnrichOptions
    from transform.evaluate import run_stage

    rows = [
        {"id": i.id, "title": i.title, "text": i.text, "published": i.published.isoformat()}
        for i in items
        if i.published is not None
    ]
    options = EnrichOptions(ner_enabled=bool(ner_model))
    if ner_model:
        options = replace(options, ner_model=ner_model)
    run = run_stage(rows, options)
    labels = [run.out[i.id].story_id if i.id in run.out else f"unscored:{i.id}" for i in items]
    return {
        "threshold": options.story_threshold,
        **scores(items, labels),
        "unscored": run.unscored,
    }


# --- command -------------------------------------------------------------------------------


def evaluate(path: Path, ner_model: str | None, with_product: bool = True) -> dict[str, Any]:
    items, skipped = read_items(path)
    entities, ner = tag_entities(items, ner_model)
    started = time.perf_counter()
    feats = [
        storysim.story_features(i.title, i.text, e, i.published)
        for i, e in zip(items, entities, strict=True)
    ]
    feature_ms = (time.perf_counter() - started) * 1e3 / len(items)
    sweep, micro, n_pairs = model_sweep(items, feats)
    default = next(r for r in sweep if r["threshold"] == storysim.DEFAULT_THRESHOLD)
    best = _best(sweep)
    vecs = tfidf_vectors(items)
    result: dict[str, Any] = {
        "file": str(path),
        "records": len(items),
        "skipped": skipped,
        "gold_stories": len(set(i.gold for i in items)),
        "entities": ner,
        "model": {
            "default": default,
            "best": best,
            "candidate_pairs": n_pairs,
            "microseconds_per_pair": round(micro, 1),
            "milliseconds_per_article_features": round(feature_ms, 2),
            "order_independent_3_shuffles": order_independence(
                items, feats, storysim.DEFAULT_THRESHOLD
            ),
            "sweep": sweep,
        },
        "tfidf_single_link": _best(single_link_sweep(items, vecs)),
        "online_centroid": _best(centroid_sweep(items, vecs)),
    }
    if with_product:
        try:
            result["product"] = product(items, ner_model)
        except Exception as exc:  # noqa: BLE001 (a baseline failure must not hide the rest)
            result["product"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="JSONL(.gz) with id, text, story or cluster_id")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--ner-model", default="wiredesk_news_ner", help="spaCy model (deployed default)"
    )
    parser.add_argument("--no-ner", action="store_true", help="no entities (terms only)")
    parser.add_argument("--no-product", action="store_true", help="skip baseline (b)")


def _line(name: str, row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{name:<34} error: {row['error']}"
    b, p = PRF(**row["bcubed"]), PRF(**row["pairwise"])
    return (
        f"{name:<34} {row.get('threshold', '-')!s:>6} {b.precision:6.3f} {b.recall:6.3f} "
        f"{b.f1:6.3f}  {p.precision:6.3f} {p.recall:6.3f} {p.f1:6.3f} {row['stories']:6d}"
    )


def render(result: dict[str, Any], print_: Callable[[str], None] = print) -> None:
    m = result["model"]
    print_(
        f"{result['file']}: {result['records']} records ({result['skipped']} skipped), "
        f"{result['gold_stories']} gold stories; entities: {result['entities']}"
    )
    print_(
        f"{'':<34} {'thr':>6} {'B3-P':>6} {'B3-R':>6} {'B3-F1':>6}  "
        f"{'pw-P':>6} {'pw-R':>6} {'pw-F1':>6} {'stories':>6}"
    )
    for t in m["sweep"]:
        print_(_line("  model sweep", t))
    print_(_line("model (default threshold)", m["default"]))
    print_(_line("model (best threshold on this file)", m["best"]))
    print_(_line("(a) TF-IDF single-link (best)", result["tfidf_single_link"]))
    if "product" in result:
        print_(_line("(b) current product (enrich stage)", result["product"]))
    print_(_line("(c) online centroid (best)", result["online_centroid"]))
    print_(
        f"model: {m['milliseconds_per_article_features']} ms/article for features, "
        f"{m['candidate_pairs']} candidate pairs, {m['microseconds_per_pair']} us/pair; "
        f"same partition in 3 shuffled orders: {m['order_independent_3_shuffles']}"
    )


def run(args: argparse.Namespace) -> int:
    try:
        result = evaluate(args.file, None if args.no_ner else args.ner_model, not args.no_product)
    except EvalInputError as exc:
        print(f"wiredesk eval stories-offline: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        render(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
