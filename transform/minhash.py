"""MinHash signatures, LSH band keys and the similarity estimate used to verify copies.

Library: rensa's ``RMinHash`` (Rust). It was measured against datasketch's ``MinHash`` and
SimHash on the dedup dev set (BENCHMARKS.md, Transform): the same precision and recall as
datasketch at about 20x less CPU per article; SimHash misses cut copies. Its digest is
deterministic across processes and machines for a given seed, which the shared state
relies on; ``SCHEME`` names what is stored, so a change of library, seed or size is a new
scheme (old state then simply stops matching and ages out with the retention window).

LSH: 20 bands of 3 rows (the first 60 of the 128 values) make a pair with Jaccard 0.6 a
candidate with probability 0.99 and one with Jaccard 0.5 with 0.93; a pair at 0.2 with
0.15. Each article is banded twice, on its whole body and on its lead (see
:mod:`transform.dedup`), so a copy is found through whichever it kept. Every candidate is
then verified on the full signatures, so band collisions cost a lookup, never a verdict.
20 bands (not more) because each band is a row of state per article.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import rensa

NUM_PERM = 128
SEED = 20260521
BANDS = 20
ROWS = 3
SCHEME = f"rensa{rensa.RMinHash(num_perm=1, seed=0).ALGORITHM_VERSION}-p{NUM_PERM}-s{SEED}"


def signature(shingles: Iterable[str]) -> bytes:
    """The MinHash signature as ``NUM_PERM`` little-endian uint32 values (512 bytes)."""
    minhash = rensa.RMinHash(num_perm=NUM_PERM, seed=SEED)
    items = sorted(shingles)
    if items:
        minhash.update(items)
    return np.asarray(minhash.digest(), dtype="<u4").tobytes()


def band_keys(sig: bytes, salt: int = 0) -> list[int]:
    """One signed 64-bit key per band (BIGINT-friendly, also used as advisory lock ids);
    ``salt`` keeps the bands of different signatures (full text, lead) apart."""
    keys = []
    for band in range(BANDS):
        chunk = sig[band * ROWS * 4 : (band + 1) * ROWS * 4]
        digest = hashlib.blake2b(bytes([salt, band]) + chunk, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def jaccard(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    va = np.frombuffer(a, dtype="<u4", count=NUM_PERM)  # a stored signature may carry
    vb = np.frombuffer(b, dtype="<u4", count=NUM_PERM)  # more after its MinHash values
    return float(np.count_nonzero(va == vb)) / NUM_PERM


@dataclass(frozen=True)
class Overlap:
    jaccard: float
    containment: float  # share of the smaller text's shingles found in the other


def overlap(a: bytes, size_a: int, b: bytes, size_b: int) -> Overlap:
    """Jaccard and containment estimated from signatures and shingle counts.

    ``|A∩B| = J(|A|+|B|)/(1+J)``, so the containment of the smaller set follows from the
    Jaccard estimate; it stays near 1 for a copy whose last paragraphs were cut, where
    Jaccard falls with the share cut.
    """
    j = jaccard(a, b)
    smaller = min(size_a, size_b)
    if smaller <= 0:
        return Overlap(j, 0.0)
    common = j * (size_a + size_b) / (1 + j)
    return Overlap(j, min(1.0, common / smaller))
