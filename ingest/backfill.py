"""WARC backfill: archived responses -> news.raw, as if the fetcher had fetched them.

Reads WARC files (plain or gzip; the Common Crawl News format: ``response`` records of
HTTP responses) with warcio. Each 200 HTML response becomes a :class:`RawPage` keyed by
its canonical URL, so a page already fetched live lands on the same article id and the
sink's upsert keeps one row. Other records are skipped and counted by reason in
``wiredesk_backfill_records_total{outcome}``. Bodies are read through warcio's decoding
stream with the fetcher's byte cap, so a compressed record cannot inflate past it.

A hostile record never stops a file: an unparseable target URI or status line skips that
record, and a WARC-Date outside 1990..now+1 day (which would make the archived copy look
newer than every live fetch) is replaced by the time of the backfill.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

from ingest import metrics, rights
from ingest.normalise import clean_url
from ingest.pages import HTML_TYPES, decode_html
from ingest.urls import canonical_url
from wiredesk.bus import Bus
from wiredesk.errors import RecordRejected
from wiredesk.records import RawPage, url_id
from wiredesk.topics import RAW

_FIRST_DATE = datetime(1990, 1, 1, tzinfo=UTC)


def _warc_date(value: str | None) -> datetime:
    now = datetime.now(UTC)
    if value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            if _FIRST_DATE <= parsed <= now + timedelta(days=1):
                return parsed
        except (ValueError, OverflowError):
            pass
        metrics.SANITIZED.labels("warc_date").inc()
    return now


def _status(value: str | None) -> int:
    try:
        return int(value) if value and value.isascii() and value.isdigit() else 0
    except ValueError:
        return 0


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
        status = _status(http.get_statuscode())
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
        try:
            canonical = canonical_url(uri)
        except ValueError:
            yield "skipped_bad_uri"
            continue
        yield RawPage(
            article_id=url_id(canonical),
            url=canonical,
            final_url=uri,
            status=status,
            content_type=content_type[:200],
            html=decode_html(body, content_type),
            fetched_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
            source="warc",
            rights_evidence=_rights_evidence(http.headers),
        )


def _rights_evidence(headers: list[tuple[str, str]]) -> list[str]:
    """The archived response's header evidence; robots.txt and tdmrep.json as they were
    then are not in the archive: unknown."""
    found = [*rights.header_evidence(rights.joined_headers(headers)), *rights.UNCHECKED]
    return list(rights.verdict(found).evidence)


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
