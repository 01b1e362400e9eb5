"""Enricher: news.articles -> news.enriched (dedup verdict, entities, story).

Per article:

1. fingerprint the normalised body (:mod:`transform.text`, :mod:`transform.minhash`);
2. decide exact / near copy against the shared state (:mod:`transform.dedup`);
3. entities: a canonical article runs NER (:mod:`transform.entities`); a copy reuses its
   canonical's entities, located in its own text (NER only if none are stored yet);
4. place the dedup group in a story (:mod:`transform.stories`);
5. now and then, prune state older than the retention window (:mod:`transform.state`).

Every decision is stored before the output is published, and a stored decision is
returned as is, so redelivery, a restarted worker and a replay of news.articles give the
same ``duplicate_of`` and ``story_id``. An article whose text has no words is
``BadInput("no_text")``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, select

from transform import metrics
from transform.dedup import DedupIndex, Verdict, fingerprint
from transform.entities import EntityTagger, locate
from transform.state import prune
from transform.stories import StoryIndex, features
from wiredesk.db.dedup_tables import DedupEntryRow
from wiredesk.metrics import REDELIVERED
from wiredesk.records import Article, EnrichedArticle, Entity, Record
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EnrichOptions:
    ner_enabled: bool = True
    ner_model: str = "en_core_web_sm"
    dedup_threshold: float = 0.85
    dedup_min_jaccard: float = 0.15
    dedup_lead_threshold: float = 0.6
    story_threshold: float = 0.3
    story_window: timedelta = timedelta(hours=72)
    retention: timedelta = timedelta(days=7)
    prune_interval_s: float = 600.0

    @classmethod
    def from_settings(cls, settings: Any) -> EnrichOptions:
        return cls(
            ner_enabled=settings.ner_enabled,
            ner_model=settings.ner_model,
            dedup_threshold=settings.dedup_threshold,
            dedup_min_jaccard=settings.dedup_min_jaccard,
            dedup_lead_threshold=settings.dedup_lead_threshold,
            story_threshold=settings.story_threshold,
            story_window=timedelta(hours=settings.story_window_hours),
            retention=timedelta(days=settings.transform_retention_days),
        )


def compact(entities: list[Entity]) -> list[list[str]]:
    """What a copy needs to reuse these entities: unique (id, name, label, surface)."""
    rows = {(e.canonical_id, e.name, e.label, e.surface) for e in entities}
    return [list(r) for r in sorted(rows)]


def expand(rows: list[list[str]]) -> list[Entity]:
    return [
        Entity(canonical_id=cid, name=name, label=label, surface=surface, start=0, end=0)
        for cid, name, label, surface in rows
    ]


class EnrichArticles:
    def __init__(self, engine: Engine, options: EnrichOptions | None = None) -> None:
        self.engine = engine
        self.options = opts = options or EnrichOptions()
        self.dedup = DedupIndex(
            engine, opts.dedup_threshold, opts.dedup_min_jaccard, opts.dedup_lead_threshold
        )
        self.stories = StoryIndex(engine, opts.story_threshold, opts.story_window)
        self._tagger: EntityTagger | None = None  # loaded on first use: other stages never pay
        self._last_prune = 0.0

    @property
    def tagger(self) -> EntityTagger:
        if self._tagger is None:
            started = time.perf_counter()
            self._tagger = EntityTagger(self.options.ner_model)
            log.info("ner_model_loaded", seconds=round(time.perf_counter() - started, 2))
        return self._tagger

    def __call__(self, record: Record) -> Iterator[Record]:
        assert isinstance(record, Article)
        with _timed("fingerprint"):
            fp = fingerprint(record.title, record.text)
        if fp.shingle_count == 0:
            raise BadInput("no_text", f"{record.article_id}: no words in the text")
        with _timed("dedup"):
            verdict = self.dedup.decide(record.article_id, fp, record.published_at)
        metrics.VERDICTS.labels(verdict.kind if not verdict.replayed else "stored").inc()
        if verdict.replayed:
            REDELIVERED.labels("enrich_articles").inc()
        entities = self._entities(record, verdict)
        root = verdict.duplicate_of or record.article_id
        when = record.published_at or record.discovered_at or record.fetched_at
        stored = compact(entities) if verdict.duplicate_of is None else None
        with _timed("story"):
            vec = features(record.title, record.text, entities)
            story = self.stories.assign(record.article_id, root, when, vec, stored)
        metrics.STORIES.labels(story.outcome).inc()
        self._maybe_prune()
        yield EnrichedArticle(
            **record.model_dump(exclude={"schema_name"}),
            duplicate_of=verdict.duplicate_of,
            similarity=verdict.similarity,
            story_id=story.story_id,
            entities=entities,
        )

    def _entities(self, record: Article, verdict: Verdict) -> list[Entity]:
        if not self.options.ner_enabled:
            metrics.ENTITY_SOURCE.labels("off").inc()
            return []
        if verdict.duplicate_of is not None:
            with self.engine.connect() as conn:
                known = conn.scalar(
                    select(DedupEntryRow.entities).where(
                        DedupEntryRow.article_id == verdict.duplicate_of
                    )
                )
            if known is not None:
                metrics.ENTITY_SOURCE.labels("reused").inc()
                with _timed("reuse"):
                    return locate(record.text, expand(known))
            metrics.ENTITY_SOURCE.labels("fallback").inc()
        else:
            metrics.ENTITY_SOURCE.labels("model").inc()
        tagger = self.tagger
        with _timed("ner"):
            return tagger.tag(record.text)

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < self.options.prune_interval_s:
            return
        self._last_prune = now
        counts = prune(self.engine, self.options.retention)
        for table, n in counts.items():
            metrics.PRUNED.labels(table).inc(n)
        if any(counts.values()):
            log.info("transform_state_pruned", **counts)


class _timed:
    def __init__(self, step: str) -> None:
        self.step = step

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        metrics.STEP_SECONDS.labels(self.step).observe(time.perf_counter() - self.started)
