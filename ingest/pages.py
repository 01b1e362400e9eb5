"""Page fetcher: news.links -> news.raw.

Fetches each link with the guarded client (address checks on every hop, byte cap,
wall-clock deadline). Non-200 answers, non-HTML bodies, refused addresses, timeouts
and oversized pages are ``BadInput`` and land in the DLQ with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from charset_normalizer import from_bytes

from ingest.http import FetchOptions, fetch
from wiredesk.records import Link, RawPage, Record
from wiredesk.stage import BadInput

HTML_TYPES = ("text/html", "application/xhtml+xml")


def decode_html(body: bytes, content_type: str) -> str:
    """Bytes -> str: declared charset first, else detection; never fails."""
    charset = None
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip("\"' ")
    if charset:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    best = from_bytes(body[:200_000]).best()
    return body.decode(best.encoding if best else "utf-8", errors="replace")


class FetchPages:
    """Options in the constructor, work in ``__call__`` (one link -> one raw page)."""

    def __init__(self, client: httpx.Client, options: FetchOptions) -> None:
        self.client = client
        self.options = options

    def __call__(self, record: Record) -> Iterator[Record]:
        assert isinstance(record, Link)
        resp = fetch(self.client, record.url, self.options)
        if resp.status != 200:
            raise BadInput(f"http_{resp.status // 100}xx", f"{record.url} answered {resp.status}")
        content_type = resp.headers.get("content-type", "")
        if not content_type.lower().startswith(HTML_TYPES):
            raise BadInput("not_html", f"{record.url}: content-type {content_type[:80]!r}")
        if not resp.body.strip():
            raise BadInput("empty_body", record.url)
        yield RawPage(
            article_id=record.article_id,
            url=record.url,
            final_url=resp.url,
            status=resp.status,
            content_type=content_type[:200],
            html=decode_html(resp.body, content_type),
            feed_id=record.feed_id,
            entry_title=record.entry_title,
            entry_published=record.entry_published,
            discovered_at=record.discovered_at,
        )
