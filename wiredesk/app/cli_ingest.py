"""Subcommands of ingest: the feed registry, WARC backfill, extraction evaluation.

wiredesk feeds add URL [--interval S] [--tag T ...] [--disabled]
wiredesk feeds remove|enable|disable URL
wiredesk feeds import FILE        (OPML, .toml or a list of URLs)
wiredesk feeds export [FILE]      (OPML; stdout without FILE)
wiredesk feeds list [--json]      (registry and health)
wiredesk backfill warc FILE...    (WARC -> news.raw, with a progress bar)
wiredesk eval extraction FILE [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wiredesk.settings import Settings


def _feeds_health(args: Any, settings: Settings) -> int:
    from wiredesk.app.ops.feeds_view import show_feeds

    return show_feeds(settings)


def add_commands(sub: Any, evals: Any) -> None:
    """Register this domain's subcommands on `sub` and its evaluations on `evals`."""
    feeds = sub.add_parser(
        "feeds",
        help="feed health (default), and the registry: add, remove, enable, disable, "
        "import/export OPML, list",
        description="Feeds live in the database (table feeds); the poller reads them from "
        "there. Feeds named in the settings (feeds, feeds_file) are added at poller start.",
    )
    # `wiredesk feeds` alone prints the health table (wiredesk.app.ops.feeds_view).
    feeds.set_defaults(handler=_feeds_health)
    actions = feeds.add_subparsers(dest="feeds_command", metavar="ACTION", required=False)
    health = actions.add_parser(
        "health",
        help="(default) status, last success, failures, last error; exit 1 if any feed is failing",
    )
    health.set_defaults(handler=_feeds_health)
    add = actions.add_parser("add", help="add or update a feed")
    add.add_argument("url")
    add.add_argument("--interval", type=int, metavar="S", help="fixed poll interval (s)")
    add.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    add.add_argument("--title")
    add.add_argument("--disabled", action="store_true", help="registered but not polled")
    add.set_defaults(handler=_feeds_add)
    for name, text in (
        ("remove", "delete a feed from the registry"),
        ("enable", "poll this feed"),
        ("disable", "stop polling this feed (keeps its state)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("url")
        action.set_defaults(handler=_feeds_change, feeds_action=name)
    imp = actions.add_parser("import", help="add the feeds of an OPML, .toml or URL-list file")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=_feeds_import)
    exp = actions.add_parser("export", help="write the registry as OPML 2.0")
    exp.add_argument("file", type=Path, nargs="?", help="default: standard output")
    exp.set_defaults(handler=_feeds_export)
    lst = actions.add_parser("list", help="every feed with its schedule and health")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(handler=_feeds_list)

    backfill = sub.add_parser("backfill", help="load archived pages into the pipeline")
    kinds = backfill.add_subparsers(dest="backfill_kind", metavar="KIND", required=True)
    warc = kinds.add_parser(
        "warc",
        help="publish the HTML responses of WARC files (Common Crawl News format) to news.raw",
        description="With bus=memory the rest of the pipeline (extract, enrich, sink) runs "
        "in this process too; with bus=kafka the extract workers pick the pages up.",
    )
    warc.add_argument("files", type=Path, nargs="+", metavar="FILE", help=".warc or .warc.gz")
    warc.add_argument("--no-progress", action="store_true", help="no progress bar")
    warc.set_defaults(handler=_backfill_warc)

    from ingest import archive_prune, archive_reindex

    archive = sub.add_parser("archive", help="the raw WARC archive of fetched pages")
    archive_actions = archive.add_subparsers(dest="archive_action", metavar="ACTION", required=True)
    reindex = archive_actions.add_parser(
        "reindex", help="rebuild the archive index (archive_pages) from the WARC files"
    )
    archive_reindex.add_arguments(reindex)
    reindex.set_defaults(handler=archive_reindex.run)
    prune = archive_actions.add_parser(
        "prune",
        help="delete WARC files whose pages are all older than the retention",
        description=archive_prune.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    archive_prune.add_arguments(prune)
    prune.set_defaults(handler=archive_prune.run)

    extraction = evals.add_parser(
        "extraction",
        help="text extraction quality on JSONL {id,url,html,gold_text} (token P/R/F1) "
        "or {id,url,html,gold_with,gold_without} (snippet P/R/F1/accuracy)",
    )
    extraction.add_argument("file", type=Path, help="JSONL, plain or gzip")
    extraction.add_argument("--json", action="store_true", help="print one JSON object")
    extraction.add_argument("--limit", type=int, help="only the first N pages")
    extraction.add_argument(
        "--ngram", type=int, default=1, help="1 = bag of tokens (default), 4 = AEB shingles"
    )
    extraction.set_defaults(handler=_eval_extraction)


# -- feeds --------------------------------------------------------------------------------
def _engine(settings: Settings) -> Any:
    from wiredesk import db

    if settings.database_url.startswith("sqlite"):
        db.upgrade(settings.database_url)  # a fresh SQLite file just works
    return db.make_engine(settings.database_url)


def _feeds_add(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import registry

    spec = registry.FeedSpec(
        url=args.url,
        interval_s=args.interval,
        enabled=not args.disabled,
        tags=tuple(args.tag),
        title=args.title,
    )
    registry.upsert(_engine(settings), [spec], "cli")
    print(f"added {spec.url}")
    return 0


def _feeds_change(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import registry

    engine = _engine(settings)
    if args.feeds_action == "remove":
        found = registry.remove(engine, args.url)
    else:
        found = registry.set_enabled(engine, args.url, args.feeds_action == "enable")
    if not found:
        print(f"wiredesk: no feed {args.url} in the registry", file=sys.stderr)
        return 1
    print(f"{args.feeds_action}d {args.url}")
    return 0


def _feeds_import(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import registry

    skipped: list[tuple[str, str]] = []
    try:
        specs = registry.read_feeds_file(args.file, skipped)
    except (OSError, registry.RegistryError) as exc:
        print(f"wiredesk: cannot import {args.file}: {exc}", file=sys.stderr)
        return 2
    registry.upsert(_engine(settings), specs, "opml" if args.file.suffix == ".opml" else "file")
    print(f"imported {len(specs)} feeds from {args.file}, skipped {len(skipped)}")
    for url, reason in skipped:
        print(f"wiredesk: skipped {url}: {reason}", file=sys.stderr)
    return 0


def _feeds_export(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import registry

    data = registry.write_opml(registry.specs_of(registry.all_feeds(_engine(settings))))
    if args.file is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        args.file.write_bytes(data)
        print(f"wrote {args.file}")
    return 0


def _feeds_list(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from ingest import registry

    rows = registry.all_feeds(_engine(settings))
    if args.json:
        for r in rows:
            print(json.dumps({k: _plain(v) for k, v in r._mapping.items()}))
        return 0
    table = Table(title=f"{len(rows)} feeds")
    for column in ("url", "on", "interval", "tags", "next poll", "last ok", "fails", "error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        interval = r.interval_s or (round(r.current_interval_s) if r.current_interval_s else None)
        table.add_row(
            r.url,
            "yes" if r.enabled else "no",
            f"{interval}s{'' if r.interval_s else ' (adaptive)'}" if interval else "default",
            ",".join(r.tags or []),
            _when(r.next_poll_at),
            _when(r.last_success_at),
            str(r.consecutive_failures or 0),
            (r.last_error or "")[:60],
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    return 0


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


# -- backfill -----------------------------------------------------------------------------
def _backfill_warc(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from ingest.backfill import backfill
    from wiredesk.app import commands
    from wiredesk.topics import ALL_TOPICS

    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(f"wiredesk: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    bus = commands._bus(settings)
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    total = sum(p.stat().st_size for p in args.files)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        disable=args.no_progress,
        transient=False,
    )
    with progress:
        task = progress.add_task(f"backfill {len(args.files)} WARC file(s)", total=total)
        counts = backfill(
            args.files,
            bus,
            settings.fetch_max_bytes,
            on_progress=lambda done: progress.update(task, completed=done),
        )
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no records")
    if settings.bus == "memory":
        _drain_in_process(settings, bus)
    bus.close()
    return 0


def _drain_in_process(settings: Settings, bus: Any) -> None:
    from wiredesk import db as database
    from wiredesk.app import commands
    from wiredesk.app.topology import build_pipeline
    from wiredesk.runner import StageRunner, drain

    database.upgrade(settings.database_url)
    engine = database.make_engine(settings.database_url)
    pipeline = build_pipeline(settings, engine)
    try:
        options = commands.runner_options(settings)
        runners = [StageRunner(s, bus, options=options) for s in pipeline.stages]
        drain(runners)
        commands.print_summary(commands._console(), engine, {"links": 0, "dead_letters": 0})
    finally:
        pipeline.close()
        engine.dispose()


# -- eval ---------------------------------------------------------------------------------
def _eval_extraction(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.eval_extraction import run

    return run(args, settings)
