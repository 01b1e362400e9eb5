"""The transform's per-article statements, built once with bound parameters.

Dedup, story and revision decisions run about fifteen statements per article. Building
each statement anew (``select(...).where(col == value)``) cost more client CPU than
running it, so the frequent ones are module constants executed with parameters (lists
through expanding ``IN`` parameters); SQLAlchemy compiles each once per engine. Measured:
BENCHMARKS.md (bench/transform_throughput.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    text,
    update,
)

from wiredesk.db import insert_for
from wiredesk.db.dedup_tables import ContentFingerprintRow, DedupBandRow, DedupEntryRow, StoryKeyRow

DEDUP_CANDIDATES = 200  # the most band-sharing candidates verified per article
STORY_CANDIDATES = 500  # the most key-sharing articles compared per article

E = DedupEntryRow


def _in(column: Any, name: str) -> Any:
    return column.in_(bindparam(name, expanding=True))


def rows_by_id(conn: Connection, statement: Any, ids: set[str], known: list[Any]) -> list[Any]:
    """The entries of ``ids``: those among ``known`` (rows read in this transaction) as
    they are, the others read by ``statement`` (``ids``: an IN list); no statement when
    none is missing (an original's usual case)."""
    have = {r.article_id: r for r in known if r.article_id in ids}
    missing = sorted(ids - have.keys())
    read = conn.execute(statement, {"ids": missing}).all() if missing else []
    return [*have.values(), *read]


# One entry's postings from an array of keys (PostgreSQL), as literal statements: no
# SQL is built by string formatting (tests/reliability/test_reliability_postgres.py, P8).
INSERT_POSTINGS = {
    "dedup_bands": text(
        "INSERT INTO dedup_bands (band_key, entry_seq, at, tie) "
        "SELECT k, CAST(:seq AS bigint), CAST(:at AS bigint), CAST(:tie AS bigint) "
        "FROM unnest(CAST(:keys AS bigint[])) AS k ON CONFLICT DO NOTHING"
    ),
    "story_article_keys": text(
        "INSERT INTO story_article_keys (key, entry_seq, at, tie) "
        "SELECT k, CAST(:seq AS bigint), CAST(:at AS bigint), CAST(:tie AS bigint) "
        "FROM unnest(CAST(:keys AS bigint[])) AS k ON CONFLICT DO NOTHING"
    ),
}


def insert_postings(
    conn: Connection, table: Table, keys: list[int], seq: int, at: int | None, tie: int
) -> None:
    """One entry's postings (``dedup_bands`` or ``story_article_keys``), existing ones
    left alone. PostgreSQL gets one statement over an array of keys; an executemany of
    about 40 rows cost twice the client CPU (BENCHMARKS.md, Cut 9). SQLite takes the
    executemany."""
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        params = {"keys": keys, "seq": seq, "at": at, "tie": tie}
        conn.execute(INSERT_POSTINGS[table.name], params)
        return
    insert_postings_each(conn, table, keys, seq, at, tie)


def insert_postings_each(
    conn: Connection, table: Table, keys: list[int], seq: int, at: int | None, tie: int
) -> None:
    """The same postings as an executemany of one row per key (SQLite's way, and the
    baseline of ``bench/postings.py``)."""
    key = "band_key" if table.name == "dedup_bands" else "key"
    rows = [{key: k, "entry_seq": seq, "at": at, "tie": tie} for k in keys]
    conn.execute(insert_for(conn.engine, table).on_conflict_do_nothing(), rows)


# -- dedup --------------------------------------------------------------------------------
DEDUP_ROW = (
    E.seq,
    E.article_id,
    E.published_at,
    E.discovered_at,
    E.content_hash,
    E.shingle_count,
    E.signature,
    E.lead_signature,
    E.duplicate_of,
    E.similarity,
)
STORED = select(*DEDUP_ROW, E.version_fetched_at).where(E.article_id == bindparam("article_id"))
ENTRIES_BY_ID = select(*DEDUP_ROW).where(_in(E.article_id, "ids"))
ENTRY_BY_SEQ = select(*DEDUP_ROW).where(E.seq == bindparam("seq"))
_shared = func.count().label("shared")
_band_tie = func.max(DedupBandRow.tie).label("tie")
_band_keys = bindparam("keys", expanding=True)


def _band_candidates(windowed: bool) -> Any:
    """Entries sharing band keys, ranked by shared bands, then a fixed hash of the article
    id (no arrival order). ``windowed``: only postings whose time is within ``lo``..``hi``
    or unknown (transform.dedup.within_window)."""
    where = DedupBandRow.band_key.in_(_band_keys)
    if windowed:
        at = DedupBandRow.at
        where = and_(where, or_(at.between(bindparam("lo"), bindparam("hi")), at.is_(None)))
    return (
        select(DedupBandRow.entry_seq, _shared, _band_tie)
        .where(where)
        .group_by(DedupBandRow.entry_seq)
        .order_by(_shared.desc(), _band_tie.asc().nulls_last(), DedupBandRow.entry_seq)
        .limit(DEDUP_CANDIDATES)
    )


BAND_CANDIDATES = _band_candidates(windowed=False)
BAND_CANDIDATES_IN_WINDOW = _band_candidates(windowed=True)
TEXT_OWNER = select(ContentFingerprintRow.article_id).where(
    ContentFingerprintRow.content_hash == bindparam("content_hash")
)
ENTRIES_BY_SEQ_OR_ID = select(*DEDUP_ROW).where(
    or_(_in(E.seq, "seqs"), E.article_id == bindparam("owner"))
)
GROUPS_OF = select(*DEDUP_ROW).where(or_(_in(E.article_id, "ids"), _in(E.duplicate_of, "ids")))
REDIRECT = (
    update(E)
    .where(E.seq == bindparam("member"))
    .values(
        duplicate_of=bindparam("dup"),
        similarity=bindparam("score"),
        revision=E.revision + 1,
        pending=True,
    )
)

# -- stories ------------------------------------------------------------------------------
STORY_ROW = (
    E.seq,
    E.article_id,
    E.published_at,
    E.discovered_at,
    E.story_root,
    E.story_features,
    E.story_id,
    E.duplicate_of,
)
STORY_ME = select(*STORY_ROW).where(E.article_id == bindparam("article_id"))
STORY_HEADS = select(*STORY_ROW).where(_in(E.article_id, "ids"))
_canonical = bindparam("canonical")
STORY_GROUP = select(*STORY_ROW).where(
    or_(E.article_id == _canonical, E.duplicate_of == _canonical), E.story_root.is_not(None)
)
_key_shared = func.count().label("shared")
_key_tie = func.max(StoryKeyRow.tie).label("tie")
_keys = bindparam("keys", expanding=True)
# Postings inside the story window only (``lo``..``hi``: the article's time +- the window;
# an unknown time is always in it): an article outside can never be an edge
# (storysim.same_story), so the work follows the window's articles, not all of the state.
# Written as two arms so that both are ranges of the (key, at) index.
_in_window = or_(
    and_(StoryKeyRow.key.in_(_keys), StoryKeyRow.at.between(bindparam("lo"), bindparam("hi"))),
    and_(StoryKeyRow.key.in_(_keys), StoryKeyRow.at.is_(None)),
)
# The best ``STORY_CANDIDATES`` are chosen from the key table alone (shared keys, then a
# fixed hash of the article id: no arrival order), and only they are joined to their
# (wide) entries, by primary key.
_best = (
    select(StoryKeyRow.entry_seq, _key_shared, _key_tie)
    .where(_in_window, StoryKeyRow.entry_seq != bindparam("me"))
    .group_by(StoryKeyRow.entry_seq)
    .order_by(_key_shared.desc(), _key_tie, StoryKeyRow.entry_seq)
    .limit(STORY_CANDIDATES)
    .subquery()
)
# The candidates' features as JSON text: decoded only for those verified (stories.py).
_FEATURES_TEXT = cast(E.story_features, Text).label("story_features")
STORY_CANDIDATES_SQL = (
    select(*(_FEATURES_TEXT if c is E.story_features else c for c in STORY_ROW))
    .join(_best, _best.c.entry_seq == E.seq)
    .where(E.story_root.is_not(None))
    .order_by(_best.c.shared.desc(), _best.c.tie, E.seq)
)
PLACE = (
    update(E)
    .where(E.seq == bindparam("me"))
    .values(
        story_root=bindparam("root"),
        story_id=bindparam("story"),
        story_features=bindparam("features", type_=E.story_features.type),
        revision=E.revision + 1,  # its own record carries this
        pending=False,
    )
)
MERGE_STORIES = (
    update(E)
    .where(_in(E.story_root, "losers"))
    .values(
        story_root=bindparam("root"),
        story_id=bindparam("story"),
        revision=E.revision + 1,
        pending=True,
    )
)

# -- revisions ----------------------------------------------------------------------------
REVISION_ROW: tuple[Column[Any], ...] = (
    E.seq,
    E.article_id,
    E.revision,
    E.duplicate_of,
    E.similarity,
    E.story_id,
)
CURRENT = select(*REVISION_ROW).where(E.article_id == bindparam("article_id"))
PENDING = select(*REVISION_ROW).where(E.pending.is_(True)).order_by(E.seq).limit(bindparam("limit"))
MARK_EMITTED = (
    update(E).where(_in(E.seq, "seqs")).values(pending=False, emitted_by=bindparam("emitter"))
)
EMITTED_BY = (
    select(*REVISION_ROW)
    .where(E.emitted_by == bindparam("emitter"))
    .order_by(E.seq)
    .limit(bindparam("limit"))
)
