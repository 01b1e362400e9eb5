"""WARC backfill on hostile archives (issue 13): a bad status line, an unparseable
target URI or an absurd WARC-Date skips or repairs that record only; the file goes on."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.backfill import read_pages
from wiredesk.records import RawPage

PAGE = b"<html><head><title>t</title></head><body><p>" + b"text " * 50 + b"</p></body></html>"


def _warc(records: list[tuple[str, str, str | None]]) -> io.BytesIO:
    """(target URI, status line, WARC-Date or None) -> a WARC of HTML responses."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    for uri, status, date in records:
        http = StatusAndHeaders(status, [("Content-Type", "text/html")], protocol="HTTP/1.1")
        headers = {"WARC-Date": date} if date else None
        record = writer.create_warc_record(
            uri, "response", payload=io.BytesIO(PAGE), http_headers=http, warc_headers_dict=headers
        )
        writer.write_record(record)
    out.seek(0)
    return out


def test_hostile_records_are_skipped_or_repaired_and_the_file_goes_on():
    stream = _warc(
        [
            ("http://[::1/x", "200 OK", None),  # canonical_url raised ValueError
            ("https://a.example/bad-status", "2OO OK", None),  # int() raised ValueError
            ("https://a.example/far-future", "200 OK", "9999-12-31T23:59:59Z"),
            ("https://a.example/year-one", "200 OK", "0001-01-01T00:00:00Z"),
            ("https://a.example/good", "200 OK", "2026-11-21T12:00:00Z"),
        ]
    )
    before = datetime.now(UTC)
    items = list(read_pages(stream, 1_000_000))
    outcomes = [i if isinstance(i, str) else i.url for i in items]
    assert outcomes == [
        "skipped_bad_uri",
        "skipped_status",
        "https://a.example/far-future",
        "https://a.example/year-one",
        "https://a.example/good",
    ]
    pages = [i for i in items if isinstance(i, RawPage)]
    # an archive date outside any reality is replaced by the time of the backfill
    for page in pages[:2]:
        assert before <= page.fetched_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert pages[2].fetched_at == datetime(2026, 11, 21, 12, tzinfo=UTC)
