"""Feed poller (source stage): feeds -> news.links, each new entry published once.

Feeds are fetched by our guarded HTTP client with conditional GET (ETag/Last-Modified)
and handed to feedparser as bytes, never as a URL or path string (feedparser treats
strings as locations to open). Entries are keyed by canonical URL; those already in
``seen_links`` are skipped, so re-polling an unchanged feed publishes nothing.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from time import struct_time
from typing import Any

import feedparser
import httpx
import structlog
from sqlalchemy import Engine, select

from ingest.http import FetchOptions, fetch
from ingest.urls import canonical_url
from wiredesk.db import insert_for
from wiredesk.db.feed_tables import FeedRow, SeenLinkRow
from wiredesk.records import Link, Record, url_id
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)


def feed_id(url: str) -> str:
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]


def _when(value: struct_time | None) -> datetime | None:
    if not value:
        return None
    return datetime(*value[:6], tzinfo=UTC)


class FeedPoller:
    """Polls a list of feed URLs; ``poll()`` returns the links not published before."""

    name = "poll_feeds"

    def __init__(
        self, urls: Sequence[str], engine: Engine, client: httpx.Client, options: FetchOptions
    ) -> None:
        self.urls = list(urls)
        self.engine = engine
        self.client = client
        self.options = options
        self._feed_state: dict[str, dict[str, Any]] = {}

    def poll(self) -> list[Record]:
        links: dict[str, Link] = {}
        for url in self.urls:
            try:
                for link in self._poll_feed(url):
                    links.setdefault(link.article_id, link)
            except BadInput as exc:
                self._record_failure(url, exc)
        new = self._unseen(list(links.values()))
        log.info("feeds_polled", feeds=len(self.urls), entries=len(links), new=len(new))
        return list(new)

    def confirm(self, records: Sequence[Record]) -> None:
        """Remember published links and feed validators (after the broker acked them)."""
        rows = [
            {"article_id": r.article_id, "url": r.url, "feed_id": r.feed_id}
            for r in records
            if isinstance(r, Link)
        ]
        with self.engine.begin() as conn:
            if rows:
                stmt = insert_for(self.engine, SeenLinkRow.__table__).on_conflict_do_nothing()
                conn.execute(stmt, rows)
            for fid, state in self._feed_state.items():
                stmt = insert_for(self.engine, FeedRow.__table__).values(feed_id=fid, **state)
                conn.execute(stmt.on_conflict_do_update(index_elements=["feed_id"], set_=state))
        self._feed_state.clear()

    # -- internals ---------------------------------------------------------------------
    def _poll_feed(self, url: str) -> list[Link]:
        fid = feed_id(url)
        with self.engine.connect() as conn:
            row = conn.execute(select(FeedRow).where(FeedRow.feed_id == fid)).first()
        headers = {}
        if row is not None and row.etag:
            headers["If-None-Match"] = row.etag
        if row is not None and row.last_modified:
            headers["If-Modified-Since"] = row.last_modified
        now = datetime.now(UTC)
        resp = fetch(self.client, url, self.options, headers)
        state: dict[str, Any] = {"url": url, "last_polled_at": now}
        if resp.status == 304:
            state.update(last_success_at=now, consecutive_failures=0, last_error=None)
            self._feed_state[fid] = state
            return []
        if resp.status != 200:
            raise BadInput(f"http_{resp.status // 100}xx", f"{url} answered {resp.status}")
        parsed = feedparser.parse(io.BytesIO(resp.body), response_headers=resp.headers)
        if parsed.bozo and not parsed.entries:
            raise BadInput("unparseable", f"{url}: {parsed.get('bozo_exception')!r}"[:300])
        state.update(
            title=parsed.feed.get("title"),
            etag=resp.headers.get("etag"),
            last_modified=resp.headers.get("last-modified"),
            last_success_at=now,
            consecutive_failures=0,
            last_error=None,
        )
        self._feed_state[fid] = state
        links = []
        for entry in parsed.entries:
            href = entry.get("link")
            if not href:
                continue
            canonical = canonical_url(href)
            links.append(
                Link(
                    url=canonical,
                    article_id=url_id(canonical),
                    feed_id=fid,
                    feed_url=url,
                    entry_title=entry.get("title"),
                    entry_published=_when(entry.get("published_parsed")),
                )
            )
        return links

    def _unseen(self, links: list[Link]) -> list[Link]:
        if not links:
            return []
        ids = [link.article_id for link in links]
        with self.engine.connect() as conn:
            seen = set(
                conn.scalars(select(SeenLinkRow.article_id).where(SeenLinkRow.article_id.in_(ids)))
            )
        return [link for link in links if link.article_id not in seen]

    def _record_failure(self, url: str, exc: BadInput) -> None:
        log.warning("feed_failed", feed=url, reason=exc.reason, detail=exc.detail[:300])
        fid = feed_id(url)
        with self.engine.begin() as conn:
            row = conn.execute(select(FeedRow).where(FeedRow.feed_id == fid)).first()
            failures = (row.consecutive_failures if row else 0) + 1
            state = {
                "url": url,
                "last_polled_at": datetime.now(UTC),
                "consecutive_failures": failures,
                "last_error": str(exc)[:500],
            }
            stmt = insert_for(self.engine, FeedRow.__table__).values(feed_id=fid, **state)
            conn.execute(stmt.on_conflict_do_update(index_elements=["feed_id"], set_=state))
