"""Re-checking published articles for updates: the schedule and the fetch outcome.

**Where the schedule lives.** One ``article_rechecks`` row per published article, in the
ingest database beside ``seen_links`` (PostgreSQL, or SQLite in embedded mode): durable
across restarts, shared by every poller, and advanced in the poller's own confirm
transaction (after the links are on the bus), so a crash re-publishes a re-check instead
of losing one. Nothing is kept in memory between rounds, and no bus topic holds timers.

**When.** An article first seen at ``t`` is re-checked at ``t + after_s[0]``,
``t + after_s[1]``, ... (``recheck_after_s``; 1 h, 6 h, 24 h by default), a pure
function of ``t`` and the number of checks done. A check made late (the poller was down)
also counts the rounds whose time has passed, so a backlog costs one request per article,
not one per missed round. At most ``recheck_batch`` due re-checks per poll round, oldest
due first.

**How.** A re-check is a :class:`~wiredesk.records.Link` with ``recheck`` set and the
validators of the last fetch; the fetcher (:mod:`ingest.pages`) sends a conditional GET
through the same robots.txt and per-host politeness path as any page. 304: nothing is
published (``not_modified``); 200 with the body's SHA-256 unchanged: nothing either
(``unchanged``); otherwise the page goes to news.raw as a new fetch (``changed``) and
the sink stores a new version if the extracted title or text changed
(:mod:`sink.versions`). A feed entry whose title, updated date or summary changed
(:func:`entry_digest`) is re-fetched the same way at once (``reason="feed"``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from ingest import metrics
from wiredesk.db import insert_for, upsert_many
from wiredesk.db.feed_tables import ArticleRecheckRow
from wiredesk.records import Link

OUTCOMES = ("not_modified", "changed", "unchanged", "error")


@dataclass(frozen=True)
class RecheckPolicy:
    after_s: tuple[float, ...] = (3_600.0, 21_600.0, 86_400.0)
    batch: int = 200
    feed_updates: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> RecheckPolicy:
        return cls(
            tuple(sorted(settings.recheck_after_s)),
            settings.recheck_batch,
            settings.recheck_feed_updates,
        )


@dataclass
class Plan:
    """What one poll round decided, for :func:`confirm` once the links are published."""

    digests: dict[str, str] = field(default_factory=dict)  # article id -> entry digest
    stale: set[str] = field(default_factory=set)  # seen articles whose stored digest differs


def entry_digest(title: str | None, updated: datetime | None, summary: str | None) -> str:
    """Fingerprint of a feed entry's title, updated date and summary."""
    stamp = updated.astimezone(UTC).isoformat() if updated is not None else ""
    text = "\x1f".join((title or "", stamp, (summary or "")[:5_000]))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def checks_due_by(first_seen: datetime, now: datetime, policy: RecheckPolicy) -> int:
    """How many scheduled re-checks' times have passed at ``now``."""
    age = (now - _utc(first_seen)).total_seconds()
    return sum(1 for after in policy.after_s if after <= age)


def next_check(first_seen: datetime, checks_done: int, policy: RecheckPolicy) -> datetime | None:
    if checks_done >= len(policy.after_s):
        return None
    return _utc(first_seen) + timedelta(seconds=policy.after_s[checks_done])


def due(engine: Engine, now: datetime, policy: RecheckPolicy) -> list[Link]:
    """Re-check links of the articles whose next check is due (oldest due first)."""
    if not policy.after_s:
        return []
    t = ArticleRecheckRow
    with engine.connect() as conn:
        rows = conn.execute(
            select(ArticleRecheckRow.__table__)
            .where(t.next_check_at.is_not(None), t.next_check_at <= now)
            .order_by(t.next_check_at, t.article_id)
            .limit(policy.batch)
        ).all()
    links = [_link(r, "schedule", r.checks_done + 1) for r in rows]
    metrics.RECHECKS_SCHEDULED.labels("schedule").inc(len(links))
    return links


def changed_entries(engine: Engine, seen: Sequence[Link], plan: Plan) -> list[Link]:
    """Re-fetch links of seen entries whose digest differs from the one stored."""
    ids = [link.article_id for link in seen if link.article_id in plan.digests]
    if not ids:
        return []
    stored: dict[str, Any] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(ArticleRecheckRow.__table__).where(
                ArticleRecheckRow.article_id.in_(chunk)
            )
            stored.update({r.article_id: r for r in conn.execute(query)})
    out = []
    for link in seen:
        row = stored.get(link.article_id)
        if row is None or row.entry_digest == plan.digests.get(link.article_id):
            continue
        plan.stale.add(link.article_id)  # its digest is written at confirm
        if row.entry_digest is not None:  # None: seen before digests existed
            out.append(_link(row, "feed", row.checks_done, link))
    metrics.RECHECKS_SCHEDULED.labels("feed").inc(len(out))
    return out


