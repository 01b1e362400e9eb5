"""Near copies after heavy edits: containment sketches and containment-oriented band keys.

A wire copy cut to a third, or wrapped in three times its length of an outlet's own
material, keeps most of its text (high containment) but shares little of the union (low
Jaccard). MinHash estimates containment only through Jaccard (``|A∩B| = J(|A|+|B|)/(1+J)``),
and at J ≈ 0.1-0.25 that estimate is too noisy to decide on (128 values: ±0.03 in J is
±25 % in containment); 3-row LSH bands rarely find such pairs at all (J = 0.2: 15 %).

Verification: a **containment sketch** per article, the sorted 32-bit hashes of its
``SKETCH_SIZE`` smallest-hashing shingles (all of them for a text of up to that many
shingles: nearly every news article). Two sketches cut at the smaller of their largest
values are complete, consistent samples of both shingle sets, so containment and
Jaccard are *counted* on them (exact for texts within the size; for longer ones a sample
of hundreds). It is stored after the MinHash values in the ``signature`` column
(:func:`pack`); a signature without it (state written before) is verified on the
MinHash estimate as before.

Candidates: one band key per MinHash value (single-row bands) for the first
``SINGLE_BANDS`` values: a pair is a candidate when any one of them agrees, with
probability ``1 - (1 - J)^SINGLE_BANDS`` (20 values: J = 0.1: 0.88, J = 0.2: 0.99),
against 0.02 and 0.15 for the 20 three-row bands of the body they replace; the lead keeps
its 20 three-row bands, so an article still has 40 band keys. Single values agree by
chance only when two texts share the shingle that minimises that hash, so unrelated
articles share a key only through common phrases (bounded by ``MAX_CANDIDATES``,
ordered by keys shared).

The copy predicate (:func:`is_copy`) is symmetric: containment of the smaller text in
the larger >= threshold (smaller text of at least ``MIN_CONTAINED`` shingles), or
Jaccard >= ``JACCARD_COPY``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from transform import minhash

SKETCH_SIZE = 1024  # shingle hashes kept per article (4 KiB at most)
SINGLE_BANDS = 20  # single-value band keys (bench/nearcopy_tradeoff.py measures others)
MIN_CONTAINED = 20  # the smaller text, in shingles, for containment alone to make a copy
JACCARD_COPY = 0.5  # resemblance that makes a copy whatever the sizes
MIN_SAMPLE = 12  # sampled shingles of the smaller text needed to trust a sketch count
LEAD_CONTAINMENT = 0.5  # containment enough for a copy that keeps the story's opening
LEAD_COVERED = 0.8  # share of one text's lead found in the other for that
MIN_LEAD_TEXT = 50  # the smaller text, in shingles, for that rule
_SIG_BYTES = minhash.NUM_PERM * 4
_FULL = np.iinfo(np.uint32).max


def shingle_hashes(grams: Iterable[str]) -> np.ndarray:
    """32-bit BLAKE2b of each shingle: deterministic across processes and machines."""
    values = {
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams
    }
    return np.fromiter(values, dtype=np.uint32, count=len(values))


def _sorted_bytes(values: np.ndarray) -> bytes:
    return np.sort(values).astype("<u4").tobytes()


@dataclass(frozen=True)
class Parts:
    """A stored ``signature`` column taken apart (see :func:`pack`)."""

    minhash: bytes
    lead: np.ndarray | None  # hashes of the lead's shingles, sorted
    sketch: np.ndarray | None  # the SKETCH_SIZE smallest shingle hashes, sorted


def pack(signature: bytes, lead: Iterable[str], grams: Iterable[str]) -> bytes:
    """What the ``signature`` column stores: the MinHash values (``NUM_PERM`` uint32),
    the number of lead hashes (uint32), the lead's shingle hashes, then the sketch."""
    lead_hashes = shingle_hashes(lead)
    sketch = np.sort(shingle_hashes(grams))[:SKETCH_SIZE]
    header = np.asarray([lead_hashes.size], dtype="<u4").tobytes()
    return signature + header + _sorted_bytes(lead_hashes) + _sorted_bytes(sketch)


