"""Streaming near-duplicate detection: dedup groups are connected components.

Two articles are copies when :meth:`DedupIndex.similarity` (a symmetric, pairwise check)
says so. A dedup group is a connected component of that "is a copy" graph: with A ~ B and
B ~ C but not A ~ C, A, B and C are one group (the policy for non-transitive chains: it
does not depend on which of them arrives first). The group's canonical (original) is its
earliest member by :func:`order_key`: trustworthy publication time, then discovery time,
then article id. Every other member has ``duplicate_of`` = the canonical and
``similarity`` = its score against the canonical (the verified score, or the estimated
containment when a chain links them without a direct match).

For each article, in one transaction (:meth:`DedupIndex.decide`) under the state lock
(:func:`transform.state.lock_state`):

1. if the article already has a row, return the verdict stored there (a replay, a
   redelivery after a crash, a second worker of a rebalance);
2. candidates: the owner of the same normalised-text hash, and articles sharing at least
   one band key (one of the body's single-value bands, or a three-row band of its lead;
   :mod:`transform.nearcopy`); each is verified by :meth:`DedupIndex.similarity` (and,
   with a dedup window set, by :func:`within_window` on the two articles' times);
3. the groups of the verified candidates and the article become one group; its
   canonical is the earliest member; members whose canonical (or score) changed get a
   new verdict with ``revision`` + 1 and are marked pending, for the enricher to emit;
4. insert the row (signature, bands, verdict) and commit.

So the groups and canonicals are a function of the set of articles decided, whatever
their order or the number of workers (as long as a candidate list stays under
``MAX_CANDIDATES``; beyond it, candidates sharing as many bands are ranked by a hash of
their id, not by arrival).

**The dedup window** (``dedup_window_hours``, off by default): two articles whose times
(publication, else discovery) are further apart are never copies. Retention prunes by
wall clock, so a backfill of weeks decided in hours compares articles the live stream
never did; the window makes that a property of the pair, the same live and in a
backfill. It is off by default because it also separates true copies: on the dedup dev
set, whose exact duplicates carry dates up to 60 days apart, 168 h took recall from
0.9868 to 0.8956 (BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Engine, update

from transform import minhash, nearcopy
from transform import state_sql as sql
from transform.state import as_utc, key_of, lock_state, utcnow
from transform.storysim import epoch_seconds, seconds_within, window_bounds
from transform.text import lead_shingles, normalised_hash, shingles, tokens
from wiredesk.db import insert_for
from wiredesk.db.dedup_tables import ContentFingerprintRow, DedupBandRow, DedupEntryRow

MAX_CANDIDATES = sql.DEDUP_CANDIDATES  # the most band-sharing candidates verified per article
LEAD_SHINGLES = 100
LEAD_MIN_CONTAINMENT = 0.5
ESTIMATED_THRESHOLD = 0.75  # the rule for rows without sketches (stored before them)


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    shingle_count: int
    signature: bytes  # of the whole body
    lead_signature: bytes  # of its first LEAD_SHINGLES shingles
    bands: list[int]  # LSH keys of both signatures


def fingerprint(title: str, text: str) -> Fingerprint:
    """MinHash of the body and of its lead; the stored signature also carries the lead's
    shingle hashes and the containment sketch (:func:`transform.nearcopy.pack`). Band
    keys: the lead's 20 three-row bands and the body's single-value bands."""
    words = tokens(title, text)
    grams = shingles(words)
    lead_grams = lead_shingles(words, LEAD_SHINGLES)
    sig = minhash.signature(grams)
    lead = minhash.signature(lead_grams)
    bands = nearcopy.single_bands(sig) + minhash.band_keys(lead, salt=1)
    packed = nearcopy.pack(sig, lead_grams, grams)
    return Fingerprint(normalised_hash(words), len(grams), packed, lead, bands)


def withheld_fingerprint(article_id: str) -> Fingerprint:
    """An article stored without its text (rights policy ``metadata``): no band keys and
    a content hash of its own, so it is never linked to another article, nor they to it."""
    own = hashlib.sha256(f"withheld:{article_id}".encode()).hexdigest()
    return replace(fingerprint("", ""), content_hash=own, bands=[])


@dataclass(frozen=True)
class Verdict:
    duplicate_of: str | None
    similarity: float | None
    kind: str  # "original", "exact", "near", "stored", "updated" (a new version)
    replayed: bool = False
    revised: int = 0  # other articles whose verdict this decision changed


def order_key(
    published_at: datetime | None, discovered_at: datetime | None, article_id: str
) -> tuple[bool, datetime, bool, datetime, str]:
    """Earliest first: known publication time, then known discovery time, then id."""
    low = datetime.min.replace(tzinfo=UTC)
    return (
        published_at is None,
        as_utc(published_at) if published_at else low,
        discovered_at is None,
        as_utc(discovered_at) if discovered_at else low,
        article_id,
    )


def _key_of(row: Any) -> tuple[bool, datetime, bool, datetime, str]:
    return order_key(row.published_at, row.discovered_at, row.article_id)


def article_time(published_at: datetime | None, discovered_at: datetime | None) -> int | None:
    """The time the dedup window compares: publication, else discovery (epoch seconds)."""
    return epoch_seconds(published_at if published_at is not None else discovered_at)


def within_window(a: int | None, b: int | None, window: timedelta | None) -> bool:
    """Times at most ``window`` apart; no window, or an unknown time, never separates."""
    return window is None or seconds_within(a, b, window)


def _as_fp(row: Any) -> Fingerprint:
    return Fingerprint(row.content_hash, row.shingle_count, row.signature, row.lead_signature, [])


_ROW = sql.DEDUP_ROW


class DedupIndex:
    def __init__(
        self,
        engine: Engine,
        threshold: float = 0.85,
        min_jaccard: float = 0.15,
        lead_threshold: float = 0.6,
        window: timedelta | None = None,
    ) -> None:
        self.engine = engine
        self.threshold = threshold
        self.min_jaccard = min_jaccard
        self.lead_threshold = lead_threshold
        self.window = window

    @cached_property
    def _insert_entry(self) -> Any:  # the dialect's statements, built on first use
        return insert_for(self.engine, DedupEntryRow.__table__).returning(DedupEntryRow.seq)

    @cached_property
    def _claim(self) -> Any:
        return insert_for(self.engine, ContentFingerprintRow.__table__).on_conflict_do_nothing()

    def decide(
        self,
        article_id: str,
        fp: Fingerprint,
        published_at: datetime | None,
        discovered_at: datetime | None = None,
        fetched_at: datetime | None = None,
    ) -> Verdict:
        """The article's verdict, decided in a transaction of its own under the state lock;
        ``published_at`` must already be the trustworthy time (see :meth:`decide_in`)."""
        with self.engine.begin() as conn:
            lock_state(conn)
            return self.decide_in(conn, article_id, fp, published_at, discovered_at, fetched_at)

    def decide_in(
        self,
        conn: Connection,
        article_id: str,
        fp: Fingerprint,
        published_at: datetime | None,
        discovered_at: datetime | None = None,
        fetched_at: datetime | None = None,
    ) -> Verdict:
        """:meth:`decide` in a transaction that holds the state lock already.

        ``fetched_at`` dates the version: a stored article whose text changed and that is
        not older than the stored version is revised (:meth:`_revise`, kind "updated")."""
        stored = conn.execute(sql.STORED, {"article_id": article_id}).first()
        if stored is not None:
            if _is_update(stored, fp, fetched_at):
                return self._revise(conn, stored, fp, fetched_at)
            return Verdict(stored.duplicate_of, stored.similarity, "stored", replayed=True)
        me = _Me(article_id, published_at, discovered_at, fp)
        at = article_time(published_at, discovered_at)
        linked = self._linked(conn, fp, at)
        canonicals = {r.duplicate_of or r.article_id for r in linked}
        heads = sql.rows_by_id(conn, sql.ENTRIES_BY_ID, canonicals, linked)
        winner: Any = min([me, *heads], key=_key_of)
        winner_fp = fp if winner is me else _as_fp(winner)
        revised = 0
        losers = [h.article_id for h in heads if h.article_id != winner.article_id]
        if losers:
            revised = self._redirect(conn, losers, winner.article_id, winner_fp)
        verdict = Verdict(None, None, "original", revised=revised)
        if winner is not me:
            score = self._score(fp, winner)
            kind = "exact" if winner.content_hash == fp.content_hash else "near"
            verdict = Verdict(winner.article_id, score, kind, revised=revised)
        entry = {
            "article_id": article_id,
            "first_seen_at": utcnow(),
            "published_at": published_at,
            "discovered_at": discovered_at,
            "content_hash": fp.content_hash,
            "shingle_count": fp.shingle_count,
            "signature": fp.signature,
            "lead_signature": fp.lead_signature,
            "duplicate_of": verdict.duplicate_of,
            "similarity": verdict.similarity,
            "version_fetched_at": fetched_at,
        }
        seq = conn.execute(self._insert_entry, entry).scalar_one()
        self._index(conn, seq, article_id, fp, at)
        return verdict

    def _index(
        self, conn: Connection, seq: int, article_id: str, fp: Fingerprint, at: int | None
    ) -> None:
        """Band keys (one statement) and the exact-text claim of an entry."""
        bands = sorted(set(fp.bands))  # none for a withheld text
        sql.insert_postings(conn, DedupBandRow.__table__, bands, seq, at, key_of("tie", article_id))
        conn.execute(self._claim, {"content_hash": fp.content_hash, "article_id": article_id})

    def _revise(
        self, conn: Connection, me: Any, fp: Fingerprint, fetched_at: datetime | None
    ) -> Verdict:
        """A new version of a decided article: re-fingerprint it and join what it now copies.

        The entry keeps its place (seq, times, story) and takes the new signature, bands
        and exact-text claim; candidates exclude the article itself, so an update is
        never a copy of its own earlier version. The groups it now links to merge with
        its own (canonical: the earliest member, as in :meth:`decide`); a group never
        splits (links only accumulate, as in the streaming index), which keeps the
        outcome independent of arrival order. Its own verdict (and the scores of the
        copies pointing at it) are recomputed against the new text; a changed verdict
        gets ``revision`` + 1."""
        conn.execute(
            update(DedupEntryRow)
            .where(DedupEntryRow.seq == me.seq)
            .values(
                content_hash=fp.content_hash,
                shingle_count=fp.shingle_count,
                signature=fp.signature,
                lead_signature=fp.lead_signature,
                version_fetched_at=fetched_at,
            )
        )
        conn.execute(DedupBandRow.__table__.delete().where(DedupBandRow.entry_seq == me.seq))
        conn.execute(
            ContentFingerprintRow.__table__.delete().where(
                ContentFingerprintRow.article_id == me.article_id
            )
        )
        at = article_time(me.published_at, me.discovered_at)
        self._index(conn, me.seq, me.article_id, fp, at)
        linked = [r for r in self._linked(conn, fp, at) if r.article_id != me.article_id]
        canonicals = {r.duplicate_of or r.article_id for r in linked}
        canonicals.add(me.duplicate_of or me.article_id)
        heads = list(conn.execute(sql.ENTRIES_BY_ID, {"ids": sorted(canonicals)}))
        winner = min(heads, key=_key_of)
        winner_fp = _as_fp(winner)  # read after the update: the new text if it is me
        losers = [h.article_id for h in heads if h.article_id != winner.article_id]
        revised = self._redirect(conn, losers, winner.article_id, winner_fp) if losers else 0
        if winner.article_id == me.article_id:  # its copies' scores follow its new text
            revised += self._redirect(conn, [me.article_id], me.article_id, fp)
            return Verdict(None, None, "updated", revised=revised)
        now = conn.execute(sql.ENTRY_BY_SEQ, {"seq": me.seq}).one()
        score = self._score(fp, winner)
        if (now.duplicate_of, now.similarity) != (winner.article_id, score):
            conn.execute(
                update(DedupEntryRow)
                .where(DedupEntryRow.seq == me.seq)
                .values(
                    duplicate_of=winner.article_id,
                    similarity=score,
                    revision=DedupEntryRow.revision + 1,
                )
            )
        return Verdict(winner.article_id, score, "updated", revised=revised)

    def _linked(self, conn: Connection, fp: Fingerprint, at: int | None) -> list[Any]:
        """Stored articles that are copies of ``fp`` (its time ``at``): the exact owner and
        the verified candidates, each within the window."""
        seqs = []
        if fp.bands:
            query, params = sql.BAND_CANDIDATES, {"keys": sorted(set(fp.bands))}
            if self.window is not None and at is not None:
                query = sql.BAND_CANDIDATES_IN_WINDOW
                params["lo"], params["hi"] = window_bounds(at, self.window)
            seqs = [row.entry_seq for row in conn.execute(query, params)]
        owner = conn.scalar(sql.TEXT_OWNER, {"content_hash": fp.content_hash})
        if not seqs and owner is None:
            return []
        rows = conn.execute(sql.ENTRIES_BY_SEQ_OR_ID, {"seqs": seqs, "owner": owner}).all()
        if self.window is not None:  # no window (the default): no time to compute per row
            rows = [
                r
                for r in rows
                if within_window(at, article_time(r.published_at, r.discovered_at), self.window)
            ]
        return [
            r
            for r in rows
            if r.content_hash == fp.content_hash or self.similarity(fp, r) is not None
        ]

    def _redirect(
        self, conn: Connection, losers: list[str], canonical: str, canonical_fp: Fingerprint
    ) -> int:
        """Point every member of the ``losers`` groups at ``canonical``; rows changed."""
        members = conn.execute(sql.GROUPS_OF, {"ids": sorted(losers)}).all()
        changes = []
        for m in members:
            dup, score = None, None
            if m.article_id != canonical:
                dup, score = canonical, self._score(canonical_fp, m)
            if (dup, score) != (m.duplicate_of, m.similarity):
                changes.append({"member": m.seq, "dup": dup, "score": score})
        if changes:  # executemany: one compiled statement for the whole merge
            conn.execute(sql.REDIRECT, changes)
        return len(changes)

    def _score(self, fp: Fingerprint, row: Any) -> float:
        """The similarity a copy reports against its canonical (symmetric in the pair)."""
        if fp.content_hash == row.content_hash:
            return 1.0
        a, b = sorted([fp, _as_fp(row)], key=lambda f: (f.content_hash, f.shingle_count))
        score = self.similarity(a, b)
        if score is None:  # linked through a chain: the estimated containment
            score = minhash.overlap(
                a.signature, a.shingle_count, b.signature, b.shingle_count
            ).containment
        return round(score, 4)

    def similarity(self, fp: Fingerprint, row: Any) -> float | None:
        """The verified similarity of a candidate, or None when it is not a copy.

        Symmetric in the pair, counted on the containment sketches
        (:func:`transform.nearcopy.is_copy`): a copy is contained in the other text (or
        contains it) at >= threshold, or resembles it (Jaccard >= 0.5), or keeps the
        story's opening (half of it found in the other, and one text's first 100
        shingles at least 80 % found in the other); or the leads agree at Jaccard >=
        lead_threshold while half of the smaller text is found in the other. A row
        stored before sketches existed is verified on the MinHash estimates, by the rule
        before sketches (estimated containment >= 0.75 with Jaccard >= min_jaccard, or
        the lead rule).
        """
        a, b = nearcopy.unpack(fp.signature), nearcopy.unpack(row.signature)
        if a.sketch is None or b.sketch is None or a.lead is None or b.lead is None:
            return self._estimated(fp, row, a.minhash, b.minhash)
        counted = nearcopy.count(a.sketch, b.sketch)
        if counted.smaller < nearcopy.MIN_SAMPLE and not counted.sampled_all:
            return self._estimated(fp, row, a.minhash, b.minhash)
        smaller = min(fp.shingle_count, row.shingle_count)
        covered = max(
            nearcopy.lead_covered(a.lead, b.sketch), nearcopy.lead_covered(b.lead, a.sketch)
        )
        scores = []
        if nearcopy.is_copy(counted, self.threshold, smaller, covered):
            scores.append(max(counted.containment, counted.jaccard))
        lead = nearcopy.jaccard(a.lead, b.lead)
        if lead >= self.lead_threshold and counted.containment >= LEAD_MIN_CONTAINMENT:
            scores.append(lead)
        return max(scores) if scores else None

    def _estimated(self, fp: Fingerprint, row: Any, sig_a: bytes, sig_b: bytes) -> float | None:
        ov = minhash.overlap(sig_a, fp.shingle_count, sig_b, row.shingle_count)
        scores = []
        if ov.containment >= ESTIMATED_THRESHOLD and ov.jaccard >= self.min_jaccard:
            scores.append(ov.containment)
        lead = minhash.jaccard(fp.lead_signature, row.lead_signature)
        if lead >= self.lead_threshold and ov.containment >= LEAD_MIN_CONTAINMENT:
            scores.append(lead)
        return max(scores) if scores else None


def _is_update(stored: Any, fp: Fingerprint, fetched_at: datetime | None) -> bool:
    """A different text, from a fetch not older than the stored version's."""
    if stored.content_hash == fp.content_hash:
        return False
    if fetched_at is None or stored.version_fetched_at is None:
        return fetched_at is not None  # a dated version replaces an undated one
    return as_utc(fetched_at) > as_utc(stored.version_fetched_at)


@dataclass(frozen=True)
class _Me:
    """The arriving article, shaped like a stored row for :func:`_key_of`."""

    article_id: str
    published_at: datetime | None
    discovered_at: datetime | None
    fp: Fingerprint

    @property
    def content_hash(self) -> str:
        return self.fp.content_hash
