"""Enricher: news.articles -> news.enriched (dedup verdict, entities, story).

Per article:

0. a new version of an article already decided (its text changed, ``ingest.recheck``)
   is fingerprinted again and its dedup group and story revised (kind ``updated``),
   never compared with itself;
1. dates: a publication date before 1990 or over a day after the fetch is treated as
   unknown (``published_at`` None, the page's claim in ``published_at_claimed``);
2. fingerprint the normalised body (:mod:`transform.text`, :mod:`transform.minhash`);
3. join its dedup group against the shared state (:mod:`transform.dedup`);
4. language: detected from the title and text (:mod:`transform.language`), stored beside
   the declared one; only articles in a language of the NER model (English) are tagged,
   others get no entities (``wiredesk_entities_skipped_total{reason="language"}``);
   dedup and stories don't depend on it. Then entities: NER of its own text
   (:mod:`transform.entities`), a copy's too. (Copies used
   to reuse their canonical's entities; but which member is canonical when a copy
   arrives depends on the order, and so did the copy's entities and story features.)
5. join its story (:mod:`transform.stories`);
6. publish its enriched record with the verdict as stored now and its ``revision``, and
   at most ``max_revisions`` pending :class:`VerdictRevision` records of articles whose
   verdict an arrival changed (:mod:`transform.revisions`);
7. now and then, prune state older than the retention window (:mod:`transform.state`).

Steps 0-3, 5 and 6's revisions are the article's decisions: for a whole batch they are
taken together, in batch order, in one transaction (:meth:`EnrichArticles.prepare`).
Every decision is stored before the output is published, and a stored decision is
returned as is, so redelivery, a restarted worker and a replay of news.articles give the
verdict as it stands. An article whose text has no words is ``BadInput("no_text")``,
except one whose text the rights policy withheld (``text_withheld``): it is stored with
its metadata, takes no part in dedup (:func:`transform.dedup.withheld_fingerprint`), gets
no entities (``wiredesk_entities_skipped_total{reason="withheld"}``) and joins a story by
its title alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

from transform import metrics, revisions
from transform.dedup import DedupIndex, Fingerprint, Verdict, fingerprint, withheld_fingerprint
from transform.entities import EntityTagger
from transform.language import detect_language
from transform.state import as_utc, lock_state, prune, untrusted_date
from transform.stories import StoryDecision, StoryIndex
from transform.storysim import DEFAULT_THRESHOLD, StoryFeatures, story_features
from wiredesk.metrics import REDELIVERED
from wiredesk.records import Article, EnrichedArticle, Entity, Record, VerdictRevision
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EnrichOptions:
    ner_enabled: bool = True
    ner_model: str = "wiredesk_news_ner"
    ner_languages: tuple[str, ...] = ("en",)  # what the model was trained on
    ner_recent_paragraphs: int = 50_000  # mentions of recent paragraphs kept for copies
    dedup_threshold: float = 0.85
    dedup_min_jaccard: float = 0.15
    dedup_lead_threshold: float = 0.6
    dedup_window: timedelta | None = None  # None: copies at any distance retention keeps
    story_threshold: float = DEFAULT_THRESHOLD
    story_window: timedelta = timedelta(hours=72)
    retention: timedelta = timedelta(days=7)
    prune_interval_s: float = 600.0
    max_revisions: int = 200  # revision records published per input article, at most

    @classmethod
    def from_settings(cls, settings: Any) -> EnrichOptions:
        return cls(
            ner_enabled=settings.ner_enabled,
            ner_model=settings.ner_model,
            ner_recent_paragraphs=settings.ner_recent_paragraphs,
            dedup_threshold=settings.dedup_threshold,
            dedup_min_jaccard=settings.dedup_min_jaccard,
            dedup_lead_threshold=settings.dedup_lead_threshold,
            dedup_window=(
                timedelta(hours=settings.dedup_window_hours)
                if settings.dedup_window_hours
                else None
            ),
            story_threshold=settings.story_threshold,
            story_window=timedelta(hours=settings.story_window_hours),
            retention=timedelta(days=settings.transform_retention_days),
        )


class EnrichArticles:
    def __init__(self, engine: Engine, options: EnrichOptions | None = None) -> None:
        self.engine = engine
        self.options = opts = options or EnrichOptions()
        self.dedup = DedupIndex(
            engine,
            opts.dedup_threshold,
            opts.dedup_min_jaccard,
            opts.dedup_lead_threshold,
            opts.dedup_window,
        )
        self.stories = StoryIndex(engine, opts.story_threshold, opts.story_window)
        self._tagger: EntityTagger | None = None  # loaded on first use: other stages never pay
        self._last_prune = 0.0
        self._decided: dict[int, tuple[Article, _Inputs, _Decided]] = {}  # by prepare()

    @property
    def tagger(self) -> EntityTagger:
        if self._tagger is None:
            started = time.perf_counter()
            self._tagger = EntityTagger(
                self.options.ner_model, recent_paragraphs=self.options.ner_recent_paragraphs
            )
            log.info("ner_model_loaded", seconds=round(time.perf_counter() - started, 2))
        return self._tagger

    def prepare(self, batch: Sequence[Record]) -> None:
        """Decide a whole batch in one transaction, taking the state lock once.

        Called by the runner before :meth:`__call__` runs on each record of the batch.
        The decisions are committed here, so they are stored before any output of the
        batch is published; ``__call__`` then finds and uses them. A record whose inputs
        fail here is left to ``__call__`` (which raises its error); if any decision fails,
        nothing of the batch is kept and every record is decided on its own, as before
        (no savepoints: pysqlite's are unreliable). Measured: BENCHMARKS.md."""
        self._decided = {}
        todo = []
        for record in batch:
            if isinstance(record, Article):
                try:
                    todo.append((record, self._inputs(record)))
                except Exception:  # noqa: S112 (__call__ meets it again and reports it)
                    continue
        if not todo:
            return
        decided: dict[int, tuple[Article, _Inputs, _Decided]] = {}
        with self.engine.begin() as conn:
            lock_state(conn)
            for record, inputs in todo:
                decided[id(record)] = (record, inputs, self._decide(conn, record, inputs))
        self._decided = decided

    def __call__(self, record: Record) -> Iterator[Record]:
        assert isinstance(record, Article)
        known = self._decided.get(id(record))
        if known is not None and known[0] is record:
            _, inputs, decided = known
        else:
            inputs = self._inputs(record)
            with self.engine.begin() as conn:
                lock_state(conn)  # one transaction: verdict, story and revisions
                decided = self._decide(conn, record, inputs)
        if inputs.date_problem is not None:
            metrics.UNTRUSTED_DATES.labels(inputs.date_problem).inc()
        verdict, story = decided.verdict, decided.story
        metrics.VERDICTS.labels(verdict.kind).inc()
        metrics.REVISIONS.labels("canonical").inc(verdict.revised)
        if verdict.replayed:
            REDELIVERED.labels("enrich_articles").inc()
        metrics.STORIES.labels(story.outcome).inc()
        metrics.REVISIONS.labels("story").inc(story.revised)
        with _timed("language"):
            detected = detect_language(record.title, record.text)
        metrics.LANGUAGES.labels(detected or "und").inc()
        entities = self._entities(record, detected)
        now = decided.now
        yield EnrichedArticle(
            **record.model_dump(exclude={"schema_name", "published_at"}),
            published_at=inputs.published,
            published_at_claimed=inputs.claimed,
            duplicate_of=now.duplicate_of,
            similarity=now.similarity,
            story_id=now.story_id,
            revision=now.revision,
            entities=entities,
            detected_language=detected,
        )
        yield from decided.revised
        self._maybe_prune()

    def _inputs(self, record: Article) -> _Inputs:
        """What the decisions need, computed outside the lock: trusted dates, fingerprint
        and story features (the features do not use entities)."""
        published, claimed = record.published_at, None
        problem = untrusted_date(record.published_at, record.fetched_at)
        if problem is not None:
            published, claimed = None, record.published_at
        published = as_utc(published) if published is not None else None
        event_at = published or record.discovered_at or record.fetched_at
        with _timed("fingerprint"):
            if record.text_withheld:
                fp = withheld_fingerprint(record.article_id)
            else:
                fp = fingerprint(record.title, record.text)
        if fp.shingle_count == 0 and not record.text_withheld:
            raise BadInput("no_text", f"{record.article_id}: no words in the text")
        feats = story_features(record.title, record.text, (), event_at)
        return _Inputs(published, claimed, problem, fp, feats)

    def _decide(self, conn: Connection, record: Article, inputs: _Inputs) -> _Decided:
        """Dedup verdict, story, the verdict as it now stands and the revisions to emit,
        in the caller's transaction (which holds the state lock)."""
        with _timed("dedup"):
            verdict = self.dedup.decide_in(
                conn,
                record.article_id,
                inputs.fp,
                inputs.published,
                record.discovered_at,
                record.fetched_at,
            )
        with _timed("story"):
            story = self.stories.assign_in(
                conn, record.article_id, inputs.features, revise=verdict.kind == "updated"
            )
            now = revisions.current(conn, record.article_id)
            revised = self._revisions(conn, record.article_id, verdict.replayed)
        return _Decided(verdict, story, now, revised)

    def _revisions(self, conn: Connection, article_id: str, replayed: bool) -> list[Record]:
        """Pending revisions to publish (at most ``max_revisions``), and on a redelivery
        those this article emitted before (they may not have been published)."""
        limit = self.options.max_revisions
        again = revisions.re_emit(conn, article_id, limit) if replayed else []
        pending = revisions.take_pending(conn, article_id, limit)
        metrics.REVISIONS_EMITTED.labels("re-emitted").inc(len(again))
        metrics.REVISIONS_EMITTED.labels("pending").inc(len(pending))
        return [*again, *pending]

    def _entities(self, record: Article, detected: str | None) -> list[Entity]:
        """NER of the article's own text (a copy too: see the module docstring)."""
        if not self.options.ner_enabled:
            metrics.ENTITY_SOURCE.labels("off").inc()
            return []
        if record.text_withheld:
            metrics.ENTITIES_SKIPPED.labels("withheld").inc()
            return []
        language = detected or _primary(record.language)  # the declaration if text is unsure
        if language is not None and language not in self.options.ner_languages:
            metrics.ENTITIES_SKIPPED.labels("language").inc()
            return []
        metrics.ENTITY_SOURCE.labels("model").inc()
        tagger = self.tagger
        with _timed("ner"):
            entities, tagged, reused = tagger.tag_counted(record.text)
        metrics.NER_PARAGRAPHS.labels("tagged").inc(tagged)
        metrics.NER_PARAGRAPHS.labels("reused").inc(reused)
        return entities

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


@dataclass(frozen=True)
class _Inputs:
    published: datetime | None
    claimed: datetime | None
    date_problem: str | None
    fp: Fingerprint
    features: StoryFeatures


@dataclass(frozen=True)
class _Decided:
    verdict: Verdict
    story: StoryDecision
    now: VerdictRevision
    revised: list[Record]


class _timed:
    def __init__(self, step: str) -> None:
        self.step = step

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        metrics.STEP_SECONDS.labels(self.step).observe(time.perf_counter() - self.started)


def _primary(tag: str | None) -> str | None:
    """``en`` of ``en-GB`` / ``EN_us``; None for no declaration."""
    return tag.replace("_", "-").split("-")[0].strip().lower() or None if tag else None
