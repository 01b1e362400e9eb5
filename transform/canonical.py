"""Entity canonicalisation: spelling variants of one entity get one canonical id.

Three layers, most trusted first:

1. the curated alias table (``data/entity_aliases.toml``): a listed spelling maps to its
   entity's id, name and label, whatever label the model gave it;
2. transliteration rules: :func:`match_key` folds the usual Latin renderings of Cyrillic
   and other names onto one key (Zelensky/Zelenskyy/Zelenskiy -> ``zelenski``,
   Bakhmut/Bahmut/Bachmut -> ``bahmut``, Graivoron/Grayvoron -> ``graivoron``), so an
   unlisted variant of a listed name still finds it, and unlisted names merge with each
   other by key;
3. fuzzy matching (rapidfuzz, ratio on the keys) against the listed names for the
   remaining one-letter slips (Zelenskij, Gladkow).

Ids are ``<label>:<slug>``: the curated id, or the slug of the match key for entities not
in the table. Within one article a surname alone joins the full name it abbreviates
("Gladkov" after "Vyacheslav Gladkov").
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from transform.text import fold

ALIASES_FILE = Path(__file__).parent / "data" / "entity_aliases.toml"
FUZZY_MIN_RATIO = 90.0
FUZZY_MIN_LENGTH = 6
MAX_ID_LENGTH = 64

_TITLES = re.compile(
    r"^(the|mr|mrs|ms|dr|president|governor|gov|prime minister|minister|general|gen"
    r"|sir|lady|lord|king|queen|prince|princess)\.?\s+"
)
_NON_WORD = re.compile(r"[\W_]+")
# Applied in order to the folded, lower-case name.
_TRANSLITERATION = (
    (re.compile(r"(kh|ch|h)"), "h"),
    (re.compile(r"(iy|yy|ii|yi|ij|y|j)\b"), "i"),
    (re.compile(r"y"), "i"),
    (re.compile(r"w"), "v"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"ck"), "k"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"([a-z])\1+"), r"\1"),
)


def match_key(name: str) -> str:
    """The transliteration-folded key two spellings of one name share."""
    key = fold(name).replace("’", "'")
    key = re.sub(r"'s\b", "", key)
    key = _NON_WORD.sub(" ", key).strip()
    while True:
        stripped = _TITLES.sub("", key)
        if stripped == key:
            break
        key = stripped
    for pattern, repl in _TRANSLITERATION:
        key = pattern.sub(repl, key)
    return key.strip()


def slug(key: str) -> str:
    return key.replace(" ", "-")[: MAX_ID_LENGTH - 5] or "x"


@dataclass(frozen=True)
class CanonicalEntity:
    canonical_id: str
    name: str
    label: str


class AliasTable:
    """The curated entities, looked up by match key (exact) or fuzzily."""

    def __init__(self, entries: list[tuple[CanonicalEntity, list[str]]]) -> None:
        self.entries = entries
        self.by_key: dict[str, CanonicalEntity] = {}
        for entity, aliases in entries:
            for alias in [entity.name, *aliases]:
                self.by_key.setdefault(match_key(alias), entity)
        self._keys = sorted(k for k in self.by_key if len(k) >= FUZZY_MIN_LENGTH)

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
        key = match_key(surface)
        if not key:
            return None
        found = self.by_key.get(key)
        if found is not None or len(key) < FUZZY_MIN_LENGTH:
            return found
        best = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_RATIO)
        if best is None or best[0][0] != key[0]:
            return None
        return self.by_key[best[0]]


@lru_cache(maxsize=1)
def default_aliases() -> AliasTable:
    return AliasTable.load()
