"""Article writer: news.enriched -> sources, articles, entities, article_entities, stories.

One transaction per batch. Every table is upserted by its stable key, and a row is only
rewritten when what it says changed (``articles.record_hash``; column comparisons
elsewhere), so re-delivery and replay leave row counts, contents and ``updated_at``
alone, while a record with new content (a newer extractor, a new dedup verdict, other
entities) updates its rows in place. Offsets are committed by the runner only after this
transaction commits.

A database that cannot be reached raises; the runner then pauses the stage (it stays in
its consumer group, readiness goes false) and retries the same batch until it can.

Article versions (:mod:`sink.versions`): a record whose title or text changed adds an
``article_versions`` row in the same transaction; the row shows the latest ``version``.

Writes are fenced (:mod:`sink.fence`): the runner hands in each record's source position,
records at or below the group's fence for their partition are skipped, and a row only
moves forward in the total order ``(fetched_at, extractor_rank, source_partition,
source_offset)``: a replay with an older extractor never overwrites a newer extraction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg.errors
import sqlalchemy.exc
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)

from sink import entity_names, fence, metrics, revisions, stories, versions
from sink.rows import VERDICT, ArticleRows, rows_for
from wiredesk.db import insert_for, upsert_many
from wiredesk.db.tables import ArticleEntityRow, ArticleRow, EntityRow, SourceRow
from wiredesk.errors import is_transient
from wiredesk.metrics import REDELIVERED
from wiredesk.records import EnrichedArticle, Record, VerdictRevision
from wiredesk.stage import Position, Transient


class ArticleWriter:
    fenced = True  # the runner passes each record's source position (sink.fence)

    def __init__(self, engine: Engine, stage_name: str = "write_articles") -> None:
        self.engine = engine
        self.stage_name = stage_name
        metrics.initialise()

    def write(
        self, records: Sequence[Record], positions: Sequence[Position | None] | None = None
    ) -> None:
        where = list(positions) if positions is not None else [None] * len(records)
        items = [(r, p) for r, p in zip(records, where, strict=True)]
        items = [(r, p) for r, p in items if isinstance(r, EnrichedArticle | VerdictRevision)]
        if not items:
            return
        started = time.perf_counter()
        try:
            with self.engine.begin() as conn:
                fences = fence.lock(conn, {fence.key(p) for _, p in items if p is not None})
                keep, advanced = fence.fresh([p for _, p in items], fences)
                fenced = len(items) - len(keep)
                batch: dict[str, ArticleRows] = {}
                history: dict[str, list[dict[str, Any]]] = {}  # every version, in order
                revised: dict[str, VerdictRevision] = {}
                for i in keep:
                    record, p = items[i]
                    if isinstance(record, EnrichedArticle):
                        batch[record.article_id] = _positioned(rows_for(record), p)  # last wins
                        history.setdefault(record.article_id, []).append(
                            batch[record.article_id].article
                        )
                    elif (was := revised.get(record.article_id)) is None or (
                        record.revision > was.revision
                    ):
                        revised[record.article_id] = record
                counts = _write(conn, batch, history) if batch else _Counts(new_ids=set())
                if revised:
                    touched = revisions.apply(conn, revised)
                    for outcome, n in stories.refresh(conn, touched).items():
                        counts.add("stories", outcome, n)
                fence.advance(conn, advanced)
        except sqlalchemy.exc.IntegrityError as exc:
            if not isinstance(exc.orig, psycopg.errors.UniqueViolation):
                metrics.DB_ERRORS.labels("rejected").inc()
                raise
            # Every key here is derived from the record, so a unique violation is a race:
            # two writers inserted the same new row (e.g. an outlet's first articles on two
            # partitions) and ON CONFLICT arbitrates only one of the table's unique indexes
            # (sources: source_id, host). Retrying the batch finds the row and updates it.
            metrics.DB_ERRORS.labels("conflict").inc()
            raise Transient(f"concurrent insert of the same key: {exc.orig}") from exc
        except Exception as exc:
            metrics.DB_ERRORS.labels("unavailable" if is_transient(exc) else "rejected").inc()
            raise
        metrics.TRANSACTION_SECONDS.observe(time.perf_counter() - started)
        for (table, outcome), n in counts.items():
            metrics.ROWS.labels(table, outcome).inc(n)
        if fenced:
            metrics.ROWS.labels("articles", "fenced").inc(fenced)
        skipped = counts.get(("articles", "unchanged"), 0) + counts.get(("articles", "stale"), 0)
        REDELIVERED.labels(self.stage_name).inc(skipped + fenced)
        _observe_new(batch, counts.new_ids)
        versions.count(counts.updates)


def _positioned(rows: ArticleRows, p: Position | None) -> ArticleRows:
    """The row remembers where its version came from (not part of ``record_hash``)."""
    rows.article["source_partition"] = p.partition if p is not None else None
    rows.article["source_offset"] = p.offset if p is not None else None
    return rows


class _Counts(dict[tuple[str, str], int]):
    def __init__(self, new_ids: set[str] | None = None) -> None:
        super().__init__()
        self.new_ids = new_ids or set()
        self.updates: list[tuple[str, bool]] = []  # new versions (sink.versions.count)

    def add(self, table: str, outcome: str, n: int = 1) -> None:
        self[(table, outcome)] = self.get((table, outcome), 0) + n


def _write(
    conn: Connection, batch: dict[str, ArticleRows], history: dict[str, list[dict[str, Any]]]
) -> _Counts:
    counts = _Counts()
    ids = sorted(batch)
    old = {
        r.article_id: r
        for r in conn.execute(
            select(
                ArticleRow.article_id,
                ArticleRow.record_hash,
                ArticleRow.story_id,
                ArticleRow.fetched_at,
                ArticleRow.source_partition,
                ArticleRow.source_offset,
                ArticleRow.revision,
                ArticleRow.extractor_version,
                ArticleRow.title,
                ArticleRow.content_hash,
                ArticleRow.version,
                ArticleRow.first_published_at,
            ).where(ArticleRow.article_id.in_(ids))
        )
    }
    stale = {i for i in ids if i in old and _older(batch[i].article, old[i])}
    revisions.take_waiting(conn, {i: batch[i].article for i in ids if i not in stale})
    changed = [
        i
        for i in ids
        if i not in stale
        and (
            i not in old
            or old[i].record_hash != batch[i].article["record_hash"]
            or old[i].revision < batch[i].article["revision"]
        )
    ]
    _move_position(conn, [batch[i].article for i in ids if i in old and i not in stale], old)
    counts.new_ids = {i for i in changed if i not in old}
    counts.add("articles", "inserted", len(counts.new_ids))
    counts.add("articles", "updated", len(changed) - len(counts.new_ids))
    counts.add("articles", "stale", len(stale))
    counts.add("articles", "unchanged", len(ids) - len(changed) - len(stale))
    if not changed:
        return counts
    rows = [batch[i] for i in changed]
    hosts = {i: batch[i].source["host"] if batch[i].source else None for i in changed}
    final = {i: batch[i].article for i in changed}
    inserted, counts.updates = versions.assign(conn, history, final, old, _older, hosts)
    counts.add("article_versions", "inserted", inserted)
    _upsert_sources(conn, rows, counts)
    _upsert_articles(conn, rows)
    _replace_mentions(conn, rows, counts)
    touched = {r.article["story_id"] for r in rows} | {old[i].story_id for i in changed if i in old}
    for outcome, n in stories.refresh(conn, {s for s in touched if s}).items():
        counts.add("stories", outcome, n)
    return counts


def _older(article: dict[str, Any], stored: Any) -> bool:
    """Whether ``article`` is an older version than the stored row (:func:`fence.older`).

    A crash or an upstream duplicate can fetch a page twice, so news.enriched may hold two
    versions of one article that differ only in fetch time; a replay of extract or enrich
    gives two with the same fetch time, ordered by their offsets. Keeping the later one,
    and skipping the earlier whichever order they come in, makes a replay a no-op."""
    return fence.older(
        article.get("fetched_at"),
        (article.get("source_partition"), article.get("source_offset")),
        stored.fetched_at,
        (stored.source_partition, stored.source_offset),
        (article.get("extractor_version"), stored.extractor_version),
    )


def _move_position(conn: Connection, articles: list[dict[str, Any]], old: dict[str, Any]) -> None:
    """A newer record with unchanged content: record its position, leave ``updated_at``
    alone, so an older version that arrives later is still recognised as older."""
    moved = [
        {"b_id": a["article_id"], "b_p": a["source_partition"], "b_o": a["source_offset"]}
        for a in articles
        if a.get("source_offset") is not None
        and a["record_hash"] == old[a["article_id"]].record_hash
        and (old[a["article_id"]].source_partition, old[a["article_id"]].source_offset)
        != (a["source_partition"], a["source_offset"])
    ]
    if moved:
        t = ArticleRow.__table__
        conn.execute(
            update(t)
            .where(t.c.article_id == bindparam("b_id"))
            .values(source_partition=bindparam("b_p"), source_offset=bindparam("b_o")),
            moved,
        )


def _upsert(
    conn: Connection, table: Any, rows: list[dict[str, Any]], key: list[str], columns: Sequence[str]
) -> None:
    stmt = insert_for(conn.engine, table)
    changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in columns))
    update = {c: stmt.excluded[c] for c in columns}
    if "updated_at" in table.c:
        update["updated_at"] = func.now()
    upsert_many(
        conn, stmt.on_conflict_do_update(index_elements=key, set_=update, where=changed), rows
    )


def _upsert_sources(conn: Connection, rows: list[ArticleRows], counts: _Counts) -> None:
    sources = {r.source["source_id"]: r.source for r in rows if r.source}
    if not sources:
        return
    table = SourceRow.__table__
    known = dict(
        conn.execute(
            select(SourceRow.source_id, SourceRow.name).where(
                SourceRow.source_id.in_(sorted(sources))
            )
        ).all()
    )
    counts.add("sources", "inserted", len(set(sources) - set(known)))
    stmt = insert_for(conn.engine, table)
    # The first name seen for an outlet sticks; a later one only fills a missing name.
    fill = and_(table.c.name.is_(None), stmt.excluded.name.is_not(None))
    upsert_many(
        conn,
        stmt.on_conflict_do_update(
            index_elements=["source_id"],
            set_={"name": stmt.excluded.name, "updated_at": func.now()},
            where=fill,
        ),
        [sources[k] for k in sorted(sources)],
    )


def _upsert_articles(conn: Connection, rows: list[ArticleRows]) -> None:
    table = ArticleRow.__table__
    stmt = insert_for(conn.engine, table)
    columns = [c for c in rows[0].article if c != "article_id"]
    newer = stmt.excluded.revision >= table.c.revision  # a verdict never goes back
    update = {
        c: case((newer, stmt.excluded[c]), else_=table.c[c]) if c in VERDICT else stmt.excluded[c]
        for c in columns
    } | {"updated_at": func.now()}
    new = stmt.excluded
    at = tuple_(func.coalesce(new.source_partition, -1), func.coalesce(new.source_offset, -1))
    was = tuple_(
        func.coalesce(table.c.source_partition, -1), func.coalesce(table.c.source_offset, -1)
    )
    ranked = and_(new.extractor_rank.is_not(None), table.c.extractor_rank.is_not(None))
    same_extractor = or_(~ranked, new.extractor_rank == table.c.extractor_rank)
    not_older = or_(  # the same rule as _older, for a row another writer just wrote
        and_(or_(table.c.fetched_at.is_(None), new.fetched_at.is_(None)), at >= was),
        new.fetched_at > table.c.fetched_at,
        and_(
            new.fetched_at == table.c.fetched_at,
            ranked,
            new.extractor_rank > table.c.extractor_rank,
        ),
        and_(new.fetched_at == table.c.fetched_at, same_extractor, at >= was),
    )
    changed = and_(
        or_(
            table.c.record_hash.is_distinct_from(stmt.excluded.record_hash),
            stmt.excluded.revision > table.c.revision,
        ),
        not_older,
    )
    upsert_many(
        conn,
        stmt.on_conflict_do_update(index_elements=["article_id"], set_=update, where=changed),
        [r.article for r in rows],
    )


def _insert_entities(conn: Connection, rows: list[ArticleRows], counts: _Counts) -> set[str]:
    """Add entities not stored yet (their name and label are set by ``entity_names``)."""
    entities = {k: v for r in rows for k, v in sorted(r.entities.items())}
    if not entities:
        return set()
    known = set(
        conn.scalars(
            select(EntityRow.canonical_id).where(EntityRow.canonical_id.in_(sorted(entities)))
        )
    )
    new = sorted(set(entities) - known)
    if new:
        stmt = insert_for(conn.engine, EntityRow.__table__)
        upsert_many(
            conn,
            stmt.on_conflict_do_nothing(index_elements=["canonical_id"]),
            [entities[k] for k in new],
        )
    counts.add("entities", "inserted", len(new))
    return set(new)


def _replace_mentions(conn: Connection, rows: list[ArticleRows], counts: _Counts) -> None:
    """Rewrite the articles' article_entities rows, then their entities' names and labels."""
    new = _insert_entities(conn, rows, counts)
    table = ArticleEntityRow.__table__
    ids = [r.article["article_id"] for r in rows]
    existing = {
        (r.article_id, r.canonical_id): r._asdict()
        for r in conn.execute(select(table).where(table.c.article_id.in_(ids)))
    }
    wanted = {(m["article_id"], k): m for r in rows for k, m in r.mentions.items()}
    touched = {cid for _, cid in (*existing, *wanted)}
    entity_names.lock(conn, touched)
    gone = sorted(set(existing) - set(wanted))
    if gone:
        conn.execute(
            delete(table).where(tuple_(table.c.article_id, table.c.canonical_id).in_(gone))
        )
        counts.add("article_entities", "deleted", len(gone))
    columns = ("surfaces", "offsets", "mentions", "name", "label")
    for key, m in wanted.items():
        was = existing.get(key)
        if was is None:
            counts.add("article_entities", "inserted")
        elif any(was[c] != m[c] for c in columns):
            counts.add("article_entities", "updated")
        else:
            counts.add("article_entities", "unchanged")
    if wanted:
        # JSON has no equality operator on PostgreSQL: rewrite every wanted row
        stmt = insert_for(conn.engine, table)
        update = {c: stmt.excluded[c] for c in columns}
        upsert_many(
            conn,
            stmt.on_conflict_do_update(index_elements=["article_id", "canonical_id"], set_=update),
            [wanted[k] for k in sorted(wanted)],
        )
    metrics.ENTITY_MENTIONS.inc(sum(m["mentions"] for m in wanted.values()))
    entity_names.apply(conn, entity_names.mention_deltas(existing.values(), wanted.values()))
    renamed = set(entity_names.refresh(conn, touched)) - new
    counts.add("entities", "updated", len(renamed))
    counts.add("entities", "unchanged", len(touched - renamed - new))


def _observe_new(batch: dict[str, ArticleRows], new_ids: set[str]) -> None:
    now = datetime.now(UTC)
    for article_id in new_ids:
        article = batch[article_id].article
        verdict = "duplicate" if article["duplicate_of"] else "original"
        metrics.ARTICLES.labels(verdict).inc()
        for since in metrics.FRESHNESS_SINCE:
            when = article.get(f"{since}_at")
            if when is not None:
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
                metrics.FRESHNESS_SECONDS.labels(since).observe(
                    max(0.0, (now - when).total_seconds())
                )
