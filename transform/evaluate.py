"""``wiredesk eval dedup|stories``: quality on labelled files, through the real code.

dedup and stories feed every record, in ``published`` order, through the enrich stage
itself (:class:`transform.enrich.EnrichArticles`) on a fresh SQLite state database, then
compare the resulting groups with the labels (entities: :mod:`transform.eval_entities`).
Each returns one JSON-able dict.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transform.enrich import EnrichArticles, EnrichOptions
from transform.scoring import bcubed, pairwise
from wiredesk import db
from wiredesk.records import Article, EnrichedArticle, VerdictRevision

Progress = Callable[[Iterable[Any], int, str], Iterator[Any]]


def _no_progress(items: Iterable[Any], total: int, what: str) -> Iterator[Any]:
    yield from items


class EvalInputError(ValueError):
    """The labelled file is missing fields or is not JSONL."""


def read_labelled(path: Path, label: str) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalInputError(f"{path}:{n}: not JSON ({exc})") from exc
            missing = [k for k in ("id", "title", "text", label) if k not in row]
            if missing:
                raise EvalInputError(f"{path}:{n}: missing {', '.join(missing)}")
            rows.append(row)
    return rows


def _published(row: dict[str, Any]) -> datetime | None:
    value = row.get("published")
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_article(row: dict[str, Any]) -> Article:
    digest = hashlib.sha256(str(row["id"]).encode()).hexdigest()
    return Article(
        article_id=digest[:32],
        url=f"urn:eval:{row['id']}",
        title=row["title"],
        text=row["text"],
        published_at=_published(row),
        extractor_version="eval",
        content_hash=digest,
    )


def run_stage(
    rows: list[dict[str, Any]], options: EnrichOptions, progress: Progress = _no_progress
) -> tuple[dict[str, EnrichedArticle], float]:
    """Every row through the enrich stage in published order; (outputs by id, seconds)."""
    ordered = sorted(
        rows, key=lambda r: (_published(r) or datetime.min.replace(tzinfo=UTC), r["id"])
    )
    with tempfile.TemporaryDirectory(prefix="wiredesk-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'state.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        with engine.begin() as conn:  # a throwaway file: no fsync per commit
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
        stage = EnrichArticles(engine, replace(options, prune_interval_s=float("inf")))
        if options.ner_enabled:
            stage.tagger  # noqa: B018 (load the model before the clock starts)
        out: dict[str, EnrichedArticle] = {}
        started = time.perf_counter()
        row_of: dict[str, str] = {}
        for row in progress(ordered, len(ordered), "enrich"):
            for rec in stage(as_article(row)):
                if isinstance(rec, EnrichedArticle):
                    row_of[rec.article_id] = str(row["id"])
                    out[str(row["id"])] = rec
                elif isinstance(rec, VerdictRevision):  # a later arrival changed a verdict
                    rid = row_of[rec.article_id]
                    if rec.revision > out[rid].revision:
                        verdict = rec.model_dump(include={"duplicate_of", "similarity", "story_id"})
                        out[rid] = out[rid].model_copy(update={**verdict, "revision": rec.revision})
        seconds = time.perf_counter() - started
        engine.dispose()
    return out, seconds


def eval_dedup(path: Path, options: EnrichOptions, progress: Progress = _no_progress) -> dict:
    rows = read_labelled(path, "dup_group")
    out, seconds = run_stage(rows, options, progress)
    gold = {str(r["id"]): str(r["dup_group"]) for r in rows}
    predicted = {i: e.duplicate_of or e.article_id for i, e in out.items()}
    flagged = sum(1 for e in out.values() if e.duplicate_of)
    return {
        "file": str(path),
        "records": len(rows),
        "flagged_duplicates": flagged,
        "pairwise": pairwise(gold, predicted).as_dict(),
        "seconds": round(seconds, 2),
        "articles_per_second": round(len(rows) / seconds, 1) if seconds else None,
        "threshold": options.dedup_threshold,
        "min_jaccard": options.dedup_min_jaccard,
    }


def eval_stories(path: Path, options: EnrichOptions, progress: Progress = _no_progress) -> dict:
    rows = read_labelled(path, "story")
    out, seconds = run_stage(rows, options, progress)
    gold = {str(r["id"]): str(r["story"]) for r in rows}
    predicted = {i: e.story_id or i for i, e in out.items()}
    return {
        "file": str(path),
        "records": len(rows),
        "gold_stories": len(set(gold.values())),
        "predicted_stories": len(set(predicted.values())),
        "pairwise": pairwise(gold, predicted).as_dict(),
        "bcubed": bcubed(gold, predicted).as_dict(),
        "seconds": round(seconds, 2),
        "ner": options.ner_enabled,
        "threshold": options.story_threshold,
    }
