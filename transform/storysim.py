"""Story similarity: a pairwise, order-independent predicate "these two write-ups report one event".

A story is a connected component of the graph whose edges are :func:`same_story` pairs.
The predicate depends only on the two articles and on model data shipped with the code
(``transform/data/story_df.tsv``: word document frequencies counted over a public news
corpus by ``bench/build_story_df.py``), never on the rest of the stream, so adding an
article can only add edges (merge stories), never split one, and every arrival order gives
the same components.

Per article, :func:`story_features` keeps a compact, JSON-serialisable profile:

* ``terms``: TF-IDF of title (boosted), lead (boosted) and body words, with words written
  capitalised inside a sentence (names: the actors and places that tell two events of one
  kind apart) weighted ``NAME_BOOST`` times more; the strongest ``MAX_TERMS`` kept and
  L2-normalised; IDF from the fixed table;
* ``entities``: canonical entity ids from the tagger (PER/ORG/LOC above MISC), by mentions,
  L2-normalised. They enter the score with ``ENTITY_SHARE``, which is 0 by default: on the
  dev set the capitalised words did better than the small NER model's ids, and the score
  then needs no NER at all (entities are still kept, for a better tagger to be tried);
* ``when``: whole seconds since 1970 (any year 1..9999, plain integers: no overflow).

:func:`similarity` blends the cosine of terms and of entities; :func:`same_story` also
requires the two times to be within the window (unknown time: no constraint) and the two
articles to share a candidate key (:func:`candidate_keys`: entity ids and specific terms),
so a streaming index that looks up every article sharing a key finds every edge.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from transform.text import fold

DF_TABLE = Path(__file__).with_name("data") / "story_df.tsv"
MODEL_VERSION = 1
DEFAULT_THRESHOLD = 0.475  # chosen on the ECB+ dev set (docs/transform-design.md)
DEFAULT_WINDOW = timedelta(hours=72)
MAX_TERMS = 60
MAX_ENTITIES = 20
TITLE_BOOST = 3.0
LEAD_WORDS = 60
LEAD_BOOST = 1.0
NAME_BOOST = 4.0  # terms written capitalised inside a sentence (names) weigh this much more
ENTITY_SHARE = 0.0  # weight of the entity cosine in the blend (when both have entities)
LABEL_WEIGHT = {"PER": 1.0, "ORG": 1.0, "LOC": 0.8, "MISC": 0.4}
KEY_TERMS = 8  # strongest terms that index an article (besides its entities)
KEY_ENTITIES = 8
KEY_MIN_IDF = 3.0  # a term in more than ~13% of the reference articles never indexes
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WORD = re.compile(r"[^\W_]+")
_INNER_WORD = re.compile(r"(?<=[\w,;:'\"’”)] )[^\W\d_][^\W_]*")  # not sentence-initial
_STOPWORD_TEXT = """
    a about above after again against all also am among an and another any are as at be
    because been before being below between both but by can could did do does doing down
    during each few for from further had has have having he her here hers herself him
    himself his how i if in into is it its itself just me more most much must my myself no
    nor not now of off on once only or other our ours out over own said same says she should
    so some such than that the their theirs them themselves then there these they this those
    through to too under until up upon us very was we were what when where which while who
    whom why will with would you your yours told mr mrs ms also one two new"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class _EntityLike(Protocol):
    canonical_id: str
    label: str


def words(text: str) -> list[str]:
    """Case- and accent-folded word tokens, stopwords and one-letter tokens dropped."""
    return [w for w in _WORD.findall(fold(text)) if len(w) > 1 and w not in STOPWORDS]


@lru_cache(maxsize=1)
def _df_table() -> tuple[int, dict[str, int]]:
    """(documents, document frequency by word) of the shipped reference table."""
    docs, table = 0, {}
    with open(DF_TABLE, encoding="utf-8") as fh:
        for line in fh:
            word, _, count = line.rstrip("\n").partition("\t")
            if word == "#docs":
                docs = int(count)
            elif word and count:
                table[word] = int(count)
    return docs, table


