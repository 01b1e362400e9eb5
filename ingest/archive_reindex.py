"""``wiredesk archive reindex [LOCATION...]``: rebuild the archive index from the files.

The WARC files are the archive; ``archive_pages`` only points into them. Index rows the
fetcher could not write (a database outage longer than its in-memory wait, a crash
before the retry) are recovered by scanning the files: every page found is added, rows
already there are left as they are (idempotent). Default location: the configured
archive (``archive_url``, or the default beside the database).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from ingest.archive import ArchiveError, _filesystem, _local, is_url
from ingest.archive_index import SqlArchiveIndex
from ingest.archive_read import scan
from wiredesk import db
from wiredesk.settings import Settings, SettingsError

BATCH = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "locations",
        nargs="*",
        metavar="LOCATION",
        help="directories, fsspec URLs or .warc.gz files (default: the configured archive)",
    )


def warc_files(location: str) -> Iterator[str]:
    """The ``*.warc.gz`` files at or under ``location``, in name order."""
    if is_url(location):
        fs, path = _filesystem(location)
        protocol = location.split("://", 1)[0]
        found = [path] if path.endswith(".warc.gz") else fs.glob(f"{path}/**/*.warc.gz")
        yield from (f"{protocol}://{p.lstrip('/')}" for p in sorted(found))
        return
    root = _local(location)
    if root.is_file():
        yield str(root)
    else:
        yield from (str(p) for p in sorted(root.rglob("*.warc.gz")))


def run(args: argparse.Namespace, settings: Settings) -> int:
    locations = list(args.locations)
    if not locations:
        default = settings.archive_location(settings.database_url)
        if default is None:
            raise SettingsError("no archive configured: set WIREDESK_ARCHIVE_URL or name one")
        locations = [default]
    engine = db.make_engine(settings.database_url)
    index = SqlArchiveIndex(engine)
    files = pages = damaged = 0
    try:
        for location in locations:
            for file in warc_files(location):
                files += 1
                batch = []
                try:
                    for entry in scan(file):
                        batch.append(entry)
                        if len(batch) >= BATCH:
                            index.add(batch)
                            pages, batch = pages + len(batch), []
                except ArchiveError as exc:
                    damaged += 1
                    print(f"{file}: {exc} (its whole pages before that are indexed)")
                index.add(batch)
                pages += len(batch)
    finally:
        engine.dispose()
    print(f"indexed {pages} pages of {files} WARC files ({damaged} damaged)")
    return 1 if damaged else 0
