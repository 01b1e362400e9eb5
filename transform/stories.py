"""Story clustering: different write-ups of one event share a story id.

A story is decided once per dedup group (a canonical article and its copies): the first
member to reach this step decides for the whole group and records the story on the
canonical's row, so a copy is always in its canonical's story and a copy does not need
NER of its own to be placed.

Deciding, in one transaction (:meth:`StoryIndex.assign`), with advisory locks on the
article's feature keys and on its dedup group:

* features: the article's canonical entities (weighted by label and by mentions, so
  the actors and places of the event dominate) and the content words of its headline
  and lead; a vector of at most ``MAX_FEATURES`` weights;
* candidates: stories sharing an entity key or a headline word, whose members' times
  (published, else first seen) lie within ``window`` of the article's;
* score: cosine similarity between the article and the story profile (the summed
  member vectors); the best story at or above ``threshold`` is joined (its profile,
  time span and keys grow, so later write-ups and late arrivals join too), else the
  article founds a new story whose id derives from the group's canonical article id.

Two write-ups of one event share feature keys, so their decisions serialise on the
locks: a late arrival on another worker sees the story the first one founded.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, update

from transform.state import as_utc, key_of, lock_keys, utcnow
from transform.text import body_lines, fold
from wiredesk.db import insert_for
from wiredesk.db.dedup_tables import DedupEntryRow, StoryKeyRow, StoryRow
from wiredesk.records import Entity

LABEL_WEIGHT = {"PER": 1.0, "ORG": 1.0, "LOC": 1.0, "MISC": 0.25}
TERM_WEIGHT = 0.35
LEAD_WORDS = 50
MAX_FEATURES = 60
MAX_PROFILE = 120
MAX_CANDIDATES = 50
INDEXED_FEATURES = 20  # an article's strongest features index its story (rows of state)
_WORD = re.compile(r"[^\W\d_][\w'-]{3,}")
_STOPWORD_TEXT = """
    about above after again against also among another because been before being below
    between both could does doing down during each from further have having here into itself
    just more most much must only other over said same says should some such than that their
    them then there these they this those through under until upon very were what when where
    which while whom will with would year years your told tuesday monday wednesday thursday
    friday saturday sunday week today people first last news report reports reported"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def story_id_for(root_article_id: str) -> str:
    return hashlib.sha256(f"story:{root_article_id}".encode()).hexdigest()[:32]


def features(title: str, text: str, entities: Sequence[Entity]) -> dict[str, float]:
    """The article's story vector: weighted entity ids and headline/lead words."""
    labels = {e.canonical_id: e.label for e in entities}
    counts = Counter(e.canonical_id for e in entities)
    vec = {
        f"e:{cid}": LABEL_WEIGHT.get(labels[cid], 0.5) * (1.0 + math.log(n))
        for cid, n in counts.items()
    }
    lead = " ".join(body_lines(title, text))[:2000].split()[:LEAD_WORDS]
    for word in _WORD.findall(fold(f"{title} {' '.join(lead)}")):
        if word not in STOPWORDS:
            vec.setdefault(f"t:{word}", TERM_WEIGHT)
    return dict(sorted(vec.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_FEATURES])


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(w * b[k] for k, w in a.items() if k in b)
    if not dot:
        return 0.0
    norm_a = math.sqrt(sum(w * w for w in a.values()))
    norm_b = math.sqrt(sum(w * w for w in b.values()))
    return dot / (norm_a * norm_b)


def merge(profile: dict[str, float], vec: dict[str, float]) -> dict[str, float]:
    total = dict(profile)
    for k, w in vec.items():
        total[k] = round(total.get(k, 0.0) + w, 4)
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_PROFILE])


@dataclass(frozen=True)
class StoryDecision:
    story_id: str
    outcome: str  # "new", "joined", "group" (copy of an already placed canonical), "stored"
    score: float | None = None


