"""Entity canonicalisation: the spelling variants of one entity get one canonical id.

Design: a pure function of an article's mentions (a name plus its context, the other
names in the same article). No registry, no state: the same article gives the same ids
on any worker, on a replay and whatever order articles arrive in.

1. **Normal form** (:func:`normal`), applied to every name: any script transliterated to
   ASCII with ``anyascii`` (Зеленский -> Zelenskiy, Грайворон -> Grayvoron; chosen over
   Unidecode for its BGN-like, English-readable output for Cyrillic, wider script coverage
   and ISC licence, where Unidecode is GPL), case-folded, titles ("President", "Gov.") and
   possessives dropped, and the Slavic adjective endings written one way
   (Zelenskiy/Zelenskyy/Zelenskii -> ``zelensky``), and й before v, k, z, ts as "i"
   (Grayvoron -> ``graivoron``, Zaytsev -> ``zaitsev``). No rule rewrites letters an
   English name has (no w -> v, no ch -> h), so ids stay readable (``moscow``,
   ``twitter``). The canonical id is the slug of the preferred name's normal form:
   readable (``bakhmut``, ``volodymyr-zelensky``) and the same whatever label the model
   gave (a place tagged GPE, LOC, ORG or MISC is one entity; no ``loc:x`` vs ``misc:x``).
   The label is an attribute (the majority label of the mentions).
2. **In-article merging** (context): within one article, mentions merge when they are
   the same entity written differently: a surname after the full name (Gladkov ->
   Vyacheslav Gladkov), an acronym of a name in the article (AMD -> Advanced Micro
   Devices), or a spelling within a length-aware edit distance of another of the same
   kind (Bahmut, Bachmut -> Bakhmut: none under 6 letters, one edit up to 8 letters, two
   up to 12, three beyond; same first letter; never person with non-person). So Khan and
   Han, Hart and Chart never merge. The class's preferred name is chosen by a fixed
   ranking (most words, then most mentions, then alphabetical): order-free.
3. **Alias supplement**: ``data/entity_aliases.toml`` lists spellings that no rule can
   relate (Wolodymyr Selenskyj, garbled spellings); a listed or near-listed spelling takes
   the listed entity's id and name.

Across articles, variants merge when their normal forms agree; a variant that only an edit
distance relates (Bahmut alone in an article) keeps its own readable id. That is the price
of having no shared registry: a registry would merge more but make the first-seen spelling
(an order-dependent choice) the id, or ids that change as spellings arrive.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from anyascii import anyascii
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

ALIASES_FILE = Path(__file__).parent / "data" / "entity_aliases.toml"
ALIAS_FUZZY_RATIO = 85.0
ALIAS_FUZZY_MIN_LENGTH = 6
MAX_ID_LENGTH = 64
_TITLES = re.compile(
    r"^(the|mr|mrs|ms|dr|president|governor|gov|prime minister|minister|general|gen"
    r"|sir|lady|lord|king|queen|prince|princess|attorney|sen|senator|rep|startup)\s+"
)
_POSSESSIVE = re.compile(r"['’]s\b")
_APOSTROPHE = re.compile(r"(?<=\w)['’ʼ](?=\w)")  # soft sign: Zelens'kyi
_NON_WORD = re.compile(r"[\W_]+")
_SLAVIC_ENDING = re.compile(r"(?<=[bcdfgklmnprstvz])(?:iy|yy|yi|ii|ij|yj|iy)$")
# Cyrillic й before a consonant is written "y" or "i" (Grayvoron/Graivoron, Zaytsev/Zaitsev,
# Maykop/Maikop); only before v, k, z, ts, where English names (Taylor, Raymond) never have it
_AY = re.compile(r"(?<=[a-z])ay(?=[vkz]|ts)")
_CONNECTORS = {"of", "the", "and", "for", "de", "del", "la", "le", "du", "von", "van", "&"}
_CONTEXT_LABELS = {"PER": "person", "LOC": "thing", "ORG": "thing", "MISC": "thing"}


def normal(name: str) -> str:
    """The normal form two spellings of one name share (readable: ids are made from it)."""
    text = anyascii(name).casefold()
    text = _POSSESSIVE.sub("", text)
    text = _APOSTROPHE.sub("", text)
    text = _NON_WORD.sub(" ", text).strip()
    while True:
        stripped = _TITLES.sub("", text)
        if stripped == text:
            break
        text = stripped
    return " ".join(_word(w) for w in text.split())


def _word(word: str) -> str:
    if len(word) >= 5:
        word = _SLAVIC_ENDING.sub("y", word)
    if len(word) >= 6:
        word = _AY.sub("ai", word)
    return word


def slug(form: str) -> str:
    return form.replace(" ", "-")[:MAX_ID_LENGTH] or "x"


def max_edits(length: int) -> int:
    """Edits allowed between two spellings whose shorter normal form has ``length`` chars."""
    if length < 6:
        return 0
    if length <= 8:
        return 1
    return 2 if length <= 12 else 3


def similar(a: str, b: str) -> bool:
    """Spelling variants by length-aware edit distance (normal forms, same first letter)."""
    if a == b:
        return True
    if not a or not b or a[0] != b[0] or a.count(" ") != b.count(" "):
        return False
    limit = max_edits(min(len(a), len(b)))
    return limit > 0 and Levenshtein.distance(a, b, score_cutoff=limit) <= limit


@dataclass(frozen=True)
class CanonicalEntity:
    canonical_id: str
    name: str
    label: str


class AliasTable:
    """The curated supplement, looked up by normal form (exact) or fuzzily."""

    def __init__(self, entries: list[tuple[CanonicalEntity, list[str]]]) -> None:
        self.entries = entries
        self.by_form: dict[str, CanonicalEntity] = {}
        for entity, aliases in entries:
            for alias in [entity.name, *aliases]:
                self.by_form.setdefault(normal(alias), entity)
        self._forms = sorted(f for f in self.by_form if len(f) >= ALIAS_FUZZY_MIN_LENGTH)

    @classmethod
    def load(cls, path: Path = ALIASES_FILE) -> AliasTable:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        entries = []
        for item in data.get("entity", []):
            entity = CanonicalEntity(item["id"], item["name"], item["label"])
            entries.append((entity, list(item.get("aliases", []))))
        return cls(entries)

    def surfaces(self) -> list[tuple[str, str]]:
        """(label, spelling) of every listed spelling, for the tagger's EntityRuler."""
        return [
            (entity.label, alias)
            for entity, aliases in self.entries
            for alias in dict.fromkeys([entity.name, *aliases])
        ]

    def lookup(self, surface: str) -> CanonicalEntity | None:
        form = normal(surface)
        if not form:
            return None
        found = self.by_form.get(form)
        if found is not None or len(form) < ALIAS_FUZZY_MIN_LENGTH:
            return found
        best = process.extractOne(
            form, self._forms, scorer=fuzz.ratio, score_cutoff=ALIAS_FUZZY_RATIO
        )
        if best is None or not similar(form, best[0]):
            return None
        return self.by_form[best[0]]


