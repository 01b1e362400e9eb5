"""Feed bytes -> entries, safely (catalogue X1-X11).

* Only bytes reach feedparser (``io.BytesIO`` with the response headers), never a URL or
  a path string, which feedparser would open (X8).
* Feeds with an ``<!ENTITY`` declaration, an internal DTD subset or any DOCTYPE other than
  the two classic RSS 0.91 ones are rejected before parsing: entity expansion is where
  billion-laughs and the quadratic blow-up of the loose parser live (X1-X3).
* feedparser runs in the sandbox (time and memory bound: the author-field ReDoS, X4) and
  every exception it raises is caught there (X5).
* A feed with more than ``max_items`` items is cut after the last one we keep (and its
  root closed again) before feedparser sees it: a 100k-item feed costs the parse of
  ``max_items`` items, not a parse timeout on every poll (X10). ``total_entries`` still
  counts every item.
* JSON Feed (https://jsonfeed.org) is parsed with ``json``: feedparser does not read it.
  Integers longer than 40 digits become floats (Python refuses to convert one of over
  4,300 digits and ``json`` would raise); nothing we read is a number anyway (B6).
* Entry dates outside 1970-2100, or that cannot be placed in UTC, are unknown (B7):
  ``published`` is None and ``wiredesk_feed_entries_total{outcome="bad_date"}`` counts them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest import metrics, sandbox_tasks
from ingest.feeditems import ITEM_END, ItemCache, parse_changed
from ingest.sandbox import Sandbox, SandboxError
from wiredesk.stage import BadInput

_ENTITY = re.compile(rb"<!\s*ENTITY", re.I)
_DOCTYPE = re.compile(rb"<!\s*DOCTYPE([^>\[]*)(\[)?", re.I)
_FIRST_YEAR, _LAST_YEAR = 1970, 2100
_ATOM_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?feed[\s>]", re.I)
_RDF_ROOT = re.compile(rb"<rdf:RDF[\s>]", re.I)
_RSS091_DOCTYPES = (
    b"-//netscape communications//dtd rss 0.91//en",
    b"-//userland//dtd rss 0.91//en",
)


class FeedRejected(BadInput):
    """A feed we refuse to parse or could not parse; ``reason`` is the metric label."""


@dataclass
class FeedEntry:
    link: str | None
    title: str | None = None
    published: datetime | None = None
    id: str | None = None
    updated: datetime | None = None  # the entry's last update, when the feed gives one
    summary: str | None = None  # its summary/description (first 5,000 characters)


@dataclass
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry]
    total_entries: int
    ttl: Any = None
    bozo: str | None = None  # the parser's complaint, when it had one
    encoding_override: bool = False
    version: str = ""
    notes: list[str] = field(default_factory=list)


def check_declarations(body: bytes) -> None:
    """Raise :class:`FeedRejected` for entity declarations and DTDs (also in UTF-16/32)."""
    text = body.replace(b"\x00", b"") if b"\x00" in body[:200] else body
    if _ENTITY.search(text):
        raise FeedRejected("entity", "the feed declares XML entities")
    for match in _DOCTYPE.finditer(text):
        if match.group(2) or not any(d in match.group(1).lower() for d in _RSS091_DOCTYPES):
            raise FeedRejected("dtd", f"the feed has a DTD: {match.group(0)[:120]!r}")


def bound_items(body: bytes, max_items: int) -> tuple[bytes, int]:
    """``body`` cut after its ``max_items``-th item and closed again, and how many items
    it has in all (unchanged when it has at most ``max_items``)."""
    cut, total = None, 0
    for total, match in enumerate(ITEM_END.finditer(body), 1):
        if total == max_items:
            cut = match.end()
    if cut is None or total <= max_items:
        return body, total
    head = body[:2_000]
    if _ATOM_ROOT.search(head):
        closing = b"</feed>"
    elif _RDF_ROOT.search(head):
        closing = b"</rdf:RDF>"
    else:
        closing = b"</channel></rss>"
    return body[:cut] + closing, total


def looks_like_json_feed(body: bytes, content_type: str) -> bool:
    return "json" in content_type.lower() or body.lstrip()[:1] == b"{"


def parse_json_feed(body: bytes, max_items: int) -> ParsedFeed:
    try:
        data = json.loads(body, parse_int=_json_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FeedRejected("not_a_feed", f"invalid JSON Feed: {exc}"[:300]) from exc
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise FeedRejected("not_a_feed", "JSON without a jsonfeed.org version")
    items = data.get("items") if isinstance(data.get("items"), list) else []
    entries = [
        FeedEntry(
            link=_str(item.get("url")) or _str(item.get("external_url")),
            title=_str(item.get("title")),
            published=_iso(item.get("date_published") or item.get("date_modified")),
            id=_str(item.get("id")),
            updated=_iso(item.get("date_modified")),
            summary=(_str(item.get("summary")) or _str(item.get("content_text")) or "")[:5_000]
            or None,
        )
        for item in items[:max_items]
        if isinstance(item, dict)
    ]
    return ParsedFeed(_str(data.get("title")), entries, len(items), version="json")


def parse_feed(
    body: bytes,
    headers: dict[str, str],
    sandbox: Sandbox | None,
    max_items: int,
    timeout_s: float | None = None,
    items: ItemCache | None = None,
    feed: str = "",
) -> ParsedFeed:
    """Entries of a fetched feed, or :class:`FeedRejected` with a reason. With ``items``,
    feedparser reads only the items of ``feed`` not seen at its last poll (same entries,
    :mod:`ingest.feeditems`)."""
    if not body.strip():
        raise FeedRejected("empty", "0 bytes")
    if looks_like_json_feed(body, headers.get("content-type", "")):
        return parse_json_feed(body, max_items)
    check_declarations(body)
    body, total = bound_items(body, max_items)

    def parse(some: bytes) -> dict[str, Any]:
        if sandbox is None:
            return sandbox_tasks.parse_feed(some, headers, max_items)
        return sandbox.run("parse_feed", some, headers, max_items, timeout_s=timeout_s)

    try:
        data = parse(body) if items is None else parse_changed(body, headers, parse, items, feed)
    except SandboxError as exc:
        raise FeedRejected(f"parse_{exc.reason}", exc.detail) from exc
    if data["encoding_override"]:
        metrics.FEED_ENCODING_OVERRIDE.inc()
    if not data["entries"] and (data["bozo"] or not data["version"]):
        raise FeedRejected("not_a_feed", data["bozo_exception"] or "no feed found in the body")
    entries = [
        FeedEntry(
            link=_str(e["link"]),
            title=_str(e["title"]),
            published=_from_tuple(e["published"]),
            id=_str(e["id"]),
            updated=_from_tuple(e.get("updated")),
            summary=_str(e.get("summary")),
        )
        for e in data["entries"]
    ]
    return ParsedFeed(
        title=_str(data["title"]),
        entries=entries,
        total_entries=max(total, data["total_entries"]),
        ttl=data["ttl"],
        bozo=data["bozo_exception"] if data["bozo"] else None,
        encoding_override=data["encoding_override"],
        version=data["version"],
    )


def _json_int(text: str) -> int | float:
    return int(text) if len(text) <= 40 else float(text)


def _plausible(value: datetime) -> datetime | None:
    """``value`` (made aware) if it is a date a news entry can have, else None."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        year = value.astimezone(UTC).year
    except (OverflowError, ValueError):
        year = 0
    if _FIRST_YEAR <= year <= _LAST_YEAR:
        return value
    metrics.FEED_ENTRIES.labels("bad_date").inc()
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _plausible(parsed)


def _from_tuple(value: tuple[int, ...] | None) -> datetime | None:
    if not value:
        return None
    try:
        return _plausible(datetime(*value[:6], tzinfo=UTC))
    except (TypeError, ValueError, OverflowError):
        return None
