"""Streaming near-duplicate detection over shared, durable, bounded state.

For each article, in one transaction (:meth:`DedupIndex.decide`):

1. lock the article's 40 LSH band keys (PostgreSQL advisory locks, ascending order);
2. if the article already has a row, return the verdict stored there: a replay, a
   redelivery after a crash, or a second worker of a rebalance gets the same answer;
3. exact copy: another article claimed the same normalised-text hash -> a duplicate of
   that article's canonical, similarity 1.0;
4. near copy: candidates share at least one band key -- one of the body's single-value
   bands, or a three-row band of its lead (the first 100 shingles, which survive when an
   outlet cuts the last paragraphs), see :mod:`transform.nearcopy`; each is verified by
   :meth:`DedupIndex.similarity` (containment and resemblance counted on sketches);
5. the canonical is the root of the earliest-seen similar candidate (first seen, then
   article id): a copy of a copy points at the original, never at another copy;
6. insert the row (signature, bands, verdict) and commit.

Copies of one story share band keys, so their decisions serialise on the locks: two
copies processed at the same moment on two workers are decided one after the other, and
the second sees the first. "First seen" is the order of those decisions. An article keeps
its first verdict for as long as its state is retained, even if its text is re-extracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from transform import minhash, nearcopy
from transform.state import lock_keys, utcnow
from transform.text import lead_shingles, normalised_hash, shingles, tokens
from wiredesk.db import insert_for
from wiredesk.db.dedup_tables import ContentFingerprintRow, DedupBandRow, DedupEntryRow

MAX_CANDIDATES = 200  # the most band-sharing candidates verified per article
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

    @property
    def lock_keys(self) -> list[int]:
        return self.bands


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


@dataclass(frozen=True)
class Verdict:
    duplicate_of: str | None
    similarity: float | None
    kind: str  # "original", "exact", "near"
    replayed: bool = False


class DedupIndex:
    def __init__(
        self,
        engine: Engine,
        threshold: float = 0.85,
        min_jaccard: float = 0.15,
        lead_threshold: float = 0.6,
    ) -> None:
        self.engine = engine
        self.threshold = threshold
        self.min_jaccard = min_jaccard
        self.lead_threshold = lead_threshold

    def decide(self, article_id: str, fp: Fingerprint, published_at: datetime | None) -> Verdict:
        with self.engine.begin() as conn:
            lock_keys(conn, fp.lock_keys)
            stored = conn.execute(
                select(DedupEntryRow.duplicate_of, DedupEntryRow.similarity).where(
                    DedupEntryRow.article_id == article_id
                )
            ).first()
            if stored is not None:
                kind = "original" if stored.duplicate_of is None else "stored"
                return Verdict(stored.duplicate_of, stored.similarity, kind, replayed=True)
            verdict = self._exact(conn, fp) or self._near(conn, fp)
            verdict = verdict or Verdict(None, None, "original")
            seq = conn.execute(
                insert_for(self.engine, DedupEntryRow.__table__)
                .values(
                    article_id=article_id,
                    first_seen_at=utcnow(),  # after the locks: the order of decisions
                    published_at=published_at,
                    content_hash=fp.content_hash,
                    shingle_count=fp.shingle_count,
                    signature=fp.signature,
                    lead_signature=fp.lead_signature,
                    duplicate_of=verdict.duplicate_of,
                    similarity=verdict.similarity,
                )
                .returning(DedupEntryRow.seq)
            ).scalar_one()
            # one multi-row INSERT (executemany would send one statement per band)
            bands = [{"band_key": k, "entry_seq": seq} for k in sorted(set(fp.bands))]
            conn.execute(
                insert_for(self.engine, DedupBandRow.__table__)
                .values(bands)
                .on_conflict_do_nothing()
            )
            claim = insert_for(self.engine, ContentFingerprintRow.__table__).values(
                content_hash=fp.content_hash, article_id=article_id
            )
            conn.execute(claim.on_conflict_do_nothing())
        return verdict

    def _root(self, conn: Connection, article_id: str) -> str:
        parent = conn.scalar(
            select(DedupEntryRow.duplicate_of).where(DedupEntryRow.article_id == article_id)
        )
        return parent or article_id

    def _exact(self, conn: Connection, fp: Fingerprint) -> Verdict | None:
        owner = conn.scalar(
            select(ContentFingerprintRow.article_id).where(
                ContentFingerprintRow.content_hash == fp.content_hash
            )
        )
        if owner is None:
            return None
        return Verdict(self._root(conn, owner), 1.0, "exact")

    def _near(self, conn: Connection, fp: Fingerprint) -> Verdict | None:
        shared = func.count().label("shared")
        seqs = [
            row.entry_seq
            for row in conn.execute(
                select(DedupBandRow.entry_seq, shared)
                .where(DedupBandRow.band_key.in_(set(fp.bands)))
                .group_by(DedupBandRow.entry_seq)
                .order_by(shared.desc(), DedupBandRow.entry_seq)
                .limit(MAX_CANDIDATES)
            )
        ]
        if not seqs:
            return None
        rows = conn.execute(
            select(
                DedupEntryRow.article_id,
                DedupEntryRow.first_seen_at,
                DedupEntryRow.shingle_count,
                DedupEntryRow.signature,
                DedupEntryRow.lead_signature,
                DedupEntryRow.duplicate_of,
            ).where(DedupEntryRow.seq.in_(seqs))
        ).all()
        similar = []
        for row in rows:
            score = self.similarity(fp, row)
            if score is not None:
                similar.append((row, score))
        if not similar:
            return None
        first, _ = min(similar, key=lambda s: (s[0].first_seen_at, s[0].article_id))
        root = first.duplicate_of or first.article_id
        score = max(sim for row, sim in similar if (row.duplicate_of or row.article_id) == root)
        return Verdict(root, round(score, 4), "near")

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
