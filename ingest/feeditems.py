"""Parse only the items of a feed that changed since its last poll (issue 17).

A busy feed changes on almost every poll, by an item or two, and feedparser reads all its
items each time (50 is typical): in the end-to-end benchmark that re-parsing was the
poller's largest cost. :func:`parse_changed` cuts the body into its items at their tags
(as :func:`ingest.feedparse.bound_items` does), keeps the entries parsed from each item's
exact bytes at the last poll (:class:`ItemCache`, by a digest of the item and of what
frames it: the XML declaration, the root tag with its namespaces and ``xml:base``, the
content type), and hands feedparser the feed's head, the items not seen before and its
tail. The entries come out in feed order, the same as a parse of the whole body.

The whole body is parsed instead, and nothing is kept for the feed, whenever the cut is
not certain: no item tags found in the bytes (UTF-16, say), a piece with other than one
item start tag (``</item>`` inside CDATA), more than space between two items, a parse
with any complaint (bozo), or a number of entries other than the number of new items.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest import metrics

ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.I)
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]", re.I)
_ROOT_TAG = re.compile(rb"<[A-Za-z_][^<>]{0,4000}>")  # the first element's start tag

Parse = Callable[[bytes], dict[str, Any]]  # body -> sandbox_tasks.parse_feed's data


@dataclass(frozen=True)
class Split:
    head: bytes  # up to the first item's start tag
    items: list[bytes]  # each up to and including its end tag
    tail: bytes  # after the last item's end tag


def split_items(body: bytes) -> Split | None:
    """The body cut at its items' tags, or None when the cut is not certain."""
    ends = list(ITEM_END.finditer(body))
    if not ends:
        return None
    first = _ITEM_START.search(body, 0, ends[0].start())
    if first is None:
        return None
    bounds = [first.start(), *(m.end() for m in ends)]
    items = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        starts = list(_ITEM_START.finditer(body, a, b))
        if len(starts) != 1 or body[a : starts[0].start()].strip():
            return None  # not one item, or something other than space between items
        items.append(body[starts[0].start() : b])
    return Split(body[: first.start()], items, body[ends[-1].end() :])


class ItemCache:
    """Per feed, the entries of its current items by digest; feeds least recently polled
    are forgotten first once more than ``max_entries`` entries are held in all (an entry
    is its link, id, title, dates and a summary of at most 5,000 characters)."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._feeds: OrderedDict[str, dict[bytes, dict[str, Any]]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()  # feeds are polled on a thread pool

    def entries(self, feed: str) -> dict[bytes, dict[str, Any]]:
        with self._lock:
            known = self._feeds.get(feed)
            if known is None:
                return {}
            self._feeds.move_to_end(feed)
            return known

    def keep(self, feed: str, entries: dict[bytes, dict[str, Any]]) -> None:
        with self._lock:
            self._held += len(entries) - len(self._feeds.pop(feed, {}))
            self._feeds[feed] = entries
            while self._held > self.max_entries and self._feeds:
                _, dropped = self._feeds.popitem(last=False)
                self._held -= len(dropped)

    def forget(self, feed: str) -> None:
        self.keep(feed, {})


def parse_changed(
    body: bytes, headers: dict[str, str], parse: Parse, cache: ItemCache, feed: str
) -> dict[str, Any]:
    """``parse(body)``'s data, feedparser having read only the items not seen before."""
    split = split_items(body)
    if split is None:
        cache.forget(feed)
        return parse(body)
    frame = _frame(split.head, headers)
    keys = [hashlib.blake2b(item, digest_size=16, key=frame).digest() for item in split.items]
    known = cache.entries(feed)
    new = [i for i, key in enumerate(keys) if key not in known]
    if len(new) == len(keys):
        reduced = body
    else:
        reduced = split.head + b"\n".join(split.items[i] for i in new) + split.tail
    data = parse(reduced)
    if data["bozo"] or len(data["entries"]) != len(new):
        cache.forget(feed)
        return data if reduced is body else parse(body)
    parsed = {keys[i]: entry for i, entry in zip(new, data["entries"], strict=True)}
    entries = [known.get(key) or parsed[key] for key in keys]
    metrics.FEED_ITEMS_PARSED.labels("parsed").inc(len(new))
    metrics.FEED_ITEMS_PARSED.labels("reused").inc(len(keys) - len(new))
    cache.keep(feed, dict(zip(keys, entries, strict=True)))
    return {**data, "entries": entries, "total_entries": len(entries)}


def _frame(head: bytes, headers: dict[str, str]) -> bytes:
    """What an item's parse depends on besides its bytes, as a 32-byte digest key."""
    root = _ROOT_TAG.search(head)
    prolog = head[: root.end()] if root else head[:4_000]
    context = "\n".join(headers.get(h, "") for h in ("content-type", "content-location"))
    return hashlib.blake2b(
        prolog + b"\0" + context.encode("utf-8", "replace"), digest_size=32
    ).digest()
