"""The functions :class:`ingest.sandbox.Sandbox` runs in its worker processes.

They take and return plain data (bytes, str, dicts, lists) so nothing but pickled values
crosses the process boundary. Imported by the forkserver once, so workers start warm.
"""

from __future__ import annotations

import io
from typing import Any

import feedparser
import trafilatura
from feedparser import CharacterEncodingOverride


def parse_feed(body: bytes, headers: dict[str, str], max_items: int) -> dict[str, Any]:
    """feedparser on bytes we fetched (never a URL or path string) -> plain data."""
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    exc = parsed.get("bozo_exception")
    entries = []
    for entry in parsed.entries[:max_items]:
        published = entry.get("published_parsed") or entry.get("updated_parsed")
        updated = dict.get(entry, "updated_parsed")  # no fallback to published (a warning)
        summary = entry.get("summary")
        entries.append(
            {
                "link": entry.get("link"),
                "id": entry.get("id"),
                "title": entry.get("title"),
                "published": tuple(published[:6]) if published else None,
                "updated": tuple(updated[:6]) if updated else None,
                "summary": summary[:5_000] if isinstance(summary, str) else None,
            }
        )
    return {
        "bozo": bool(parsed.get("bozo")),
        "bozo_exception": f"{type(exc).__name__}: {exc}"[:300] if exc else None,
        "encoding_override": isinstance(exc, CharacterEncodingOverride),
        "version": parsed.get("version") or "",
        "title": parsed.feed.get("title"),
        "ttl": parsed.feed.get("ttl"),
        "entries": entries,
        "total_entries": len(parsed.entries),
    }


def extract_page(html: str, url: str) -> dict[str, Any] | None:
    """trafilatura on a decoded ``str`` (never bytes: no inner decompression, F4/E4)."""
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    if doc is None:
        return None
    return {
        "text": doc.text or "",
        "title": doc.title,
        "author": doc.author,
        "date": doc.date,
        "language": doc.language,
        "url": doc.url,
        "sitename": doc.sitename,
    }
