"""``wiredesk archive prune``: delete raw-archive WARC files older than the retention.

A file goes only as a whole, and only when every page the index holds for it was fetched
before the cutoff (the file being written is always newer). Each file is deleted first,
then its ``archive_pages`` rows, so a crash in between leaves rows pointing at a missing
file, which the next prune removes (a replay counts such pages as ``missing``); pruning
twice is a no-op. Files the index does not know (see ``wiredesk archive reindex``) are
left alone. Run it from cron or a Kubernetes CronJob; ``--dry-run`` lists what would go.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, select

from ingest.archive import ArchiveError, _filesystem, _local, is_url
from wiredesk import db
from wiredesk.db.archive_tables import ArchivePageRow
from wiredesk.settings import Settings, SettingsError

MIN_DAYS = 1.0  # never closer to now than this: a file stays open up to archive_max_age_s
MAX_DAYS = 36_500.0  # a century: anything beyond overflows a datetime


@dataclass
class Pruned:
    files: int = 0
    pages: int = 0
    missing: int = 0  # files already gone (a crash mid-prune, a manual delete)
    failed: int = 0  # files that could not be deleted: kept, with their rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help=f"delete files whose pages are all older than DAYS (>= {MIN_DAYS:g}; "
        "default: the archive_retention_days setting)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the files, delete nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def expired_files(engine: Engine, cutoff: datetime) -> list[tuple[str, int]]:
    """(file, pages) of every indexed file whose newest page was fetched before ``cutoff``."""
    t = ArchivePageRow
    query = (
        select(t.file, func.count())
        .group_by(t.file)
        .having(func.max(t.fetched_at) < cutoff)
        .order_by(t.file)
    )
    with engine.connect() as conn:
        return [(file, int(n)) for file, n in conn.execute(query)]


def delete_file(file: str) -> bool:
    """Delete one WARC file; False when it was already gone."""
    if is_url(file):
        fs, path = _filesystem(file)
        if not fs.exists(path):
            return False
        fs.rm(path)
        return True
    path = _local(file)
    if not path.exists():
        return False
    path.unlink()
    return True


def prune(
    engine: Engine, cutoff: datetime, dry_run: bool = False, say: Callable[[str], None] = print
) -> Pruned:
    """Delete (or with ``dry_run`` only name) every expired file and its index rows."""
    result = Pruned()
    for file, pages in expired_files(engine, cutoff):
        if dry_run:
            say(f"{file}: {pages} pages")
        else:
            try:
                result.missing += not delete_file(file)
            except (OSError, ArchiveError) as exc:
                result.failed += 1
                print(f"{file}: not deleted ({exc}); its index rows are kept")
                continue
            with engine.begin() as conn:
                conn.execute(delete(ArchivePageRow).where(ArchivePageRow.file == file))
        result.files += 1
        result.pages += pages
    return result


def run(args: argparse.Namespace, settings: Settings) -> int:
    days = args.older_than if args.older_than is not None else settings.archive_retention_days
    if not days:
        raise SettingsError(
            "no retention: pass --older-than DAYS or set WIREDESK_ARCHIVE_RETENTION_DAYS"
        )
    if not MIN_DAYS <= days <= MAX_DAYS:  # NaN fails both comparisons
        raise SettingsError(
            f"--older-than must be from {MIN_DAYS:g} to {MAX_DAYS:g} days (got {days:g})"
        )
    cutoff = datetime.now(UTC) - timedelta(days=days)
    engine = db.make_engine(settings.database_url)
    try:
        quiet = args.json or not args.dry_run
        result = prune(engine, cutoff, args.dry_run, say=(lambda _: None) if quiet else print)
    finally:
        engine.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    if args.json:
        print(json.dumps({"cutoff": cutoff.isoformat(), "dry_run": args.dry_run, **vars(result)}))
    else:
        print(
            f"{verb} {result.files} WARC files holding {result.pages} pages fetched before "
            f"{cutoff:%Y-%m-%d %H:%M} UTC ({result.missing} already gone, "
            f"{result.failed} not deletable)"
        )
    return 1 if result.failed else 0
