"""Story clustering: stories are connected components of the "same story" graph.

Two articles are linked when the pairwise predicate :func:`same_story` holds (their story
features are similar enough and their times within the window), and every member of a
dedup group is linked to the others (a copy is always in its canonical's story). A story
is a connected component of those links; its id derives from its earliest article (the
order of :func:`transform.dedup.order_key`), so when two stories prove to be one they
merge and the merged story keeps the earliest article's id -- whatever the arrival order.

Deciding, in one transaction (:meth:`StoryIndex.assign`) under the state lock:

* the article's features are stored and indexed under its strongest keys;
* candidates: articles inside the story window sharing a key (``MAX_CANDIDATES`` at
  most; the keys carry the story time, so postings outside the window are not read)
  that have a story, and the members of its dedup group; linked ones are verified with
  :func:`same_story`;
* the article's story is the union of the linked articles' stories; members of the
  stories that lose their id get the merged one (``revision`` + 1, pending emission).

The pairwise model is :mod:`transform.storysim` (TF-IDF of title, lead and body with a
fixed document-frequency table; threshold chosen on the ECB+ dev set): a function of the
two articles only, so the components do not depend on arrival order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from transform import state_sql as sql
from transform.dedup import order_key
from transform.state import key_of, lock_state
from transform.storysim import (
    DEFAULT_THRESHOLD,
    StoryFeatures,
    candidate_keys,
    same_story,
    window_bounds,
)
from wiredesk.db import json_loads
from wiredesk.db.dedup_tables import StoryKeyRow

MAX_CANDIDATES = sql.STORY_CANDIDATES  # the most key-sharing articles compared per article


def story_id_for(root_article_id: str) -> str:
    return hashlib.sha256(f"story:{root_article_id}".encode()).hexdigest()[:32]


# -- the streaming index -----------------------------------------------------------------


@dataclass(frozen=True)
class StoryDecision:
    story_id: str
    outcome: str  # "new", "joined", "merged" (joined several stories), "stored"
    revised: int = 0  # other articles whose story this decision changed


_ROW = sql.STORY_ROW


class StoryIndex:
    def __init__(
        self,
        engine: Engine,
        threshold: float = DEFAULT_THRESHOLD,
        window: timedelta = timedelta(days=3),
    ) -> None:
        self.engine = engine
        self.threshold = threshold
        self.window = window

    def assign(self, article_id: str, feats: StoryFeatures) -> StoryDecision:
        """Place the article (its dedup step done) in a story; merge what it links."""
        with self.engine.begin() as conn:
            lock_state(conn)
            return self.assign_in(conn, article_id, feats)

    def assign_in(
        self, conn: Connection, article_id: str, feats: StoryFeatures, revise: bool = False
    ) -> StoryDecision:
        """:meth:`assign` in a transaction that holds the state lock already.

        ``revise``: the article is a new version (its text changed): its features and
        keys are replaced and it joins the stories it now links to, with its own (a
        story never splits, as dedup groups don't)."""
        me = conn.execute(sql.STORY_ME, {"article_id": article_id}).one()
        if me.story_id is not None and not revise:
            return StoryDecision(me.story_id, "stored")
        if me.story_id is not None:
            conn.execute(StoryKeyRow.__table__.delete().where(StoryKeyRow.entry_seq == me.seq))
        keys = sorted({key_of("f", k) for k in candidate_keys(feats)})
        tie = key_of("tie", article_id)
        sql.insert_postings(conn, StoryKeyRow.__table__, keys, me.seq, feats.when, tie)
        linked = self._linked(conn, me, keys, feats)
        roots = {r.story_root for r in linked} | ({me.story_root} if me.story_root else set())
        heads = sql.rows_by_id(conn, sql.STORY_HEADS, roots, linked)
        winner = min([me, *heads], key=_key_of).article_id
        story_id = story_id_for(winner)
        placed = {"me": me.seq, "root": winner, "story": story_id, "features": feats.as_json()}
        conn.execute(sql.PLACE, placed)
        revised = 0
        losers = sorted(roots - {winner})
        if losers:
            merged = {"losers": losers, "root": winner, "story": story_id}
            revised = conn.execute(sql.MERGE_STORIES, merged).rowcount
        if me.story_id is not None:
            return StoryDecision(story_id, "revised", revised)
        outcome = "new" if not roots else "joined" if len(roots) == 1 else "merged"
        return StoryDecision(story_id, outcome, revised)

    def _linked(
        self, conn: Connection, me: Any, keys: list[int], feats: StoryFeatures
    ) -> list[Any]:
        """Placed articles linked to ``me``: its dedup group, and same-story candidates
        (one or more per story linked: enough to name every story ``me`` joins)."""
        canonical = me.duplicate_of or me.article_id
        group = conn.execute(sql.STORY_GROUP, {"canonical": canonical}).all()
        if not keys:
            return list(group)
        lo, hi = self._window_of(feats)
        found = {"keys": keys, "me": me.seq, "lo": lo, "hi": hi}
        candidates = conn.execute(sql.STORY_CANDIDATES_SQL, found).all()
        linked = {r.seq: r for r in group}
        stories = {r.story_root for r in group}
        for c in candidates:
            # a candidate of a story already linked could add no story: not verified (nor
            # its features decoded: the query hands them over as JSON text)
            if c.seq in linked or c.story_root in stories or not c.story_features:
                continue
            other = StoryFeatures.from_json(json_loads(c.story_features))
            if same_story(feats, other, self.threshold, self.window):
                linked[c.seq] = c
                stories.add(c.story_root)
        return list(linked.values())

    def _window_of(self, feats: StoryFeatures) -> tuple[int, int]:
        """Story times (seconds since 1970) an edge of ``feats`` can have: its window."""
        return window_bounds(feats.when, self.window)


def _key_of(row: Any) -> tuple[bool, datetime, bool, datetime, str]:
    return order_key(row.published_at, row.discovered_at, row.article_id)
