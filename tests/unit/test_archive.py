"""The raw WARC archive: exact round trip, rotation by size and age, unique file names,
standard WARC files, failures that never lose the page, and the index."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from ingest.archive import ArchivedPage, ArchiveError, ArchiveOptions, WarcArchive
from ingest.archive_index import SqlArchiveIndex
from ingest.archive_read import read_page, read_range, scan
from tests.conftest import metric
from wiredesk.records import Link, RawPage

T0 = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)


class ListIndex:
    def __init__(self) -> None:
        self.entries: list[ArchivedPage] = []

    def add(self, entries: list[ArchivedPage]) -> None:
        self.entries.extend(entries)


class BrokenIndex:
    def add(self, entries: list[ArchivedPage]) -> None:
        raise ConnectionError("database down")


def page(n: int, size: int = 2_000, **kw) -> RawPage:
    # hex words: text that gzip cannot shrink much, so file sizes follow ``size``
    words = " ".join(hashlib.sha256(f"{n}-{i}".encode()).hexdigest()[:8] for i in range(size // 9))
    body = f"<html><head><title>Ünïcode {n} — “quotes”</title></head><body><p>{words}</p>"
    body += "</body></html>"
    base = dict(
        article_id=f"{n:032x}",
        url=f"https://news.example/a/{n}",
        final_url=f"https://www.news.example/a/{n}?amp=1",
        status=200,
        content_type="text/html; charset=iso-8859-1",
        html=body,
        fetched_at=T0 + timedelta(seconds=n),
        feed_id="feed-1",
        entry_title=f"Entry {n}",
        entry_published=T0 - timedelta(hours=1),
        discovered_at=T0 - timedelta(minutes=5),
        source="fetch",
        rights_evidence=["header:X-Robots-Tag: noai", "robots:unknown"],
    )
    return RawPage(**{**base, **kw})


def archive(tmp_path: Path, index=None, **kw) -> WarcArchive:
    return WarcArchive(ArchiveOptions(str(tmp_path / "warc"), **kw), index or ListIndex())


def files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "warc").rglob("*.warc.gz"))


def test_a_page_reads_back_as_the_very_record_the_fetcher_published(tmp_path):
    index = ListIndex()
    arch = archive(tmp_path, index)
    original = page(1)
    entry = arch.write(original)
    arch.close()
    assert entry is not None and index.entries == [entry]
    assert (entry.article_id, entry.fetched_at, entry.url) == (
        original.article_id,
        original.fetched_at,
        original.url,
    )
    again = read_page(read_range(entry.file, entry.offset, entry.length))
    assert again == original
    assert again.encode() == original.encode()  # byte for byte, html_gzip included


def test_the_files_are_standard_warc_any_tool_can_read(tmp_path):
    arch = archive(tmp_path)
    pages = [page(n) for n in range(3)]
    for p in pages:
        arch.write(p)
    arch.close()
    [path] = files(tmp_path)
    with path.open("rb") as fh:
        records = list(_summary(ArchiveIterator(fh, check_digests="raise")))
    assert [r[0] for r in records] == ["warcinfo"] + ["response", "metadata"] * 3
    responses = [r for r in records if r[0] == "response"]
    assert [r[1] for r in responses] == [p.final_url for p in pages]
    assert [r[2] for r in responses] == [p.html.encode("utf-8") for p in pages]


def _summary(records):
    for r in records:
        body = r.content_stream().read()
        yield r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), body


def test_files_rotate_by_size_and_each_page_stays_readable(tmp_path):
    index = ListIndex()
    arch = archive(tmp_path, index, max_bytes=4_000)
    pages = [page(n, size=3_000) for n in range(8)]
    for p in pages:
        assert arch.write(p) is not None
    arch.close()
    paths = files(tmp_path)  # named by opening time: in order
    assert len(paths) >= 2
    assert len({e.file for e in index.entries}) == len(paths)
    longest = max(e.length for e in index.entries)
    for path in paths:  # at most one page past the bound ...
        assert path.stat().st_size < 4_000 + longest
    for path in paths[:-1]:  # ... and closed only once it reached it
        assert path.stat().st_size >= 4_000
    for p, e in zip(pages, index.entries, strict=True):
        assert read_page(read_range(e.file, e.offset, e.length)) == p


def test_files_rotate_by_age(tmp_path):
    now = [1_000_000.0]
    index = ListIndex()
    arch = WarcArchive(
        ArchiveOptions(str(tmp_path / "warc"), max_age_s=60), index, clock=lambda: now[0]
    )
    arch.write(page(1))
    now[0] += 30
    arch.write(page(2))
    now[0] += 31  # the file is 61 s old at the next page
    arch.write(page(3))
    arch.close()
    a, b, c = (e.file for e in index.entries)
    assert a == b != c
    assert len(files(tmp_path)) == 2


def test_two_writers_never_share_a_file(tmp_path):
    one, two = archive(tmp_path), archive(tmp_path)
    e1, e2 = one.write(page(1)), two.write(page(2))
    one.close(), two.close()
    assert e1 and e2 and e1.file != e2.file
    name = Path(e1.file).name
    assert name.startswith("wiredesk-") and name.endswith(".warc.gz")


def test_an_unwritable_location_loses_no_page(tmp_path):
    blocker = tmp_path / "warc"
    blocker.write_text("a file where the directory should be")
    arch = archive(tmp_path)
    failed = metric("wiredesk_archive_pages_total", outcome="failed")
    process = arch.wrap(lambda record: [page(7)])
    out = list(process(Link(url="https://news.example/a/7", article_id=f"{7:032x}")))
    assert out == [page(7)]  # the page still goes on to news.raw
    assert metric("wiredesk_archive_pages_total", outcome="failed") == failed + 1


class DiskFull:
    """The open file, except that every write fails as on a full disk."""

    def __init__(self, fh) -> None:
        self.fh = fh

    def write(self, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    def __getattr__(self, name: str):
        return getattr(self.fh, name)


def test_a_write_that_fails_midway_abandons_the_file_and_the_next_page_is_archived(tmp_path):
    index = ListIndex()
    arch = archive(tmp_path, index)
    first = arch.write(page(1))
    arch._fh = DiskFull(arch._fh)
    assert arch.write(page(2)) is None
    third = arch.write(page(3))
    arch.close()
    assert first and third and first.file != third.file  # a fresh file after the failure
    assert [e.article_id for e in index.entries] == [page(1).article_id, page(3).article_id]
    for e, p in ((first, page(1)), (third, page(3))):
        assert read_page(read_range(e.file, e.offset, e.length)) == p


class FlakyIndex(ListIndex):
    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.calls = 0

    def add(self, entries: list[ArchivedPage]) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("database down")
        super().add(entries)


def test_an_index_outage_delays_the_index_rows_and_loses_none(tmp_path):
    now = [1_000_000.0]
    index = FlakyIndex()
    arch = WarcArchive(ArchiveOptions(str(tmp_path / "warc")), index, clock=lambda: now[0])
    waiting = metric("wiredesk_archive_pages_total", outcome="index_waiting")
    first = arch.write(page(1))
    second = arch.write(page(2))  # within the back-off: the index is not even tried
    assert index.calls == 1
    assert metric("wiredesk_archive_pages_total", outcome="index_waiting") == waiting + 2
    assert first and second  # both pages are in the file meanwhile
    assert read_page(read_range(first.file, first.offset, first.length)) == page(1)
    index.down = False
    now[0] += 31
    third = arch.write(page(3))
    arch.close()
    assert index.entries == [first, second, third]


def test_an_index_still_down_at_close_leaves_the_pages_in_the_file(tmp_path):
    arch = archive(tmp_path, BrokenIndex())
    entry = arch.write(page(1))
    arch.close()  # logged and counted; nothing raised
    assert entry is not None
    assert read_page(read_range(entry.file, entry.offset, entry.length)) == page(1)


def test_missing_and_corrupt_ranges_say_so(tmp_path):
    arch = archive(tmp_path)
    entry = arch.write(page(1))
    arch.close()
    assert entry is not None
    with pytest.raises(ArchiveError) as missing:
        read_range(str(tmp_path / "nope.warc.gz"), 0, 10)
    assert missing.value.reason == "missing"
    with pytest.raises(ArchiveError) as short:
        read_range(entry.file, entry.offset, entry.length + 10_000)
    assert short.value.reason == "corrupt"
    data = bytearray(read_range(entry.file, entry.offset, entry.length))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ArchiveError) as corrupt:
        read_page(bytes(data))
    assert corrupt.value.reason == "corrupt"
    with pytest.raises(ArchiveError):
        read_page(gzip.compress(b"WARC/1.1\r\n\r\n"))


def test_the_index_keeps_one_entry_per_fetch_and_pages_by_fetch_time(sqlite_engine):
    index = SqlArchiveIndex(sqlite_engine)
    entries = [
        ArchivedPage(f"{n % 3:032x}", T0 + timedelta(minutes=n), f"u{n}", "f.warc.gz", n * 10, 10)
        for n in range(7)
    ]
    index.add(entries[:4])
    index.add(entries)  # the first four again: kept as they are
    assert index.count(None, None) == 7
    start, end = T0 + timedelta(minutes=2), T0 + timedelta(minutes=6)
    assert index.count(start, end) == 4
    got = list(index.all_entries(start, end))
    assert [(e.url, e.offset) for e in got] == [(f"u{n}", n * 10) for n in range(2, 6)]
    first_two = index.entries(None, None, limit=2)
    rest = index.entries(None, None, after=(first_two[-1].fetched_at, first_two[-1].article_id))
    assert [e.url for e in first_two + rest] == [f"u{n}" for n in range(7)]


def test_a_remote_location_gets_whole_files_indexed_after_their_upload(tmp_path):
    pytest.importorskip("fsspec", reason="remote archive locations need fsspec (dev extra)")
    index = ListIndex()
    location = f"memory://bucket/{tmp_path.name}/warc"
    options = ArchiveOptions(location, max_bytes=2_000, spool_dir=tmp_path / "spool")
    arch = WarcArchive(options, index)
    pages = [page(n, size=3_000) for n in range(4)]
    for p in pages:
        assert arch.write(p) is not None
    assert 0 < len(index.entries) < 4  # files uploaded at rotation; the open one not yet
    arch.close()
    assert [e.article_id for e in index.entries] == [p.article_id for p in pages]
    assert all(e.file.startswith(location + "/") for e in index.entries)
    for p, e in zip(pages, index.entries, strict=True):
        assert read_page(read_range(e.file, e.offset, e.length)) == p
    assert not list((tmp_path / "spool").rglob("*.warc.gz"))  # uploaded files leave the spool


def test_a_failed_upload_keeps_the_spool_file_and_indexes_it_there(tmp_path, monkeypatch):
    import ingest.archive

    def unreachable(url):
        raise ConnectionError("object store unreachable")

    monkeypatch.setattr(ingest.archive, "_filesystem", unreachable)
    index = ListIndex()
    options = ArchiveOptions("s3://bucket/warc", spool_dir=tmp_path / "spool")
    arch = WarcArchive(options, index)
    failed = metric("wiredesk_archive_files_total", outcome="upload_failed")
    arch.write(page(1))
    arch.close()
    assert metric("wiredesk_archive_files_total", outcome="upload_failed") == failed + 1
    [entry] = index.entries
    assert entry.file.startswith(str(tmp_path / "spool"))
    assert read_page(read_range(entry.file, entry.offset, entry.length)) == page(1)


@pytest.mark.parametrize(
    "database_url, given, expected",
    [
        ("sqlite:///data/news.db", {}, "data/news.warc"),
        ("sqlite://", {}, None),  # an in-memory database keeps nothing: no archive either
        ("sqlite:///:memory:", {}, None),
        ("postgresql+psycopg://u@db.example/news", {}, "wiredesk-warc"),
        ("sqlite:///news.db", {"archive_url": "s3://bucket/warc"}, "s3://bucket/warc"),
        ("sqlite:///news.db", {"archive_enabled": False}, None),
    ],
)
def test_where_the_archive_goes(database_url, given, expected, monkeypatch):
    from wiredesk.settings import Settings

    for name in ("WIREDESK_ARCHIVE_URL", "WIREDESK_ARCHIVE_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    assert Settings(**given).archive_location(database_url) == expected


def test_the_index_is_rebuilt_from_the_files(tmp_path, sqlite_url, monkeypatch, capsys):
    from wiredesk.app.cli import main

    lost = ListIndex()  # the index rows were never written
    arch = archive(tmp_path, lost, max_bytes=3_000)
    pages = [page(n) for n in range(5)]
    for p in pages:
        arch.write(p)
    arch.close()
    torn = files(tmp_path)[-1]
    with torn.open("ab") as fh:  # a writer that died mid-page leaves a torn tail
        fh.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n")[:-8])
    assert [e for f in files(tmp_path)[:-1] for e in scan(str(f))] == [
        e for e in lost.entries if e.file != str(torn)
    ]
    monkeypatch.setenv("WIREDESK_DATABASE_URL", sqlite_url)
    assert main(["archive", "reindex", str(tmp_path / "warc")]) == 1  # one damaged file
    assert "indexed 5 pages" in capsys.readouterr().out
    from ingest.archive_index import SqlArchiveIndex
    from wiredesk import db

    engine = db.make_engine(sqlite_url)
    got = list(SqlArchiveIndex(engine).all_entries())
    engine.dispose()
    assert [(e.article_id, e.file, e.offset, e.length) for e in got] == [
        (e.article_id, e.file, e.offset, e.length) for e in lost.entries
    ]
