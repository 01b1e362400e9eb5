"""``wiredesk eval entities FILE``: entity tagging on a CoNLL-2003 file, new model vs old.

Every document goes through :class:`transform.entities.EntityTagger` as deployed (curated
EntityRuler, span trimming, coarse labels) with the configured ``ner_model`` and, in the
same run, with the baseline (the old default ``en_core_web_sm``) when it is installed.
Scores are exact span+label matches: per label and micro over PER/LOC/ORG, MISC
separately; also the micro-F1 of the labels as stored (one per canonical entity and article).
Speed is NER words (CoNLL tokens) per second of tagging, model load excluded; the models
take turns per document, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from transform.conll import ConllError, read_conll
from transform.scoring import Span, entity_scores

SCORED = ("PER", "LOC", "ORG")
BASELINE = "en_core_web_sm"
Progress = Callable[[Iterable[Any], int, str], Iterator[Any]]


def _no_progress(items: Iterable[Any], total: int, what: str) -> Iterator[Any]:
    yield from items


class _Run:
    """One model's predictions and tagging time over the documents."""

    def __init__(self, model: str) -> None:
        from transform.entities import EntityTagger

        # as the enricher tags (paragraph by paragraph), nothing reused between documents
        self.tagger = EntityTagger(model, recent_paragraphs=0)  # raises ModelMissing
        self.predicted: set[Span] = set()
        self.stored: set[Span] = set()
        self.seconds = 0.0

    def tag(self, n: int, text: str) -> None:
        from transform.entities import canonicalise

        started = time.perf_counter()
        found = self.tagger.find(text)
        entities = canonicalise(found, self.tagger.aliases)
        self.seconds += time.perf_counter() - started
        self.predicted |= {(n, m.start, m.end, m.label) for m in found}
        self.stored |= {(n, e.start, e.end, e.label) for e in entities}

    def result(self, gold: set[Span], words: int) -> dict:
        """``scores`` judge each mention's own label (what the NER found); ``stored_micro``
        the label its canonical entity gets in the article's entity list (one per entity
        and article, :func:`transform.entities.canonicalise`)."""

        def plo(spans: set[Span]) -> set[Span]:
            return {s for s in spans if s[3] in SCORED}

        scores = entity_scores(plo(gold), plo(self.predicted), SCORED)
        scores["micro"] = scores.pop("ALL")
        misc = ({s for s in spans if s[3] == "MISC"} for spans in (gold, self.predicted))
        scores["MISC"] = entity_scores(*misc, ("MISC",))["MISC"]
        return {
            "model": "{lang}_{name}-{version}".format(**self.tagger.nlp.meta),
            "scores": scores,
            "stored_micro": entity_scores(plo(gold), plo(self.stored), SCORED)["ALL"],
            "seconds": round(self.seconds, 2),
            "words_per_second": round(words / self.seconds) if self.seconds else None,
        }


def evaluate(
    path: Path, model: str, baseline: str | None = BASELINE, progress: Progress = _no_progress
) -> dict:
    """The configured model's scores and, when installed, the baseline's, on one file.

    The models take turns document by document, so a shared machine's changing load
    weighs on both speeds alike.
    """
    from transform.entities import ModelMissing

    docs = read_conll(path)
    if not docs:
        raise ConllError(f"{path}: no CoNLL tokens (expected 'token POS chunk NER' lines)")
    runs = {"new": _Run(model)}
    missing = None
    if baseline and baseline != model:
        try:
            runs["baseline"] = _Run(baseline)
        except ModelMissing as exc:
            missing = {"model": baseline, "missing": str(exc)}
    gold: set[Span] = set()
    for n, doc in enumerate(progress(docs, len(docs), "tag")):
        gold |= {(n, s, e, label) for s, e, label in doc.spans}
        for run in runs.values():
            run.tag(n, doc.text)
    words = sum(d.tokens for d in docs)
    results = {role: run.result(gold, words) for role, run in runs.items()}
    return {
        "file": str(path),
        "documents": len(docs),
        "tokens": words,
        "new": results["new"],
        "baseline": results.get("baseline", missing),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        help=f"model scored beside ner_model in the same run (default {BASELINE}; 'none' to skip)",
    )


def run(args: Any, settings: Any, progress: Progress | None = None) -> int:
    """The command: 0 done, 2 unreadable or malformed file (one line on stderr)."""
    from transform.entities import ModelMissing

    if progress is None or args.json:
        progress = _no_progress

    baseline = None if args.baseline.lower() == "none" else args.baseline
    try:
        result = evaluate(args.file, settings.ner_model, baseline, progress)
    except (OSError, ConllError, ModelMissing, ValueError) as exc:
        print(f"wiredesk eval entities: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print("\n".join(report(result)))
    return 0


def report(result: dict) -> list[str]:
    """The result as a table: P/R/F1 per label, one column group per model."""
    runs = [("new", result["new"])]
    base = result["baseline"]
    if base and "scores" in base:
        runs.append(("baseline", base))
    lines = [f"file {result['file']}: {result['documents']} documents, {result['tokens']} tokens"]
    lines += [f"{role:<9} {r['model']}" for role, r in runs]
    if base and "missing" in base:
        lines.append(f"baseline  {base['model']}: {base['missing']}")
    head = "".join(f"  {role + ' P':>10} {'R':>6} {'F1':>6}" for role, _ in runs)
    lines.append(f"{'label':<24}{'gold':>6}{head}")
    for label in (*SCORED, "micro", "MISC"):
        name = "micro PER/LOC/ORG" if label == "micro" else label
        row = f"{name:<24}{runs[0][1]['scores'][label]['gold']:>6}"
        for _, r in runs:
            s = r["scores"][label]
            row += f"  {s['precision']:>10.4f} {s['recall']:>6.4f} {s['f1']:>6.4f}"
        lines.append(row)
    row = f"{'micro, stored labels':<24}{runs[0][1]['stored_micro']['gold']:>6}"
    for _, r in runs:
        s = r["stored_micro"]
        row += f"  {s['precision']:>10.4f} {s['recall']:>6.4f} {s['f1']:>6.4f}"
    lines.append(row)
    lines.append(f"{'NER words/s':<30}" + "".join(f"{r['words_per_second']:>26}" for _, r in runs))
    return lines
