"""Handlers of the operations subcommands: ``fn(args, settings) -> exit code``."""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any

import structlog
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sink import search as queries
from wiredesk import db
from wiredesk.app.ops import dlq, views
from wiredesk.app.ops.replay import (
    ReplayResult,
    bounded_consumer,
    parse_time,
    replay,
    replay_group,
)
from wiredesk.app.ops.replay_archive import (
    archive_consumer,
    check_archive_stage,
    oldest_message,
    replay_plan,
)
from wiredesk.app.ops.replay_consumers import TopicMissing
from wiredesk.app.services import SERVICES
from wiredesk.bus import Bus
from wiredesk.settings import Settings, SettingsError
from wiredesk.stage import Stage
from wiredesk.topics import RAW

log = structlog.get_logger("wiredesk")

# service name -> stage name, so `--stage sink` works as well as `--stage write_articles`
ALIASES = {command: stage for command, (stage, _) in SERVICES.items()}
# exit code of a read command that found nothing (search, stories, dlq list), the same
# everywhere
NO_RESULT = 3


def run_replay(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> int:
    from wiredesk.app.commands import _bus
    from wiredesk.app.topology import build_pipeline

    if settings.bus == "memory":
        raise SettingsError(
            "replay reads topics kept by the sql bus (`wiredesk run`) or Kafka: set "
            "WIREDESK_BUS=sql or WIREDESK_BUS=kafka (the in-process bus keeps nothing)"
        )
    try:
        start, end = parse_time(args.start), parse_time(args.end) if args.end else None
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    if start and end and end <= start:
        raise SettingsError(f"--to ({end:%Y-%m-%d %H:%M}) must be after --from")
    stage_name = ALIASES.get(args.stage, args.stage)
    source = getattr(args, "source", "topic")
    if source == "archive":
        check_archive_stage(stage_name)
    engine = db.make_engine(settings.database_url)
    bus = _bus(settings)
    pipeline = build_pipeline(settings, engine)
    stage = pipeline.stage(stage_name)
    group = args.group or replay_group(stage_name)
    interrupted = False
    try:
        plan = replay_plan(source, stage_name, start, end, lambda: oldest_message(bus, RAW.name))
        for where, part_start, part_end in plan:
            try:
                if where == "archive":
                    consumer = archive_consumer(stage_name, engine, part_start, part_end)
                else:
                    consumer = bounded_consumer(bus, stage, group, part_start, part_end)
            except TopicMissing as exc:
                log.error("replay_failed", error=str(exc))
                return 1
            result = _replay_part(stage, bus, consumer, group, where, settings, stop)
            if result.interrupted:
                interrupted = True
                break
    finally:
        bus.close()
        pipeline.close()
        engine.dispose()
    return 130 if interrupted else 0


def _replay_part(
    stage: Stage,
    bus: Bus,
    consumer: Any,
    group: str,
    where: str,
    settings: Settings,
    stop: threading.Event,
) -> ReplayResult:
    """One replay with its progress bar and its summary line."""
    from wiredesk.app.commands import runner_options

    out = views.console()
    source = "the raw archive" if where == "archive" else stage.input.name
    log.info(
        "replay_started",
        stage=stage.name,
        group=group,
        source=where,
        topic=stage.input.name,
        records=consumer.total,
    )
    columns = (
        TextColumn(f"[bold]{stage.name}[/] {source}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out, disable=not out.is_terminal) as progress:
        task = progress.add_task("replay", total=consumer.total, rate=0.0)

        def advance(done: int, total: int) -> None:
            elapsed = progress.tasks[task].elapsed or 0
            progress.update(task, completed=done, rate=done / elapsed if elapsed else 0.0)

        result = replay(
            stage,
            bus,
            consumer,
            group,
            options=runner_options(settings, stage.name),
            stop=stop,
            on_progress=advance,
        )
    log.info(
        "replay_finished",
        stage=stage.name,
        group=group,
        source=where,
        replayed=result.replayed,
        total=result.total,
        seconds=round(result.seconds, 2),
        per_second=round(result.rate, 1),
        interrupted=result.interrupted,
    )
    out.print(
        f"replayed {result.replayed} of {result.total} records of {source} "
        f"through {stage.name} in {result.seconds:.1f} s ({result.rate:.0f}/s); "
        f"group {group}"
    )
    if unreadable := getattr(consumer, "unreadable", 0):
        out.print(f"{unreadable} archived pages could not be read (archive_read_failed in the log)")
    return result


def _durable_bus(settings: Settings) -> Bus:
    from wiredesk.app.commands import _bus

    if settings.bus == "memory":
        raise SettingsError(
            "dead letters are kept by the sql bus (`wiredesk run`) or Kafka: set "
            "WIREDESK_BUS=sql or WIREDESK_BUS=kafka (the in-process bus keeps nothing)"
        )
    return _bus(settings)


def _letters(args: argparse.Namespace, bus: Bus) -> list[dlq.Letter]:
    return [item for item in dlq.read_letters(bus) if dlq.matches(item, args.stage, args.reason)]


def dlq_list(args: argparse.Namespace, settings: Settings) -> int:
    bus = _durable_bus(settings)
    engine = db.make_engine(settings.database_url)
    try:
        letters = _letters(args, bus)
        resent = dlq.resent_keys(engine, dlq.topic_label(bus))
    finally:
        bus.close()
        engine.dispose()
    views.console().print(views.dlq_table(dlq.summarise(letters, resent)))
    return 0 if letters else NO_RESULT


def dlq_resend(args: argparse.Namespace, settings: Settings) -> int:
    bus = _durable_bus(settings)
    engine = db.make_engine(settings.database_url)
    out = views.console()
    try:
        letters = _letters(args, bus)
        if args.dry_run:
            out.print(views.dlq_table(dlq.summarise(letters, set())))
            out.print(f"dry run: would consider {len(letters)} dead letters")
            return 0
        sent, skipped = dlq.resend(bus, engine, letters)
    finally:
        bus.close()
        engine.dispose()
    log.info(
        "dlq_resent", resent=sent, already_resent=skipped, stage=args.stage, reason=args.reason
    )
    out.print(
        f"re-published {sent} dead letters to their source topics; "
        f"{skipped} had been re-published before and were skipped"
    )
    return 0


def stories(args: argparse.Namespace, settings: Settings) -> int:
    with views.open_database(settings) as conn:
        if args.story:
            rows = queries.story_articles(conn, args.story)
            table = views.story_table(args.story, rows)
        else:
            rows = queries.latest_stories(conn, args.limit)
            table = views.stories_table(rows)
    if args.json:
        print(json.dumps([dict(r._mapping) for r in rows], default=str, indent=1))
    else:
        views.console().print(table)
    return 0 if rows else NO_RESULT


def search(args: argparse.Namespace, settings: Settings) -> int:
    query = " ".join(args.query).strip()
    if not query:
        raise SettingsError("search needs a query, e.g. wiredesk search 'drone strike'")
    with views.open_database(settings) as conn:
        hits = queries.search(conn, query, args.limit)
    if args.json:
        print(json.dumps([h.__dict__ for h in hits], default=str, indent=1))
    else:
        views.console().print(views.hits_table(query, hits))
    return 0 if hits else NO_RESULT
