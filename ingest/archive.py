"""Raw archive: every fetched page is also written to WARC files, outside the bus.

news.raw is the primary path (the extractor consumes it) and has a retention; the
archive is a secondary, durable copy so extraction can be re-run after the topic
dropped a page (``wiredesk replay --stage extract --source archive``).

Per page, two WARC/1.1 records, each its own gzip member (readable by any WARC tool):

* ``response``: the page as the fetcher decoded it, re-encoded as UTF-8 (``Content-Type:
  text/html; charset=utf-8``; the original header is in the metadata), at ``final_url``;
* ``metadata`` (``WARC-Concurrent-To`` the response): the news.raw record without its
  HTML, as JSON, so :func:`read_page` rebuilds the very record the fetcher published
  (same fetch time, feed entry, rights evidence), and a replay restores rows exactly.

Files rotate by size (``max_bytes``, checked before each page) and age (``max_age_s``)
and are named ``wiredesk-<UTC time>-<host>-<pid>-<n>.warc.gz`` under a directory per
day, opened exclusively, so several fetchers never write one file. A local file is
flushed and fsynced after each page before its index row (:mod:`ingest.archive_index`)
is written; an fsspec location (``s3://…``, ``memory://…``) gets whole files: written
in a local spool directory, uploaded on rotation and on close, indexed after the upload.

A failure never loses the page: it is logged, counted in
``wiredesk_archive_pages_total{outcome}`` and the page goes on to news.raw; the file in
hand is abandoned (the next page starts a new one; pages already in it stay readable
by their offsets). Reading back: :mod:`ingest.archive_read`.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import structlog
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest import metrics
from wiredesk.records import RawPage, Record

log = structlog.get_logger(__name__)

INDEX_RETRY_S = 30.0
MAX_UNINDEXED = 10_000
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


class ArchiveError(Exception):
    """An archived page that cannot be read back (missing file, bad bytes)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class ArchiveOptions:
    location: str  # a directory, or an fsspec URL (needs fsspec installed)
    max_bytes: int = 1_000_000_000
    max_age_s: float = 3600.0
    spool_dir: Path | None = None  # remote locations: where files are written first

    @property
    def remote(self) -> bool:
        return is_url(self.location)


@dataclass(frozen=True)
class ArchivedPage:
    """One index entry: the page's records are ``file[offset : offset + length]``."""

    article_id: str
    fetched_at: datetime
    url: str
    file: str
    offset: int
    length: int


class Index(Protocol):
    def add(self, entries: list[ArchivedPage]) -> None: ...


def is_url(location: str) -> bool:
    return bool(_SCHEME.match(location)) and not location.startswith("file://")


def _local(location: str) -> Path:
    return Path(location.removeprefix("file://"))


