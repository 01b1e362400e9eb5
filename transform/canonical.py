"""Entity canonicalisation: the spelling variants of one entity get one canonical id.

Design: a pure function of an article's mentions (each name plus its context, the other
names in the same article). No registry and no shared state, so every worker, a replay
and any arrival order give the same ids; a registry would merge more (fuzzy matches
across articles) but make the first-seen spelling the id, or ids that change later.

1. **Normal form** (:func:`normal`): any script transliterated to ASCII with
   ``anyascii`` (Зеленский -> Zelenskiy, Грайворон -> Grayvoron; chosen over Unidecode
   for its BGN-like, English-readable Cyrillic, wider script coverage and ISC licence,
   where Unidecode is GPL), case-folded, titles ("President", "Gov.") and possessives
   dropped, spaced letters joined (U.S. -> us), company suffixes (Inc, Corp, Ltd, a final
   Technologies), a lone middle initial (Dirk A. Kempthorne; not George H. W. Bush) and
   the Arabic article (al-Gaddafi) dropped.
2. **Match key** (:func:`match_key`, :mod:`transform.translit`): the sounds that English,
   German and French romanisations write differently become one placeholder each (kh/h ->
   X, -y/-iy/-yy -> B, zh/French j -> J, ...; the system is recognised
   from the spelling: tsch, -ow, -ij are German, ou...ch, chtch French, and a word English
   text does not use takes the reading whose spelling English text attests), so
   Zelensky/Zelenskiy, Bakhmut/Bahmut, Gorbachev/Gorbatschow,
   Prigozhin/Prigojine, Avdiivka/Avdeyevka, Zakharova/Sacharowa share a key. Words under
   4 letters are kept, and a word-initial h or ch is never read as kh: Khan/Han and
   Hart/Chart stay apart.
   A name detected as romanised Arabic (a particle such as bin / abu / al-, a q without
   u, dh, an apostrophe between vowels, or a common Arabic given name) is keyed by
   :mod:`transform.arabic` instead: vowel classes (u/o/ou, -ed/-ad, ei/ai), q = g,
   single for double letters, bin = ben; its words take the key's most used spelling
   (Qaddafi, Gadhafi -> ``gaddafi``; Usama, Oussama ben -> ``osama bin``).
3. **Readable id** (:func:`readable`): each word as English text writes it if it does
   (wordfreq), else the attested spelling of its key, else (a transliteration) the key's
   BGN-style spelling: ``moscow``, ``twitter``, ``croucher``, ``mikhail-gorbachev`` for
   Gorbatschow, ``zelensky`` for Zelenskyy -- never an artefact like ``moscov``; in a
   Slavic name or one with a word English text does not use, every word takes its key's
   most used spelling (Sergey, Sergej Lawrow -> ``sergei-lavrov``). Ids carry
   no label: a place tagged GPE, LOC, ORG or MISC is one entity (no ``loc:x`` vs
   ``misc:x``); the label is an attribute (the majority label of the mentions).
4. **In-article merging** (context): within one article, mentions of one kind (person
   or not) also merge when they are a surname or (people) a given name of exactly one full
   name there (Gladkov -> Vyacheslav Gladkov, Laci -> Laci Peterson), an acronym of a
   name there (AMD -> Advanced Micro Devices), or a spelling within a length-aware edit
   distance of another (Bachmut -> Bakhmut), word by word on the keys
   (:func:`wiredesk.names.similar`): no edit in a word under 6 letters, one up to 7 (and
   in a word of 4+ letters beside an identical long word: Lidiya/Lidia Marchetti), two up
   to 11, three beyond, same first letter, never a word and its feminine -a form
   (Nazarbayev / Nazarbayeva). So Kim Jong-un and Kim Jong-il never merge. Across the
   articles of one story the sink applies the same rule to ids
   (:mod:`wiredesk.story_entities`). The class's preferred key is the one with most
   words, then most mentions, then the smallest: order-free.
5. **Place gazetteer** (:mod:`transform.places`): a place (LOC) whose key spells one of
   GeoNames' 34,000 cities of 15,000+ people takes its id from the city's name
   (Jekaterinburg, Lugansk -> ``yekaterinburg``, ``luhansk``).
6. **Alias supplement**: ``data/entity_aliases.toml`` lists what no rule relates (Kyiv /
   Kiev, garbled spellings such as Gregoron); a listed or near-listed spelling takes the
   listed entity's id and name.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from anyascii import anyascii
from rapidfuzz import fuzz, process

from transform import arabic as arabic_names
from transform import places
from transform.translit import (
    foreign,
    likeliest_key,
    readable_word,
    slavic,
    spell,
    system,
    word_key,
)
from wiredesk.names import Groups, similar

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
_ARTICLE = re.compile(r"\b(?:al|el|ad|ash|as|ar)-(?=\w)")  # Arabic article: al-Gaddafi
_LEGAL = re.compile(
    r"(?<=\w) (?:technologies )?(?:inc|corp|co|ltd|llc|plc|gmbh|ag|sa)$|(?<=\w) technologies$"
)
# a lone middle initial with its period: Dirk A. Kempthorne (not George H. W. Bush, Plan B)
_INITIAL = re.compile(r"(?<=\w\w)\s+[a-z]\.\s*(?=\w\w)")
_LETTERS = re.compile(r"\b(?:[a-z] )+[a-z]\b")  # u s geological -> us geological
_CONNECTORS = {"of", "the", "and", "for", "de", "del", "la", "le", "du", "von", "van", "&"}
_CONTEXT_LABELS = {"PER": "person", "LOC": "thing", "ORG": "thing", "MISC": "thing"}


def normal(name: str) -> str:
    """The normal form two spellings of one name share (readable: ids are made from it)."""
    text = anyascii(_ARTICLE.sub("", name)).casefold()
    text = _POSSESSIVE.sub("", text)
    text = _APOSTROPHE.sub("", text)
    text = _NON_WORD.sub(" ", _INITIAL.sub(" ", text)).strip()
    while True:
        stripped = _TITLES.sub("", text)
        if stripped == text:
            break
        text = stripped
    text = _LETTERS.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _LEGAL.sub("", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class _Keyed:
    words: list[str]
    keys: list[str]
    written_in: str  # the romanisation system: en, de or fr
    slavic: bool  # reads as a Slavic name
    respell: bool  # its id is spelled from its keys (Slavic, or a word English lacks)
    arabic: bool = False  # a romanised Arabic name (:mod:`transform.arabic`)


@lru_cache(maxsize=65536)
def _keyed(name: str) -> _Keyed:
    form = normal(name)
    written_in = system(form)
    words = form.split()
    if arabic_names.arabic(name, words):
        keys = [arabic_names.key(w) for w in words]
        return _Keyed(words, keys, written_in, False, True, arabic=True)
    is_slavic, is_foreign = slavic(form, written_in), foreign(form)
    if is_slavic or is_foreign:  # a Slavic or unattested name: read it in every system
        keys = [likeliest_key(w, written_in, is_slavic, is_foreign) for w in words]
    else:
        keys = [word_key(w, written_in, is_slavic, is_foreign) for w in words]
    return _Keyed(words, keys, written_in, is_slavic, is_slavic or is_foreign)


def match_key(name: str) -> str:
    """The transliteration key two spellings of one name share (:mod:`transform.translit`)."""
    return " ".join(_keyed(name).keys)


def display(key: str) -> str:
    """The readable spelling of a key (``bakhmut`` for Bahmut's key)."""
    return " ".join(spell(w) for w in key.split())


def readable(name: str) -> str:
    """What a name's id is made of: each word as written where English text uses it
    (``moscow``, ``croucher``), else its key's spelling (Zelenskyy -> ``zelensky``)."""
    k = _keyed(name)
    if k.arabic:
        return " ".join(arabic_names.spelling(w) for w in k.words)
    return " ".join(
        readable_word(w, kw, k.respell, k.slavic, k.written_in)
        for w, kw in zip(k.words, k.keys, strict=True)
    )


def slug(form: str) -> str:
    return form.replace(" ", "-")[:MAX_ID_LENGTH] or "x"


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
                self.by_form.setdefault(match_key(alias), entity)
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
        form = match_key(surface)
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


def resolve(
    found: Sequence[Named], aliases: AliasTable, cities: Mapping[str, str] | None = None
) -> list[CanonicalEntity]:
    """The canonical entity of each mention, decided over the whole article (its context).

    ``cities``: the place gazetteer (match key -> city name; default :mod:`transform.places`)."""
    cities = places.table() if cities is None else cities
    forms = [match_key(m.surface) for m in found]
    kinds: dict[str, Counter[str]] = {}
    for m, f in zip(found, forms, strict=True):
        if f:
            kinds.setdefault(f, Counter())[_CONTEXT_LABELS.get(m.label, "thing")] += 1
    counts = Counter(f for f in forms if f)
    merged = Groups(counts)

    def kind(f: str) -> str:
        return kinds[f].most_common(1)[0][0] if len(kinds[f]) == 1 else min(kinds[f])

    ordered = sorted(counts)
    multi = [f for f in ordered if " " in f]
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if kind(a) == kind(b) and similar(a, b):
                merged.union(a, b)
    for f in ordered:
        if " " in f:
            continue
        ends = [g for g in multi if g.endswith(" " + f) and kind(g) == kind(f)]
        starts = [g for g in multi if g.startswith(f + " ") and kind(g) == kind(f) == "person"]
        acronyms = [g for g in multi if len(f) >= 2 and _initials(g) == f]
        targets = next((t for t in (ends, starts, acronyms) if len(t) == 1), [])
        for g in targets:
            merged.union(f, g)
    entity_of: dict[str, CanonicalEntity] = {}
    for group in merged.groups():
        entity = _entity(group, found, forms, counts, aliases, cities)
        for f in group:
            entity_of[f] = entity
    return [entity_of.get(f) or _entity([f], found, forms, counts, aliases, cities) for f in forms]


def _initials(form: str) -> str:
    return "".join(w[0] for w in form.split() if w not in _CONNECTORS)


def _entity(
    group: list[str],
    found: Sequence[Named],
    forms: list[str],
    counts: Counter[str],
    aliases: AliasTable,
    cities: Mapping[str, str],
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
    known_as = cities.get(preferred) if label in places.PLACE_LABELS else None
    return CanonicalEntity(slug(readable(known_as or name)), name, label)
