"""Reading the raw archive back (:mod:`ingest.archive` writes it).

:func:`read_range` + :func:`read_page` turn one index entry into the news.raw record the
fetcher published; :func:`scan` lists the pages of a whole WARC file with their byte
ranges, so the index can be rebuilt from the files (``wiredesk archive reindex``).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Iterator
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

from ingest.archive import ArchivedPage, ArchiveError, _filesystem, _local, is_url
from wiredesk.records import RawPage


def open_file(file: str) -> BinaryIO:
    """``file`` (a path or an fsspec URL) for reading; ArchiveError("missing")."""
    try:
        if is_url(file):
            fs, path = _filesystem(file)
            return fs.open(path, "rb")  # type: ignore[no-any-return]
        return _local(file).open("rb")
    except OSError as exc:  # FileNotFoundError included
        raise ArchiveError("missing", f"{file}: {exc}") from exc


def read_range(file: str, offset: int, length: int) -> bytes:
    """``length`` bytes of ``file`` from ``offset``."""
    try:
        with open_file(file) as fh:
            fh.seek(offset)
            data = fh.read(length)
    except OSError as exc:
        raise ArchiveError("missing", f"{file}: {exc}") from exc
    if len(data) != length:
        raise ArchiveError("corrupt", f"{file}: {len(data)} of {length} bytes at {offset}")
    return data


def read_page(data: bytes) -> RawPage:
    """The news.raw record archived in one index entry's bytes."""
    body: bytes | None = None
    meta: bytes | None = None
    try:
        for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
            if record.rec_type == "response":
                body = record.content_stream().read()
            elif record.rec_type == "metadata":
                meta = record.content_stream().read()
    except Exception as exc:  # warcio raises several kinds on bad bytes
        raise ArchiveError("corrupt", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    if body is None or meta is None:
        raise ArchiveError("corrupt", "the range lacks its response or metadata record")
    try:
        fields = json.loads(meta)
        fields["html_gzip"] = base64.b64encode(gzip.compress(body, 6, mtime=0)).decode("ascii")
        return RawPage.model_validate(fields)
    except (ValueError, TypeError) as exc:
        raise ArchiveError("corrupt", f"metadata: {str(exc)[:200]}") from exc


def scan(file: str) -> Iterator[ArchivedPage]:
    """Every page of a wiredesk WARC file, as index entries: a ``response`` record
    followed by its ``metadata`` record. A file cut short (a writer that died mid-page)
    raises ArchiveError("corrupt") after its last whole page."""
    with open_file(file) as fh:
        records = ArchiveIterator(fh)
        start: int | None = None
        try:
            for record in records:
                if record.rec_type == "response":
                    start = records.get_record_offset()
                    continue
                if record.rec_type != "metadata" or start is None:
                    continue
                fields = json.loads(record.content_stream().read())
                end = records.get_record_offset() + records.get_record_length()
                page = RawPage.model_validate({**fields, "html_gzip": ""})
                yield ArchivedPage(
                    page.article_id, page.fetched_at, page.url, file, start, end - start
                )
                start = None
        except ArchiveError:
            raise
        except Exception as exc:  # a torn tail (a writer died mid-page), bad bytes
            raise ArchiveError("corrupt", f"{file}: {type(exc).__name__}") from exc
