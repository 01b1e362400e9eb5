"""Feed poller (a Source): due feeds -> news.links, each new entry published once.

One round (:meth:`FeedPoller.poll`): read the due, enabled feeds from the registry, fetch
them concurrently (one request per host at a time) with conditional GET (ETag /
Last-Modified -> 304), parse them safely (:mod:`ingest.feedparse`), turn entries into
:class:`Link` records keyed by host (:mod:`wiredesk.hostroute`), and drop the links published before
(``seen_links``). :meth:`confirm`, called once the links are durably on the bus, records
the links as seen and each feed's validators, health and next poll time
(:mod:`ingest.schedule`) in one transaction. If publishing fails nothing is recorded,
so the next round fetches and publishes the same entries again.

Published articles are fetched again (:mod:`ingest.recheck`): an entry whose title,
updated date or summary changed in its feed, and articles whose scheduled re-check is due
(1 h, 6 h, 24 h after first seen by default) come out of the same round as re-fetch links
(conditional GET); ``confirm`` schedules the new links and advances the re-checks.

A 429/503 holds the feed that got it (its ``next_poll_at``) for its Retry-After, at most
``schedule.MAX_HOLD_S``; other feeds of the same host keep their own schedule. Whatever one
feed does (hostile headers, a crash in our code), the round goes on with the others.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import structlog
from sqlalchemy import Engine, func, or_, select

from ingest import metrics, recheck, registry, schedule
from ingest.feeditems import ItemCache
from ingest.feedparse import FeedRejected, ParsedFeed, parse_feed
from ingest.http import FetchOptions, fetch
from ingest.normalise import clean_title, clean_url
from ingest.politeness import HostGate, host_key, retry_after_seconds
from ingest.registry import FeedSpec, feed_id
from ingest.sandbox import Sandbox
from ingest.urls import canonical_url
from wiredesk.db import insert_for
from wiredesk.db.feed_tables import FeedRow, SeenLinkRow
from wiredesk.records import Link, Record, url_id
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)

__all__ = ["FeedPoller", "feed_id"]

MAX_INTERVAL_S = 366 * 86_400.0  # a registry's fixed interval is honoured up to a year
EARLIEST_FEED_POLL = (
    select(func.min(FeedRow.next_poll_at)).where(FeedRow.enabled.is_(True)).scalar_subquery()
)


@dataclass
class _Outcome:
    feed_id: str
    state: dict[str, Any]
    links: list[Link] = field(default_factory=list)
    status: str = "unchanged"  # changed, not_modified, unchanged, failed
    digests: dict[str, str] = field(default_factory=dict)  # article id -> entry digest


class FeedPoller:
    name = "poll_feeds"

    def __init__(
        self,
        engine: Engine,
        client: httpx.Client,
        options: FetchOptions,
        *,
        config: Sequence[FeedSpec] = (),
        policy: schedule.PollPolicy | None = None,
        sandbox: Sandbox | None = None,
        workers: int = 4,
        max_feed_bytes: int = 10_000_000,
        max_items: int = 1_000,
        parse_timeout_s: float = 5.0,
        force: bool = False,
        shards: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        rechecks: recheck.RecheckPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.options = replace(options, max_bytes=max_feed_bytes)
        self.config = list(config)
        self.policy = policy or schedule.PollPolicy()
        self.sandbox = sandbox
        self.workers = workers
        self.max_items = max_items
        self.parse_timeout_s = parse_timeout_s
        self.force = force
        self.shards = dict(shards or {})  # hosts split into sub-keys (wiredesk.hostroute)
        self.clock = clock
        self.rng = rng or random.Random()
        self.gate = HostGate(concurrency=1, min_delay_s=0.0, max_wait_s=0.0)
        self._synced = False
        self._outcomes: list[_Outcome] = []
        self.rechecks = rechecks or recheck.RecheckPolicy()
        self._plan = recheck.Plan()
        self.items = ItemCache()  # entries of each feed's items: only changes are parsed

    # -- the Source protocol --------------------------------------------------------------
    def poll(self) -> list[Record]:
        if not self._synced:
            registry.upsert(self.engine, self.config, "config")
            self._synced = True
        now = datetime.fromtimestamp(self.clock(), UTC)
        rows = self.due(now)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="feeds") as pool:
            outcomes = list(pool.map(lambda row: self._poll_guarded(row, now), rows))
        links: dict[str, Link] = {}
        self._plan = plan = recheck.Plan()
        for outcome in outcomes:
            for link in outcome.links:
                links.setdefault(link.article_id, link)
            for article_id, digest in outcome.digests.items():
                plan.digests.setdefault(article_id, digest)
        new = self._unseen(list(links.values()))
        metrics.FEED_ENTRIES.labels("new").inc(len(new))
        metrics.FEED_ENTRIES.labels("seen").inc(sum(len(o.links) for o in outcomes) - len(new))
        fresh_feeds = {link.feed_id for link in new}
        for outcome in outcomes:
            if outcome.status == "unchanged" and outcome.feed_id in fresh_feeds:
                outcome.status = "changed"
            metrics.FEED_POLLS.labels(outcome.status).inc()
        self._outcomes = outcomes
        again = self._refetches(new, links, now)
        log.info(
            "feeds_polled", feeds=len(rows), entries=len(links), new=len(new), refetch=len(again)
        )
        return [*new, *again]

    def _refetches(self, new: list[Link], links: dict[str, Link], now: datetime) -> list[Link]:
        """Re-fetches: seen entries that changed in their feed, then scheduled re-checks
        that are due (one link per article; :mod:`ingest.recheck`)."""
        fresh = {link.article_id for link in new}
        seen = [link for i, link in links.items() if i not in fresh]
        changed = recheck.changed_entries(self.engine, seen, self._plan)
        if not self.rechecks.feed_updates:
            changed = []
        taken = fresh | {link.article_id for link in changed}
        due = [r for r in recheck.due(self.engine, now, self.rechecks) if r.article_id not in taken]
        return [link.routed(self.shards) for link in (*changed, *due)]

    def confirm(self, records: Sequence[Record]) -> None:
        """Remember published links and every polled feed's state, in one transaction."""
        rows = [
            {"article_id": r.article_id, "url": r.url, "feed_id": r.feed_id}
            for r in records
            if isinstance(r, Link)
        ]
        with self.engine.begin() as conn:
            if rows:
                stmt = insert_for(self.engine, SeenLinkRow.__table__).on_conflict_do_nothing()
                conn.execute(stmt, rows)
            for outcome in self._outcomes:
                conn.execute(
                    FeedRow.__table__.update()
                    .where(FeedRow.feed_id == outcome.feed_id)
                    .values(**outcome.state)
                )
            now = datetime.fromtimestamp(self.clock(), UTC)
            published = [r for r in records if isinstance(r, Link)]
            recheck.confirm(conn, published, now, self.rechecks, self._plan)
            self._report_health(conn)
        self._outcomes = []
        self._plan = recheck.Plan()

    def seconds_until_next_due(self) -> float:
        """How long until the earliest enabled feed or scheduled re-check is due (0 if a
        feed is due now or none has a time yet); one statement, asked at every wake."""
        with self.engine.connect() as conn:
            earliest, check = conn.execute(select(EARLIEST_FEED_POLL, recheck.EARLIEST_DUE)).one()
        if earliest is None:
            return 0.0
        times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in (earliest, check) if t]
        return max(0.0, min(times).timestamp() - self.clock())  # SQLite: naive UTC

    # -- internals ----------------------------------------------------------------------
    def due(self, now: datetime) -> list[Any]:
        query = select(FeedRow.__table__).where(FeedRow.enabled.is_(True))
        if self.force:  # only a host's own Retry-After still holds
            held = FeedRow.last_status.in_((429, 503)) & (FeedRow.next_poll_at > now)
            query = query.where(~held | FeedRow.next_poll_at.is_(None))
        else:
            query = query.where(or_(FeedRow.next_poll_at.is_(None), FeedRow.next_poll_at <= now))
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(FeedRow.next_poll_at, FeedRow.feed_id)))

    def _poll_guarded(self, row: Any, now: datetime) -> _Outcome:
        """:meth:`_poll_one`, and if even its error handling fails, a plain failure."""
        try:
            return self._poll_one(row, now)
        except Exception as exc:
            log.exception("feed_poll_crashed", feed=row.url)
            state = {
                "last_polled_at": now,
                "last_error": f"error: {exc!r}"[:500],
                "next_poll_at": _after(now, self.policy.max_backoff_s),
            }
            return _Outcome(row.feed_id, state, status="failed")

    def _poll_one(self, row: Any, now: datetime) -> _Outcome:
        try:
            return self._fetch_and_parse(row, now)
        except BadInput as exc:
            return self._failed(row, now, exc.reason, exc.detail)
        except Exception as exc:  # a bug must not stop the other feeds
            log.exception("feed_poll_crashed", feed=row.url)
            return self._failed(row, now, "error", repr(exc))

    def _fetch_and_parse(self, row: Any, now: datetime) -> _Outcome:
        headers = {}
        if row.etag:
            headers["If-None-Match"] = row.etag
        if row.last_modified:
            headers["If-Modified-Since"] = row.last_modified
        key = host_key(row.url)
        with self.gate.slot(key, kind="feed"):
            resp = fetch(self.client, row.url, self.options, headers, kind="feed")
        metrics.FETCH_RESPONSES.labels("feed", metrics.status_class(resp.status)).inc()
        max_age = schedule.max_age(resp.headers.get("cache-control"))
        state: dict[str, Any] = {"last_polled_at": now, "last_status": resp.status}
        if resp.status == 304:
            metrics.FEED_NOT_MODIFIED.inc()
            delay = schedule.delay_after_success(
                self.policy,
                fixed_interval_s=row.interval_s,
                adaptive_s=row.current_interval_s,
                max_age_s=max_age,
            )
            state.update(self._healthy(row, now, delay))
            return _Outcome(row.feed_id, state, status="not_modified")
        if resp.status in (429, 503):  # holds this feed only (``_failed``), capped
            wait = retry_after_seconds(resp.headers.get("retry-after"), self.clock())
            return self._failed(row, now, f"http_{resp.status}", row.url, wait, resp.status)
        if resp.status != 200:
            reason = f"http_{resp.status // 100}xx"
            return self._failed(row, now, reason, row.url, status=resp.status)
        try:
            parsed = parse_feed(
                resp.body,
                resp.headers,
                self.sandbox,
                self.max_items,
                self.parse_timeout_s,
                items=self.items,
                feed=row.feed_id,
            )
        except FeedRejected as exc:
            metrics.FEED_PARSE_ERRORS.labels(exc.reason).inc()
            if exc.reason in ("empty", "not_a_feed"):
                metrics.FEED_EMPTY.inc()
            return self._failed(row, now, exc.reason, exc.detail, status=resp.status)
        if not parsed.entries:
            metrics.FEED_EMPTY.inc()
        if parsed.bozo:
            log.info("feed_bozo", feed=row.url, detail=parsed.bozo)
        adaptive = schedule.update_rate_interval(e.published for e in parsed.entries)
        delay = schedule.delay_after_success(
            self.policy,
            fixed_interval_s=row.interval_s,
            adaptive_s=adaptive,
            max_age_s=max_age,
            ttl_s=schedule.ttl_seconds(parsed.ttl),
        )
        state.update(self._healthy(row, now, delay))
        state.update(
            etag=resp.headers.get("etag"),
            last_modified=resp.headers.get("last-modified"),
            current_interval_s=adaptive,
        )
        if parsed.title:
            state["title"] = clean_title(parsed.title)
        digests: dict[str, str] = {}
        links = self._links(row, resp.url, parsed, digests)
        return _Outcome(row.feed_id, state, links, digests=digests)

    def _links(
        self, row: Any, base: str, parsed: ParsedFeed, digests: dict[str, str] | None = None
    ) -> list[Link]:
        """The entries' links; ``digests`` gets each entry's :func:`recheck.entry_digest`."""
        if parsed.total_entries > len(parsed.entries):
            metrics.FEED_ENTRIES.labels("over_cap").inc(parsed.total_entries - len(parsed.entries))
        links = []
        for entry in parsed.entries:
            canonical = entry_link(base, entry.link, row.url)
            if canonical is None:
                continue
            links.append(
                Link(
                    url=canonical,
                    article_id=url_id(canonical),
                    feed_id=row.feed_id,
                    feed_url=row.url,
                    entry_title=clean_title(entry.title),
                    entry_published=entry.published,
                ).routed(self.shards)
            )
            if digests is not None:
                digest = recheck.entry_digest(entry.title, entry.updated, entry.summary)
                digests.setdefault(links[-1].article_id, digest)
        return links

    def _healthy(self, row: Any, now: datetime, delay: float) -> dict[str, Any]:
        delay = schedule.clamp_hold(delay, MAX_INTERVAL_S)
        return {
            "last_success_at": now,
            "consecutive_failures": 0,
            "last_error": None,
            "next_poll_at": schedule.next_due(row.feed_id, now, delay, row.next_poll_at),
        }

    def _failed(
        self,
        row: Any,
        now: datetime,
        reason: str,
        detail: str,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> _Outcome:
        failures = (row.consecutive_failures or 0) + 1
        delay = schedule.delay_after_failure(self.policy, failures, self.rng, retry_after)
        log.warning(
            "feed_failed", feed=row.url, reason=reason, detail=detail[:300], retry_in_s=delay
        )
        state = {
            "last_polled_at": now,
            "consecutive_failures": failures,
            "last_error": f"{reason}: {detail}"[:500],
            "last_status": status,
            "next_poll_at": _after(now, delay),
        }
        return _Outcome(row.feed_id, state, status="failed")

    def _unseen(self, links: list[Link]) -> list[Link]:
        if not links:
            return []
        seen: set[str] = set()
        ids = [link.article_id for link in links]
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                seen.update(
                    conn.scalars(
                        select(SeenLinkRow.article_id).where(SeenLinkRow.article_id.in_(chunk))
                    )
                )
        return [link for link in links if link.article_id not in seen]

    def _report_health(self, conn: Any) -> None:
        totals = {"ok": 0, "failing": 0, "disabled": 0}
        for enabled, failures in conn.execute(
            select(FeedRow.enabled, FeedRow.consecutive_failures)
        ):
            state = "disabled" if not enabled else "failing" if failures else "ok"
            totals[state] += 1
        for state, n in totals.items():
            metrics.FEEDS.labels(state).set(n)


def entry_link(base: str, href: str | None, feed: str = "") -> str | None:
    """The canonical absolute http(s) URL of an entry's link, or None (counted in
    ``feed_entries_total``: ``no_link``, ``refused_scheme``, ``bad_link``). Never raises:
    one unparseable link (``http://[::1``, a port of ``99999``) skips that entry only."""
    href = clean_url(href)
    if href is None:
        metrics.FEED_ENTRIES.labels("no_link").inc()
        return None
    try:
        absolute = urljoin(base, href)
        parts = urlsplit(absolute)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            metrics.FEED_ENTRIES.labels("refused_scheme").inc()
            log.warning("feed_link_refused", feed=feed, link=absolute[:200])
            return None
        return canonical_url(absolute)
    except ValueError:
        metrics.FEED_ENTRIES.labels("bad_link").inc()
        log.warning("feed_link_unreadable", feed=feed, link=href[:200])
        return None


def _after(now: datetime, seconds: float, cap: float = schedule.MAX_HOLD_S) -> datetime:
    """``now`` plus ``seconds`` clamped to ``[0, cap]`` (never an OverflowError)."""
    return now + timedelta(seconds=schedule.clamp_hold(seconds, cap))