def idf(word: str) -> float:
    docs, table = _df_table()
    return math.log((docs + 1) / (table.get(word, 0) + 1)) + 1.0


def epoch_seconds(when: datetime | None) -> int | None:
    """Whole seconds since 1970-01-01 UTC (naive = UTC); exact for years 1..9999."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(seconds=1)


def seconds_within(a: int | None, b: int | None, window: timedelta) -> bool:
    """Epoch seconds at most ``window`` apart; an unknown time never separates."""
    if a is None or b is None:
        return True
    return abs(a - b) <= window // timedelta(seconds=1)


def window_bounds(when: int | None, window: timedelta) -> tuple[int, int]:
    """The epoch seconds within ``window`` of ``when`` (all of them when it is unknown)."""
    if when is None:
        return -(2**63), 2**63 - 1
    span = window // timedelta(seconds=1)
    return when - span, when + span


def _normalised(weights: dict[str, float], keep: int) -> dict[str, float]:
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]
    norm = math.sqrt(math.fsum(w * w for _, w in top))
    if not norm:
        return {}
    return {k: round(w / norm, 5) for k, w in sorted(top)}


@dataclass(frozen=True)
class StoryFeatures:
    """An article's story profile: JSON-serialisable (:meth:`as_json`/:meth:`from_json`)."""

    when: int | None  # seconds since 1970 (UTC), None when unknown
    terms: dict[str, float] = field(default_factory=dict)
    entities: dict[str, float] = field(default_factory=dict)
    keys: tuple[str, ...] = field(init=False, compare=False, repr=False)  # derived, cached
    _stored_keys: InitVar[tuple[str, ...] | None] = None  # from_json: as stored

    def __post_init__(self, _stored_keys: tuple[str, ...] | None) -> None:
        keys = _stored_keys if _stored_keys is not None else _keys(self.terms, self.entities)
        object.__setattr__(self, "keys", keys)

    def as_json(self) -> dict[str, Any]:
        return {
            "v": MODEL_VERSION,
            "when": self.when,
            "t": self.terms,
            "e": self.entities,
            "k": list(self.keys),  # derived, stored so a candidate's are not recomputed
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoryFeatures:
        when = data.get("when")
        return cls(
            when=None if when is None else int(when),
            terms={str(k): float(v) for k, v in dict(data.get("t") or {}).items()},
            entities={str(k): float(v) for k, v in dict(data.get("e") or {}).items()},
            _stored_keys=_stored_keys(data),
        )


def _stored_keys(data: dict[str, Any]) -> tuple[str, ...] | None:
    """The keys stored with features of this model version (None: recompute them)."""
    keys = data.get("k")
    if data.get("v") != MODEL_VERSION or not isinstance(keys, list):
        return None
    return tuple(str(k) for k in keys)


def _entity_pairs(entities: Iterable[Any]) -> list[tuple[str, str]]:
    out = []
    for e in entities:
        if isinstance(e, (tuple, list)):
            if e:  # (canonical_id, label); an empty pair is no entity
                out.append((str(e[0]), str(e[1]) if len(e) > 1 else "MISC"))
        else:
            out.append((str(e.canonical_id), str(e.label)))
    return out


def story_features(
    title: str,
    text: str,
    entities: Sequence[_EntityLike] | Sequence[Sequence[str]] = (),
    when: datetime | None = None,
) -> StoryFeatures:
    """The article's profile. ``entities``: Entity objects or (canonical_id, label) pairs."""
    body = words(text)
    tf: Counter[str] = Counter(body)
    for w in body[:LEAD_WORDS]:
        tf[w] += LEAD_BOOST
    for w in words(title):
        tf[w] += TITLE_BOOST
    names = {w for n in _INNER_WORD.findall(f"{title}\n{text}") if n[0].isupper() for w in words(n)}
    terms = {
        w: (1.0 + math.log(n)) * idf(w) * (NAME_BOOST if w in names else 1.0) for w, n in tf.items()
    }
    pairs = _entity_pairs(entities)
    counts = Counter(cid for cid, _ in pairs)
    label = {cid: lab for cid, lab in sorted(pairs)}
    ents = {
        cid: LABEL_WEIGHT.get(label[cid], 0.5) * (1.0 + math.log(n)) for cid, n in counts.items()
    }
    return StoryFeatures(
        when=epoch_seconds(when),
        terms=_normalised(terms, MAX_TERMS),
        entities=_normalised(ents, MAX_ENTITIES),
    )


def candidate_keys(features: StoryFeatures) -> list[str]:
    """Index keys of the article: its strongest specific terms (and entities, when they
    score), sorted. Two articles can be in one story only if they share a key (see
    :func:`same_story`), so a streaming index finds every edge by looking up every article
    under each of the new article's keys.
    """
    return list(features.keys)


def _keys(terms: dict[str, float], entities: dict[str, float]) -> tuple[str, ...]:
    ents = sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))[:KEY_ENTITIES]
    if ENTITY_SHARE <= 0:
        ents = []  # entities do not score: keying on them would only add candidates
    specific = [(w, x) for w, x in terms.items() if idf(w) >= KEY_MIN_IDF]
    strongest = sorted(specific, key=lambda kv: (-kv[1], kv[0]))[:KEY_TERMS]
    return tuple(sorted([f"e:{k}" for k, _ in ents] + [f"t:{k}" for k, _ in strongest]))


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return math.fsum(a[k] * b[k] for k in sorted(a.keys() & b.keys()))