def _iso(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarcArchive:
    """Appends pages to rotating WARC files; :meth:`write` never raises."""

    def __init__(
        self,
        options: ArchiveOptions,
        index: Index,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.index = index
        self.clock = clock
        self._lock = threading.Lock()
        self._fh: BinaryIO | None = None
        self._path: Path | None = None  # where the open file is written
        self._name = ""  # what the index calls it (the path, or the remote URL)
        self._opened = 0.0
        self._seq = 0
        self._pending: list[ArchivedPage] = []  # remote: indexed after the upload
        self._unindexed: list[ArchivedPage] = []  # index writes that failed, retried
        self._index_retry_at = 0.0
        self._host = _UNSAFE.sub("-", socket.gethostname())[:64] or "host"
        metrics.initialise_archive()

    def write(self, page: RawPage) -> ArchivedPage | None:
        """Archive ``page`` and index it; on any failure log, count and return None."""
        with self._lock:
            try:
                entry = self._append(page)
            except Exception as exc:  # the archive is a copy: never lose the page over it
                metrics.ARCHIVE_PAGES.labels("failed").inc()
                log.warning(
                    "archive_write_failed",
                    article_id=page.article_id,
                    reason=type(exc).__name__,
                    error=str(exc)[:300],
                )
                self._abandon()
                return None
            except BaseException:  # a budget interrupt: no half record before the next
                self._abandon()
                raise
            if self.options.remote:
                self._pending.append(entry)
            else:
                self._index([entry])
            metrics.ARCHIVE_PAGES.labels("archived").inc()
            return entry

    def close(self) -> None:
        with self._lock:
            self._finish()
            if self._unindexed:
                self._index_retry_at = 0.0
                self._index([])  # one last try

    def wrap(self, process: Callable[[Record], Iterable[Record]]) -> Callable[..., Any]:
        """A stage's ``process`` that also archives every RawPage it returns."""

        def archiving(record: Record) -> Iterator[Record]:
            for out in process(record):
                if isinstance(out, RawPage):
                    self.write(out)
                yield out

        return archiving

    # -- files -----------------------------------------------------------------------
    def _append(self, page: RawPage) -> ArchivedPage:
        self._rotate_if_due()
        fh = self._fh
        assert fh is not None
        start = fh.tell()
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        body = gzip.decompress(base64.b64decode(page.html_gzip))  # the exact UTF-8 bytes
        date = _iso(page.fetched_at)
        http = StatusAndHeaders(
            _status_line(page.status),
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        response = writer.create_warc_record(
            page.final_url,
            "response",
            payload=io.BytesIO(body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )
        writer.write_record(response)
        meta = json.dumps(
            page.model_dump(mode="json", by_alias=True, exclude={"html_gzip"}),
            ensure_ascii=False,
            sort_keys=True,
        ).encode("utf-8", "surrogatepass")
        metadata = writer.create_warc_record(
            page.url,
            "metadata",
            payload=io.BytesIO(meta),
            length=len(meta),
            warc_content_type="application/json",
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        writer.write_record(metadata)
        fh.flush()
        if not self.options.remote:
            os.fsync(fh.fileno())
        end = fh.tell()
        metrics.ARCHIVE_BYTES.inc(end - start)
        return ArchivedPage(
            page.article_id, page.fetched_at, page.url, self._name, start, end - start
        )

    def _rotate_if_due(self) -> None:
        if self._fh is not None and (
            self._fh.tell() >= self.options.max_bytes
            or self.clock() - self._opened >= self.options.max_age_s
        ):
            self._finish()
        if self._fh is None:
            self._open()

    def _open(self) -> None:
        now = self.clock()
        stamp = datetime.fromtimestamp(now, UTC)
        day = f"{stamp:%Y-%m-%d}"
        for _ in range(100):  # another writer of this process may have taken the name
            self._seq += 1
            name = (
                f"wiredesk-{stamp:%Y%m%d%H%M%S%f}-{self._host}-{os.getpid()}-{self._seq:05d}"
                ".warc.gz"
            )
            if self.options.remote:
                spool = self.options.spool_dir or Path("warc-spool")
                path = spool / day / name
                self._name = f"{self.options.location.rstrip('/')}/{day}/{name}"
            else:
                path = _local(self.options.location) / day / name
                self._name = str(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fh = path.open("xb")  # exclusive: never append to another writer's file
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free WARC file name in {path.parent}")
        try:
            writer = WARCWriter(fh, gzip=True, warc_version="1.1")
            info = {
                "software": "wiredesk",
                "format": "WARC File Format 1.1",
                "description": "wiredesk raw archive: a response and a metadata record "
                "(the news.raw record without its HTML, JSON) per fetched page",
            }
            writer.write_record(writer.create_warcinfo_record(name, info))
            fh.flush()
        except BaseException:
            fh.close()
            raise
        self._fh, self._path, self._opened = fh, path, now
        metrics.ARCHIVE_FILES.labels("opened").inc()

    def _finish(self) -> None:
        """Close the file in hand (remote: upload it, then index its pages)."""
        if self._fh is None:
            return
        fh, path, self._fh = self._fh, self._path, None
        try:
            fh.close()
        except OSError as exc:
            log.warning("archive_close_failed", error=str(exc)[:300])
        metrics.ARCHIVE_FILES.labels("closed").inc()
        if self.options.remote and path is not None:
            self._upload(path)

    def _abandon(self) -> None:
        """After a failed write: stop using the file (its earlier pages stay valid)."""
        try:
            self._finish()
        except Exception as exc:  # never raise from the failure path
            log.warning("archive_abandon_failed", error=str(exc)[:300])
            self._fh = None

    def _upload(self, path: Path) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            path.unlink(missing_ok=True)
            return
        target = pending[0].file
        try:
            fs, remote_path = _filesystem(target)
            fs.makedirs(remote_path.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(path), remote_path)
        except Exception as exc:
            metrics.ARCHIVE_FILES.labels("upload_failed").inc()
            log.warning("archive_upload_failed", file=target, error=str(exc)[:300])
            # keep the spool copy and index the pages where they are
            pending = [_moved(e, str(path)) for e in pending]
        else:
            metrics.ARCHIVE_FILES.labels("uploaded").inc()
            path.unlink(missing_ok=True)
        self._index(pending)

    def _index(self, entries: list[ArchivedPage]) -> None:
        """Index ``entries`` with those that failed before. After a failure (a database
        outage) the index is left alone for INDEX_RETRY_S, so a fetcher does not wait for
        a connect timeout on every page; at most MAX_UNINDEXED entries wait (the oldest
        are dropped and counted: their pages are still in the WARC files)."""
        self._unindexed.extend(entries)
        if (excess := len(self._unindexed) - MAX_UNINDEXED) > 0:
            metrics.ARCHIVE_PAGES.labels("index_dropped").inc(excess)
            del self._unindexed[:excess]
        if not self._unindexed:
            return
        if self.clock() >= self._index_retry_at:
            try:
                self.index.add(self._unindexed)
            except Exception as exc:  # the WARC files still have them
                self._index_retry_at = self.clock() + INDEX_RETRY_S
                log.warning(
                    "archive_index_failed",
                    pages=len(self._unindexed),
                    reason=type(exc).__name__,
                    error=str(exc)[:300],
                    retry_in_s=INDEX_RETRY_S,
                )
            else:
                self._unindexed = []
                return
        metrics.ARCHIVE_PAGES.labels("index_waiting").inc(len(entries))


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _moved(entry: ArchivedPage, file: str) -> ArchivedPage:
    return ArchivedPage(
        entry.article_id, entry.fetched_at, entry.url, file, entry.offset, entry.length
    )


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec  # optional: only remote archive locations need it
    except ImportError as exc:
        raise ArchiveError(
            "no_fsspec", f"{url}: remote archive locations need fsspec (pip install fsspec)"
        ) from exc
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path