def confirm(
    conn: Connection, records: Iterable[Link], now: datetime, policy: RecheckPolicy, plan: Plan
) -> None:
    """In the poller's confirm transaction: schedule new links, advance the re-checks
    published, and remember entry digests."""
    t = ArticleRecheckRow.__table__
    new, advanced = [], []
    for link in records:
        if link.recheck is None:
            first = _utc(link.discovered_at)
            new.append(
                {
                    "article_id": link.article_id,
                    "url": link.url,
                    "feed_id": link.feed_id,
                    "first_seen_at": first,
                    "checks_done": 0,
                    "next_check_at": next_check(first, 0, policy),
                    "entry_digest": plan.digests.get(link.article_id),
                }
            )
        elif link.recheck == "schedule":
            first = _utc(link.discovered_at)
            done = max(link.recheck_round, checks_due_by(first, now, policy))
            advanced.append(
                {"b_id": link.article_id, "b_done": done, "b_next": next_check(first, done, policy)}
            )
    if new:
        stmt = insert_for(conn.engine, t)
        # the fetcher may have written the validators first: fill in the schedule only
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["article_id"],
                set_={
                    c: stmt.excluded[c]
                    for c in ("first_seen_at", "next_check_at", "entry_digest", "feed_id")
                },
                where=t.c.first_seen_at.is_(None),
            ),
            new,
        )
    if advanced:
        conn.execute(
            update(t)
            .where(t.c.article_id == bindparam("b_id"), t.c.checks_done < bindparam("b_done"))
            .values(checks_done=bindparam("b_done"), next_check_at=bindparam("b_next")),
            advanced,
        )
    digests = [{"b_id": i, "b_digest": plan.digests[i]} for i in sorted(plan.stale)]
    if digests:
        conn.execute(
            update(t)
            .where(
                t.c.article_id == bindparam("b_id"),
                t.c.entry_digest.is_distinct_from(bindparam("b_digest")),
            )
            .values(entry_digest=bindparam("b_digest")),
            digests,
        )


# when the earliest scheduled re-check is due (a scalar subquery: the poller asks it in
# the same statement as its feeds' earliest poll)
EARLIEST_DUE = select(func.min(ArticleRecheckRow.next_check_at)).scalar_subquery()


class RecheckStore:
    """The fetcher's side: each 200's validators and body hash, each outcome."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        for reason in ("schedule", "feed"):  # every series at 0 for the dashboards
            metrics.RECHECKS_SCHEDULED.labels(reason)
            for outcome in OUTCOMES:
                metrics.RECHECKS.labels(reason, outcome)

    def write(self, notes: Sequence[Note]) -> None:
        """Store ``notes`` (in the order the fetches ended) in one transaction.

        For an article with several notes the last one counts: an outcome before a
        later 200 is dropped (the 200's row says it all)."""
        last = {note.row["article_id"]: i for i, note in enumerate(notes) if note.kind == "fetched"}
        fetched = [notes[i].row for i in sorted(last.values())]  # one row per article
        outcomes = [
            {"b_id": n.row["article_id"], "b_at": n.row["at"], "b_outcome": n.row["outcome"]}
            for i, n in enumerate(notes)
            if n.kind == "outcome" and last.get(n.row["article_id"], -1) < i
        ]
        if not fetched and not outcomes:
            return
        with self.engine.begin() as conn:
            if fetched:
                upsert_many(conn, self._upsert, fetched)
            if outcomes:
                conn.execute(_SET_OUTCOME, outcomes)

    @functools.cached_property
    def _upsert(self) -> Any:
        stmt = insert_for(self.engine, ArticleRecheckRow.__table__)
        columns = ("etag", "last_modified", "body_sha256", "last_checked_at", "last_outcome")
        return stmt.on_conflict_do_update(
            index_elements=["article_id"], set_={c: stmt.excluded[c] for c in columns}
        )


@dataclass(frozen=True)
class Note:
    """What one fetch learnt for the re-check state: a 200's validators (``fetched``) or
    the outcome of a re-check that published nothing (``outcome``)."""

    kind: str
    row: dict[str, Any]


def fetched_note(link: Link, headers: Mapping[str, str], body_sha256: str, outcome: str) -> Note:
    row = {
        "article_id": link.article_id,
        "url": link.url,
        "feed_id": link.feed_id,
        "etag": (headers.get("etag") or "")[:1000] or None,
        "last_modified": (headers.get("last-modified") or "")[:200] or None,
        "body_sha256": body_sha256,
        "last_checked_at": datetime.now(UTC),
        "last_outcome": outcome,
    }
    return Note("fetched", row)


def outcome_note(link: Link, outcome: str) -> Note:
    return Note(
        "outcome", {"article_id": link.article_id, "at": datetime.now(UTC), "outcome": outcome}
    )


_T = ArticleRecheckRow.__table__
_SET_OUTCOME = (
    update(_T)
    .where(_T.c.article_id == bindparam("b_id"))
    .values(last_checked_at=bindparam("b_at"), last_outcome=bindparam("b_outcome"))
)


def _link(row: Any, reason: str, round_: int, seen: Link | None = None) -> Link:
    first = _utc(row.first_seen_at) if row.first_seen_at is not None else None
    return Link(
        url=row.url,
        article_id=row.article_id,
        feed_id=row.feed_id,
        feed_url=seen.feed_url if seen else None,
        entry_title=seen.entry_title if seen else None,
        entry_published=seen.entry_published if seen else None,
        **({"discovered_at": first} if first is not None else {}),
        recheck=reason,
        recheck_round=round_,
        etag=row.etag,
        last_modified=row.last_modified,
        body_sha256=row.body_sha256,
    )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