def similarity(a: StoryFeatures, b: StoryFeatures) -> float:
    """Cosine of terms, blended with the cosine of entities when both have entities."""
    terms = _dot(a.terms, b.terms)
    if not (a.entities and b.entities):
        return round(terms, 6)
    return round((1 - ENTITY_SHARE) * terms + ENTITY_SHARE * _dot(a.entities, b.entities), 6)


def within_window(a: StoryFeatures, b: StoryFeatures, window: timedelta = DEFAULT_WINDOW) -> bool:
    """Times at most ``window`` apart; an unknown time never separates."""
    return seconds_within(a.when, b.when, window)


def same_story(
    a: StoryFeatures,
    b: StoryFeatures,
    threshold: float = DEFAULT_THRESHOLD,
    window: timedelta = DEFAULT_WINDOW,
) -> bool:
    """The edge predicate: in the window, a shared key, and similarity >= threshold."""
    if not within_window(a, b, window):
        return False
    if not set(a.keys).intersection(b.keys):
        return False
    return similarity(a, b) >= threshold


def candidate_pairs(items: Sequence[StoryFeatures]) -> list[tuple[int, int]]:
    """Index pairs (i < j) sharing a candidate key, sorted."""
    postings: dict[str, list[int]] = {}
    for i, f in enumerate(items):
        for key in candidate_keys(f):
            postings.setdefault(key, []).append(i)
    pairs = set()
    for members in postings.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                pairs.add((i, j))
    return sorted(pairs)


def components(n: int, edges: Iterable[tuple[int, int]]) -> list[int]:
    """Union-find: each item's component label = the smallest index in its component."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


def cluster(
    items: Sequence[StoryFeatures],
    threshold: float = DEFAULT_THRESHOLD,
    window: timedelta = DEFAULT_WINDOW,
) -> list[int]:
    """Offline reference: story label of each item (the smallest index of its component)."""
    edges = [
        (i, j)
        for i, j in candidate_pairs(items)
        if within_window(items[i], items[j], window) and similarity(items[i], items[j]) >= threshold
    ]
    return components(len(items), edges)
