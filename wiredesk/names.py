"""Spelling variants of one name: a length-aware edit distance, word by word.

Shared by the enricher's in-article merging (:mod:`transform.canonical`, on match keys)
and the sink's story entity map (:mod:`wiredesk.story_entities`, on entity ids), so both
call two spellings variants by the same rule; the story map alone also takes
:func:`sounds_alike` (a garbled spelling, by consonant skeleton).
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein


def max_edits(length: int) -> int:
    """Edits allowed between two spellings of a word whose shorter form has ``length``."""
    if length < 6:
        return 0
    if length < 8:
        return 1
    return 2 if length < 12 else 3


def _feminine(x: str, y: str) -> bool:
    """One word is the other plus a final -a: a Slavic feminine surname (Nazarbayev /
    Nazarbayeva, Ivanov / Ivanova) names another person."""
    return x + "a" == y or y + "a" == x


def similar(a: str, b: str) -> bool:
    """Spelling variants: word by word, each within its length-aware edit distance (same
    first letter, same number of words, never a masculine / feminine pair)."""
    if a == b:
        return True
    wa, wb = a.split(), b.split()
    if not wa or len(wa) != len(wb) or a[0] != b[0]:
        return False
    anchored = any(x == y and len(x) >= 6 for x, y in zip(wa, wb, strict=True))
    for x, y in zip(wa, wb, strict=True):
        if x == y:
            continue
        limit = max_edits(min(len(x), len(y)))
        if anchored and min(len(x), len(y)) >= 4:
            limit = max(limit, 1)  # Lidiya/Lidia Marchetti: a long word is the same
        if x[0] != y[0] or _feminine(x, y):
            return False
        if Levenshtein.distance(x, y, score_cutoff=limit) > limit:
            return False
    return True


MIN_SKELETON = 5  # consonants a word needs before its skeleton alone may relate it
_VOWELS = frozenset("aeiouy")


def skeleton(word: str) -> str:
    """A word's consonants, each run of one letter once (Graivoron -> grvrn)."""
    out: list[str] = []
    for ch in word:
        if ch not in _VOWELS and (not out or out[-1] != ch):
            out.append(ch)
    return "".join(out)


def sounds_alike(a: str, b: str) -> bool:
    """Looser than :func:`similar`, for ids of one story only: word by word, each pair
    similar, or (a garbled spelling: Gregoron / Graivoron) a word of the same first and
    last letter, at most two letters longer or shorter, whose consonant skeletons of 5+
    letters differ by one edit; never a masculine / feminine pair."""
    if a == b or similar(a, b):
        return True
    wa, wb = a.split(), b.split()
    if not wa or len(wa) != len(wb):
        return False
    for x, y in zip(wa, wb, strict=True):
        if x == y or similar(x, y):
            continue
        sx, sy = skeleton(x), skeleton(y)
        if (
            x[0] != y[0]
            or x[-1] != y[-1]
            or abs(len(x) - len(y)) > 2
            or min(len(sx), len(sy)) < MIN_SKELETON
            or _feminine(x, y)
            or Levenshtein.distance(sx, sy, score_cutoff=1) > 1
        ):
            return False
    return True


class Groups:
    """Disjoint sets of strings (union-find); each group is named by its smallest member,
    so the grouping does not depend on the order of the unions."""

    def __init__(self, members: Iterable[str]) -> None:
        self._parent = {m: m for m in members}

    def root(self, member: str) -> str:
        while self._parent[member] != member:
            member = self._parent[member]
        return member

    def union(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[str]]:
        """Every group, its members sorted, ordered by their smallest member."""
        out: dict[str, list[str]] = {}
        for m in sorted(self._parent):
            out.setdefault(self.root(m), []).append(m)
        return list(out.values())
