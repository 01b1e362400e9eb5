"""``wiredesk eval dedup|stories``: quality on labelled files, through the real code.

dedup and stories feed every record, in ``published`` order, through the enrich stage
itself (:class:`transform.enrich.EnrichArticles`) on a fresh SQLite state database, then
compare the resulting groups with the labels (entities: :mod:`transform.eval_entities`).
Each returns one JSON-able dict.

A record the stage cannot take (no words: ``BadInput("no_text")``, a date that breaks
arithmetic, a field of the wrong type, anything one record raises) is counted by reason
in ``unscored`` and left out of the scores; it never stops the run. A file that is not
JSONL of objects with the needed fields raises :class:`EvalInputError` (exit 2).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple

import structlog

from transform.enrich import EnrichArticles, EnrichOptions
from transform.scoring import bcubed, pairwise
from wiredesk import db
from wiredesk.records import Article, EnrichedArticle, VerdictRevision
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)

Progress = Callable[[Iterable[Any], int, str], Iterator[Any]]


def _no_progress(items: Iterable[Any], total: int, what: str) -> Iterator[Any]:
    yield from items


class EvalInputError(ValueError):
    """The labelled file is missing fields or is not JSONL."""


def _open_text(path: Path) -> IO[str]:
    """A JSONL file, gzipped (by its magic bytes) or not."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


ECB_DAY = datetime(2026, 1, 1, 12, tzinfo=UTC)  # ECB+ has no dates: one day, n s apart


def stand_in_title(text: str) -> str:
    """A title for a row that has none: the first line's first 14 words."""
    return " ".join(text.strip().splitlines()[0].split()[:14])


def _ecb_story_row(row: Any, n: int) -> Any:
    """An ECB+ row ``{id, text, cluster_id}`` as a stories row, as ``eval stories-offline``
    reads it (:func:`stand_in_title`; every article on :data:`ECB_DAY`, n s apart)."""
    if not isinstance(row, dict) or "story" in row or "cluster_id" not in row:
        return row
    text = row.get("text")
    if not isinstance(text, str) or not text.strip() or row.get("id") is None:
        return row  # the missing fields are reported below
    title = row.get("title")
    return {
        "id": str(row["id"]),
        "title": title if isinstance(title, str) else stand_in_title(text),
        "text": text,
        "published": row.get("published") or (ECB_DAY + timedelta(seconds=n)).isoformat(),
        "story": str(row["cluster_id"]),
    }


def read_labelled(path: Path, label: str) -> list[dict[str, Any]]:
    """Rows of a JSONL(.gz) file that carry id, title, text and ``label``; for ``story``,
    ECB+ rows (``cluster_id``, no title) are read as :func:`_ecb_story_row` converts them."""
    rows = []
    try:
        with _open_text(path) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalInputError(f"{path}:{n}: not JSON ({exc})") from exc
                if label == "story":
                    row = _ecb_story_row(row, n)
                if not isinstance(row, dict):
                    raise EvalInputError(f"{path}:{n}: not a JSON object")
                missing = [k for k in ("id", "title", "text", label) if k not in row]
                if missing:
                    raise EvalInputError(f"{path}:{n}: missing {', '.join(missing)}")
                rows.append(row)
    except (EOFError, zlib.error) as exc:  # a truncated or corrupt gzip stream
        raise EvalInputError(f"{path}: cannot read ({exc})") from exc
    if not rows:
        raise EvalInputError(f"{path}: no records")
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


def _order(row: dict[str, Any]) -> tuple[datetime, str]:
    try:
        published = _published(row)
    except (TypeError, ValueError):  # counted when the record is fed
        published = None
    return published or datetime.min.replace(tzinfo=UTC), str(row["id"])


class StageRun(NamedTuple):
    out: dict[str, EnrichedArticle]  # by record id
    seconds: float
    unscored: dict[str, int]  # records the stage could not take, by reason


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, BadInput) else type(exc).__name__


def run_stage(
    rows: list[dict[str, Any]], options: EnrichOptions, progress: Progress = _no_progress
) -> StageRun:
    """Every row through the enrich stage in published order."""
    ordered = sorted(rows, key=_order)
    unscored: Counter[str] = Counter()
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
            try:
                records = list(stage(as_article(row)))
            except Exception as exc:  # one record must not stop (or skew) the evaluation
                unscored[_reason(exc)] += 1
                log.warning("eval_record_unscored", id=str(row["id"])[:200], error=repr(exc)[:300])
                continue
            for rec in records:
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
    if not out:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(unscored.items()))
        raise EvalInputError(f"no record could be scored ({reasons})")
    return StageRun(out, seconds, dict(sorted(unscored.items())))


def eval_dedup(
    path: Path, options: EnrichOptions, progress: Progress = _no_progress, predicate: bool = True
) -> dict:
    """The stage's duplicate groups against dup_group (pairwise P/R/F1, false merges,
    recall by ``edit`` kind when rows carry one); with ``predicate``, also the copy
    predicate alone beside the baseline (:func:`transform.nearcopy_eval.compare`)."""
    from transform import nearcopy_eval
    from transform.dedup import DedupIndex

    rows = read_labelled(path, "dup_group")
    out, seconds, unscored = run_stage(rows, options, progress)
    gold = {str(r["id"]): str(r["dup_group"]) for r in rows if str(r["id"]) in out}
    predicted = {i: e.duplicate_of or e.article_id for i, e in out.items()}
    flagged = sum(1 for e in out.values() if e.duplicate_of)
    extra: dict[str, Any] = {}
    if predicate:
        scored = sorted((r for r in rows if str(r["id"]) in out), key=_order)
        index = DedupIndex(
            None,  # type: ignore[arg-type]  (similarity() needs no database)
            options.dedup_threshold,
            options.dedup_min_jaccard,
            options.dedup_lead_threshold,
        )
        extra["predicate"] = nearcopy_eval.compare(scored, index)
    return {
        "file": str(path),
        "records": len(rows),
        "unscored": unscored,
        "flagged_duplicates": flagged,
        "pairwise": pairwise(gold, predicted).as_dict(),
        "false_merges": nearcopy_eval.false_merges(gold, predicted),
        "by_edit": nearcopy_eval.by_edit(rows, predicted),
        **extra,
        "seconds": round(seconds, 2),
        "articles_per_second": round(len(rows) / seconds, 1) if seconds else None,
        "threshold": options.dedup_threshold,
        "min_jaccard": options.dedup_min_jaccard,
    }


def eval_stories(path: Path, options: EnrichOptions, progress: Progress = _no_progress) -> dict:
    rows = read_labelled(path, "story")
    out, seconds, unscored = run_stage(rows, options, progress)
    gold = {str(r["id"]): str(r["story"]) for r in rows if str(r["id"]) in out}
    predicted = {i: e.story_id or i for i, e in out.items()}
    return {
        "file": str(path),
        "records": len(rows),
        "unscored": unscored,
        "gold_stories": len(set(gold.values())),
        "predicted_stories": len(set(predicted.values())),
        "pairwise": pairwise(gold, predicted).as_dict(),
        "bcubed": bcubed(gold, predicted).as_dict(),
        "seconds": round(seconds, 2),
        "ner": options.ner_enabled,
        "threshold": options.story_threshold,
    }