@lru_cache(maxsize=1)
def default_aliases() -> AliasTable:
    return AliasTable.load()


class Named(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def surface(self) -> str: ...


def resolve(found: Sequence[Named], aliases: AliasTable) -> list[CanonicalEntity]:
    """The canonical entity of each mention, decided over the whole article (its context)."""
    forms = [normal(m.surface) for m in found]
    kinds: dict[str, Counter[str]] = {}
    for m, f in zip(found, forms, strict=True):
        if f:
            kinds.setdefault(f, Counter())[_CONTEXT_LABELS.get(m.label, "thing")] += 1
    counts = Counter(f for f in forms if f)
    parent = {f: f for f in counts}

    def root(f: str) -> str:
        while parent[f] != f:
            f = parent[f]
        return f

    def union(a: str, b: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    def kind(f: str) -> str:
        return kinds[f].most_common(1)[0][0] if len(kinds[f]) == 1 else min(kinds[f])

    ordered = sorted(counts)
    multi = [f for f in ordered if " " in f]
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if kind(a) == kind(b) and similar(a, b):
                union(a, b)
    for f in ordered:
        if " " in f:
            continue
        ends = [g for g in multi if g.endswith(" " + f) and kind(g) == kind(f)]
        acronyms = [g for g in multi if len(f) >= 2 and _initials(g) == f]
        targets = ends if len(ends) == 1 else acronyms if len(acronyms) == 1 else []
        for g in targets:
            union(f, g)
    members: dict[str, list[str]] = {}
    for f in ordered:
        members.setdefault(root(f), []).append(f)
    entity_of: dict[str, CanonicalEntity] = {}
    for group in members.values():
        entity = _entity(group, found, forms, counts, aliases)
        for f in group:
            entity_of[f] = entity
    return [entity_of.get(f) or _entity([f], found, forms, counts, aliases) for f in forms]


def _initials(form: str) -> str:
    return "".join(w[0] for w in form.split() if w not in _CONNECTORS)


def _entity(
    group: list[str],
    found: Sequence[Named],
    forms: list[str],
    counts: Counter[str],
    aliases: AliasTable,
) -> CanonicalEntity:
    surfaces = [m for m, f in zip(found, forms, strict=True) if f in group]
    labels = Counter(m.label for m in surfaces)
    label = min(labels, key=lambda lab: (-labels[lab], lab)) if labels else "MISC"
    for m in sorted(surfaces, key=lambda m: (-len(normal(m.surface)), m.surface)):
        curated = aliases.lookup(m.surface)
        if curated is not None:
            return curated
    preferred = min(group, key=lambda f: (-f.count(" "), -counts[f], f)) if group else ""
    spellings = Counter(m.surface for m, f in zip(found, forms, strict=True) if f == preferred)
    name = min(spellings, key=lambda s: (-spellings[s], s)) if spellings else preferred
    return CanonicalEntity(slug(preferred), name, label)
