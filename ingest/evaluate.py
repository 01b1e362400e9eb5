"""``wiredesk eval extraction``: text extraction quality against gold text.

The score of the ScrapingHub article-extraction benchmark (``evaluate.py``): per page,
true/false positives and false negatives over the bag of tokens (``\\w+``, lower-cased,
so punctuation is dropped), normalised so that long pages don't weigh more; then the
mean precision and mean recall over pages, and F1 of those two means. The benchmark's
own default counts 4-token shingles; ``ngram=1`` (tokens) is the figure we record, and
``--ngram 4`` reproduces the benchmark's variant.

Pages with ``gold_with``/``gold_without`` snippets instead of a gold text (trafilatura's
own evaluation set) are scored as trafilatura's ``tests/comparison.py`` scores them: a
``gold_with`` snippet found in the extracted text (whitespace collapsed) is a true
positive, one missing a false negative; a ``gold_without`` snippet found is a false
positive, one absent a true negative; precision, recall, F1 and accuracy over the totals.
A record that can be scored neither way is counted by reason, never raised; a file with no
scorable record is refused (:class:`ExtractionInputError`).
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


class ExtractionInputError(ValueError):
    """The file holds no page that can be scored (wrong format)."""


def gold_kind(rec: Any) -> str:
    """ "text" (gold_text), "snippets" (gold_with/gold_without), or why it can't be scored."""
    if not isinstance(rec, dict):
        return "not_an_object"
    if not isinstance(rec.get("html"), str):
        return "no_html"
    if isinstance(rec.get("gold_text"), str):
        return "text"
    snippets = [rec.get("gold_with"), rec.get("gold_without")]
    if any(isinstance(s, list) and s for s in snippets) and all(
        s is None or (isinstance(s, list) and all(isinstance(x, str) for x in s)) for s in snippets
    ):
        return "snippets"
    return "no_gold"


def _collapse(text: str) -> str:
    return " ".join(text.split())


def snippet_counts(rec: dict[str, Any], text: str | None) -> tuple[int, int, int, int]:
    """(tp, fn, fp, tn) of one page, as trafilatura's evaluation counts them."""
    found = _collapse(text or "")
    wanted = [_collapse(s) for s in rec.get("gold_with") or []]
    unwanted = [_collapse(s) for s in rec.get("gold_without") or []]
    tp = sum(1 for s in wanted if s in found)
    fp = sum(1 for s in unwanted if s in found)
    return tp, len(wanted) - tp, fp, len(unwanted) - fp


def snippet_scores(counts: list[tuple[int, int, int, int]]) -> dict[str, Any]:
    tp, fn, fp, tn = (sum(c[i] for c in counts) for i in range(4))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    total = tp + fn + fp + tn
    return {
        "pages": len(counts),
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "accuracy": (tp + tn) / total if total else 0.0,
    }


def evaluate(
    records: Iterable[Any],
    extract: Callable[[str, str], str | None],
    ngram: int = 1,
    on_record: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Mean token P/R/F1 of ``extract(html, url)`` against each record's ``gold_text``,
    and snippet scores for records with ``gold_with``/``gold_without``. Records that can
    be scored neither way are counted in ``unscored``; none scorable at all raises
    :class:`ExtractionInputError`."""
    scores, snippets, empty, failed = [], [], 0, 0
    unscored: Counter[str] = Counter()
    for rec in records:
        kind = gold_kind(rec)
        if kind not in ("text", "snippets"):
            unscored[kind] += 1
        else:
            try:
                text = extract(rec["html"], str(rec.get("url") or ""))
            except Exception:  # a page the extractor refused (bound hit): scored as empty
                failed += 1
                text = None
            if not text:
                empty += 1
            if kind == "text":
                scores.append(tp_fp_fn(rec["gold_text"], text, ngram))
            else:
                snippets.append(snippet_counts(rec, text))
        if on_record is not None:
            on_record()
    if not scores and not snippets:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(unscored.items())) or "empty"
        raise ExtractionInputError(
            f"no record has html with gold_text or gold_with/gold_without ({reasons})"
        )
    result: dict[str, Any] = {
        "pages": len(scores) + len(snippets),
        "empty": empty,
        "failed": failed,
        "unscored": dict(sorted(unscored.items())),
    }
    if scores:
        result.update({"ngram": ngram, "text_pages": len(scores), **summarise(scores)})
    if snippets:
        result["snippets"] = snippet_scores(snippets)
    return result
