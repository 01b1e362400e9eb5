"""``wiredesk eval extraction``: text extraction quality against gold text.

The score of the ScrapingHub article-extraction benchmark (``evaluate.py``): per page,
true/false positives and false negatives over the bag of tokens (``\\w+``, lower-cased,
so punctuation is dropped), normalised so that long pages don't weigh more; then the
mean precision and mean recall over pages, and F1 of those two means. The benchmark's
own default counts 4-token shingles; ``ngram=1`` (tokens) is the figure we record, and
``--ngram 4`` reproduces the benchmark's variant.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall((text or "").lower())


def shingles(text: str | None, n: int) -> Counter[tuple[str, ...]]:
    words = tokens(text)
    return Counter(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)) if words)


def tp_fp_fn(gold: str | None, predicted: str | None, n: int = 1) -> tuple[float, float, float]:
    true, pred = shingles(gold, n), shingles(predicted, n)
    tp = sum(min(true[k], pred[k]) for k in true.keys() & pred.keys())
    fp = sum(pred.values()) - tp
    fn = sum(true.values()) - tp
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def summarise(scores: list[tuple[float, float, float]]) -> dict[str, float]:
    precisions = [_precision(*s) for s in scores if s[0] + s[1] > 0]
    recalls = [_recall(*s) for s in scores if s[0] + s[2] > 0]
    p = statistics.mean(precisions) if precisions else 0.0
    r = statistics.mean(recalls) if recalls else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """JSONL records, gzip or plain (told apart by the magic bytes, not the name)."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON: {exc}") from exc


def evaluate(
    records: Iterable[dict[str, Any]],
    extract: Callable[[str, str], str | None],
    ngram: int = 1,
    on_record: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Mean P/R/F1 of ``extract(html, url)`` against each record's ``gold_text``."""
    scores, empty, failed = [], 0, 0
    for rec in records:
        try:
            text = extract(rec["html"], rec.get("url") or "")
        except Exception:  # a page the extractor refused (bound hit): scored as empty
            failed += 1
            text = None
        if not text:
            empty += 1
        scores.append(tp_fp_fn(rec.get("gold_text"), text, ngram))
        if on_record is not None:
            on_record()
    return {
        "pages": len(scores),
        "empty": empty,
        "failed": failed,
        "ngram": ngram,
        **summarise(scores),
    }
