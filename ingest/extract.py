"""Extractor: news.raw -> news.articles (trafilatura).

Falls back to the feed entry's title and date where the page has none. An empty or
too-short extraction is ``BadInput("too_short")``. The extractor version travels with
every article so a replay of news.raw with a newer trafilatura can be told apart.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import trafilatura

from wiredesk.records import Article, RawPage, Record
from wiredesk.stage import BadInput

EXTRACTOR_VERSION = f"trafilatura-{trafilatura.__version__}"
_SPACE = re.compile(r"\s+")


def content_hash(text: str) -> str:
    """SHA-256 of the whitespace- and case-normalised text."""
    return hashlib.sha256(_SPACE.sub(" ", text).strip().lower().encode("utf-8")).hexdigest()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _published(page: datetime | None, entry: datetime | None) -> datetime | None:
    """The page's date, unless the feed gives the same day with a time of day too."""
    if page is None:
        return entry
    if entry is not None and entry.date() == page.date():
        return entry
    return page


class ExtractArticles:
    def __init__(self, min_chars: int = 200) -> None:
        self.min_chars = min_chars

    def __call__(self, record: Record) -> Iterator[Record]:
        assert isinstance(record, RawPage)
        doc = trafilatura.bare_extraction(
            record.html, url=record.final_url, with_metadata=True, include_comments=False
        )
        text = (doc.text if doc is not None else None) or ""
        if len(text) < self.min_chars:
            raise BadInput("too_short", f"{record.url}: {len(text)} chars extracted")
        title = doc.title or record.entry_title
        if not title:
            raise BadInput("no_title", record.url)
        authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
        yield Article(
            article_id=record.article_id,
            url=record.url,
            canonical_url=doc.url,
            title=title,
            text=text,
            authors=authors,
            published_at=_published(_date(doc.date), record.entry_published),
            language=doc.language,
            site_name=doc.sitename,
            feed_id=record.feed_id,
            discovered_at=record.discovered_at,
            fetched_at=record.fetched_at,
            extractor_version=EXTRACTOR_VERSION,
            content_hash=content_hash(text),
        )