class StoryIndex:
    def __init__(
        self, engine: Engine, threshold: float = 0.3, window: timedelta = timedelta(days=3)
    ) -> None:
        self.engine = engine
        self.threshold = threshold
        self.window = window

    def assign(
        self,
        article_id: str,
        root_id: str,
        when: datetime | None,
        vec: dict[str, float],
        entities: list[list[str]] | None = None,
    ) -> StoryDecision:
        """Place the article (a member of ``root_id``'s dedup group) in a story.

        ``entities`` (compact, canonical articles only) is stored for copies to reuse.
        """
        keys = {key_of("f", k) for k in vec}
        with self.engine.begin() as conn:
            lock_keys(conn, keys | {key_of("group", root_id)})
            if entities is not None:
                conn.execute(
                    update(DedupEntryRow)
                    .where(DedupEntryRow.article_id == article_id, DedupEntryRow.entities.is_(None))
                    .values(entities=entities)
                )
            own = self._story_of(conn, article_id)
            if own is not None:
                return StoryDecision(own, "stored")
            group = self._story_of(conn, root_id) if root_id != article_id else None
            if group is not None:
                decision = StoryDecision(group, "group")
            else:
                decision = self._place(conn, root_id, as_utc(when or utcnow()), vec, keys)
            conn.execute(
                update(DedupEntryRow)
                .where(
                    DedupEntryRow.article_id.in_({article_id, root_id}),
                    DedupEntryRow.story_id.is_(None),
                )
                .values(story_id=decision.story_id)
            )
        return decision

    def _story_of(self, conn: Connection, article_id: str) -> str | None:
        return conn.scalar(
            select(DedupEntryRow.story_id).where(DedupEntryRow.article_id == article_id)
        )

    def _place(
        self,
        conn: Connection,
        root_id: str,
        when: datetime,
        vec: dict[str, float],
        keys: set[int],
    ) -> StoryDecision:
        shared = func.count().label("shared")
        candidate_ids = [
            r.story_id
            for r in conn.execute(
                select(StoryKeyRow.story_id, shared)
                .where(StoryKeyRow.key.in_(keys))
                .group_by(StoryKeyRow.story_id)
                .order_by(shared.desc(), StoryKeyRow.story_id)
                .limit(MAX_CANDIDATES)
            )
        ]
        best: tuple[float, str] | None = None
        if candidate_ids:
            stories = conn.execute(select(StoryRow).where(StoryRow.story_id.in_(candidate_ids)))
            for story in stories:
                start, last = as_utc(story.started_at), as_utc(story.last_seen_at)
                if when < start - self.window or when > last + self.window:
                    continue
                score = cosine(vec, story.profile)
                if score >= self.threshold and (best is None or (-score, story.story_id) < best):
                    best = (-score, story.story_id)
        now = utcnow()
        if best is None:
            story_id = story_id_for(root_id)
            conn.execute(
                insert_for(self.engine, StoryRow.__table__)
                .values(
                    story_id=story_id,
                    touched_at=now,
                    started_at=when,
                    last_seen_at=when,
                    size=1,
                    profile=merge({}, vec),
                )
                .on_conflict_do_nothing()
            )
            self._add_keys(conn, story_id, vec, vec)
            return StoryDecision(story_id, "new")
        score, story_id = -best[0], best[1]
        # Re-read under a row lock: another write-up reaching this story through other
        # feature keys must not lose this member's profile update (or we lose theirs).
        story = conn.execute(
            select(StoryRow).where(StoryRow.story_id == story_id).with_for_update()
        ).one()
        profile = merge(story.profile, vec)
        conn.execute(
            update(StoryRow)
            .where(StoryRow.story_id == story_id)
            .values(
                touched_at=now,
                started_at=min(as_utc(story.started_at), when),
                last_seen_at=max(as_utc(story.last_seen_at), when),
                size=story.size + 1,
                profile=profile,
            )
        )
        self._add_keys(conn, story_id, vec, profile)
        return StoryDecision(story_id, "joined", round(score, 4))

    def _add_keys(
        self, conn: Connection, story_id: str, vec: dict[str, float], profile: dict[str, float]
    ) -> None:
        """Index the story under the article's strongest features still in its profile.

        Lookups use all of an article's features and it locks all of them, so a later
        write-up sharing any indexed feature finds the story and waits for its writer.
        """
        strongest = sorted(vec.items(), key=lambda kv: (-kv[1], kv[0]))[:INDEXED_FEATURES]
        kept = {key_of("f", k) for k, _ in strongest if k in profile}
        if kept:
            rows = [{"key": k, "story_id": story_id} for k in sorted(kept)]
            stmt = insert_for(self.engine, StoryKeyRow.__table__).values(rows)
            conn.execute(stmt.on_conflict_do_nothing())  # one multi-row INSERT