def unpack(blob: bytes) -> Parts:
    """The parts of a stored signature; a bare MinHash (state written before sketches
    existed) has neither lead hashes nor sketch."""
    if len(blob) <= _SIG_BYTES:
        return Parts(blob, None, None)
    values = np.frombuffer(blob, dtype="<u4", offset=_SIG_BYTES)
    n_lead = int(values[0])
    return Parts(blob[:_SIG_BYTES], values[1 : 1 + n_lead], values[1 + n_lead :])


def single_bands(signature: bytes, count: int | None = None, salt: int = 2) -> list[int]:
    """One signed 64-bit key per MinHash value (single-row bands), for the first
    ``count`` values (default ``SINGLE_BANDS``)."""
    values = signature[: (SINGLE_BANDS if count is None else count) * 4]
    return [
        int.from_bytes(
            hashlib.blake2b(bytes([salt, i]) + values[i * 4 : i * 4 + 4], digest_size=8).digest(),
            "little",
            signed=True,
        )
        for i in range(len(values) // 4)
    ]


@dataclass(frozen=True)
class Counted:
    """Overlap counted on two sketches cut at the same hash value."""

    shared: int
    smaller: int  # sampled shingles of the smaller text
    larger: int
    sampled_all: bool  # both sketches hold every shingle of their text

    @property
    def containment(self) -> float:
        return self.shared / self.smaller if self.smaller else 0.0

    @property
    def jaccard(self) -> float:
        union = self.smaller + self.larger - self.shared
        return self.shared / union if union else 0.0


def _cut(sketch: np.ndarray) -> int:
    """The largest hash the sketch holds completely."""
    return int(sketch[-1]) if sketch.size >= SKETCH_SIZE else int(_FULL)


def count(a: np.ndarray, b: np.ndarray) -> Counted:
    """Shared shingles of two sketches, on the hash range both hold completely."""
    cut = min(_cut(a), _cut(b))
    sa, sb = a[a <= cut], b[b <= cut]
    shared = int(np.intersect1d(sa, sb, assume_unique=True).size)
    small, large = sorted((int(sa.size), int(sb.size)))
    return Counted(shared, small, large, cut == _FULL)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two complete hash sets (the leads)."""
    shared = int(np.intersect1d(a, b, assume_unique=True).size)
    union = a.size + b.size - shared
    return shared / union if union else 0.0


def lead_covered(lead: np.ndarray, sketch: np.ndarray) -> float:
    """Share of a text's lead shingles found in the other text (0 on too small a sample)."""
    checked = lead[lead <= _cut(sketch)]
    if checked.size < MIN_SAMPLE:
        return 0.0
    return int(np.intersect1d(checked, sketch, assume_unique=True).size) / int(checked.size)


def is_copy(c: Counted, threshold: float, smaller: int, lead_covered: float) -> bool:
    """The copy predicate, symmetric in the pair. ``smaller`` is the smaller text's size
    in shingles, ``lead_covered`` the larger of the two texts' lead coverage by the
    other. A copy resembles the other text (Jaccard >= ``JACCARD_COPY``), or is
    contained in it (containment >= ``threshold``), or keeps the story's opening:
    containment >= ``LEAD_CONTAINMENT`` with one text's first 100 shingles at least
    ``LEAD_COVERED`` found in the other (a copy with a new paragraph, cut, padded)."""
    if c.jaccard >= JACCARD_COPY:
        return True
    if smaller >= MIN_CONTAINED and c.containment >= threshold:
        return True
    return (
        smaller >= MIN_LEAD_TEXT
        and c.containment >= LEAD_CONTAINMENT
        and lead_covered >= LEAD_COVERED
    )
