"""WARC backfill: archived responses -> news.raw, as if the fetcher had fetched them.

Reads WARC files (plain or gzip; the Common Crawl News format: ``response`` records of
HTTP responses) with warcio. Each 200 HTML response becomes a :class:`RawPage` keyed by
its canonical URL, so a page already fetched live lands on the same article id and the
sink's upsert keeps one row. Other records are skipped and counted by reason in
``wiredesk_backfill_records_total{outcome}``. Bodies are read through warcio's decoding
stream with the fetcher's byte cap, so a compressed record cannot inflate past it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

from ingest import metrics
from ingest.normalise import clean_url
from ingest.pages import HTML_TYPES, decode_html
from ingest.urls import canonical_url
from wiredesk.bus import Bus
from wiredesk.errors import RecordRejected
from wiredesk.records import RawPage, url_id
from wiredesk.topics import RAW


def _warc_date(value: str | None) -> datetime:
    if value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def read_pages(stream: BinaryIO, max_bytes: int) -> Iterator[RawPage | str]:
    """Each response record as a RawPage, or the reason it was skipped."""
    for record in ArchiveIterator(stream):
        if record.rec_type != "response":
            yield "skipped_not_response"
            continue
        uri = clean_url(record.rec_headers.get_header("WARC-Target-URI"))
        if uri is None or not uri.lower().startswith(("http://", "https://")):
            yield "skipped_bad_uri"
            continue
        http = record.http_headers
        if http is None:
            yield "skipped_no_http"
            continue
        status = int(http.get_statuscode() or 0)
        if status != 200:
            yield "skipped_status"
            continue
        content_type = http.get_header("Content-Type") or ""
        if content_type.split(";")[0].strip().lower() not in HTML_TYPES:
            yield "skipped_not_html"
            continue
        body = record.content_stream().read(max_bytes + 1)
        if len(body) > max_bytes:
            yield "skipped_too_large"
            continue
        if not body.strip():
            yield "skipped_empty"
            continue
        canonical = canonical_url(uri)
        yield RawPage(
            article_id=url_id(canonical),
            url=canonical,
            final_url=uri,
            status=status,
            content_type=content_type[:200],
            html=decode_html(body, content_type),
            fetched_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
            source="warc",
        )


def backfill(
    paths: list[Path],
    bus: Bus,
    max_bytes: int,
    on_progress: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Publish every HTML response of ``paths`` to news.raw; returns counts by outcome.

    ``on_progress(bytes_read)`` is called as the files are read (for a progress bar).
    """
    counts: Counter[str] = Counter()
    done = 0
    for path in paths:
        with path.open("rb") as fh:
            for item in read_pages(fh, max_bytes):
                outcome = item if isinstance(item, str) else _publish(bus, item)
                counts[outcome] += 1
                metrics.BACKFILL_RECORDS.labels(outcome).inc()
                if on_progress is not None:
                    on_progress(done + fh.tell())
                if counts["published"] and counts["published"] % 500 == 0:
                    bus.flush()
            done += path.stat().st_size
    bus.flush()
    return counts


def _publish(bus: Bus, page: RawPage) -> str:
    try:
        bus.publish(RAW.name, page.key(), page.encode())
    except RecordRejected:
        return "skipped_too_large_for_bus"
    return "published"
