"""``wiredesk``: the command line. One subcommand per service, plus demo and operations.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration, 3 a read command
found nothing (search, stories, dlq list), 130 interrupted, 143 terminated before it began.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from wiredesk.app.services import (
    LONG_RUNNING,
    SERVICES,
    default_signals,
    service_help,
    stop_early_on_signals,
    stop_on_signals,
)
from wiredesk.settings import ENV_PREFIX, SettingsError, load_settings

log = structlog.get_logger("wiredesk")


EPILOG = f"""\
Every setting can come from a TOML file (--config or {ENV_PREFIX}CONFIG) or an
environment variable {ENV_PREFIX}<NAME>, e.g. {ENV_PREFIX}BUS=kafka,
{ENV_PREFIX}KAFKA_BOOTSTRAP=127.0.0.1:19092,
{ENV_PREFIX}DATABASE_URL=postgresql+psycopg://user:pw@127.0.0.1:15432/wiredesk.
`wiredesk config` prints the effective settings and every variable's name.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wiredesk",
        description="Streaming news ingest: feeds -> pages -> text -> dedup -> database.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help=f"TOML settings file ({ENV_PREFIX}CONFIG)")
    parser.add_argument(
        "--log-format",
        choices=["auto", "console", "json"],
        help=f"log renderer ({ENV_PREFIX}LOG_FORMAT; auto = json unless a TTY)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="full tracebacks instead of one-line errors (also: log level debug)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help=f"({ENV_PREFIX}LOG_LEVEL)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline in one process on the bundled demo news site "
        "(no servers needed) and print what was ingested",
    )
    demo.add_argument(
        "--db",
        default="wiredesk-demo.db",
        type=Path,
        help="SQLite file to (re)create (default: ./wiredesk-demo.db)",
    )
    demo.add_argument("--corpus", type=Path, help="corpus directory (default: bundled demo)")
    demo.set_defaults(handler=lambda a, s: commands().demo(s, a.db, a.corpus))

    local = sub.add_parser(
        "local",
        help="poll the configured feeds once and run every stage in one process until "
        "done (sql bus: dead letters and unfinished work are kept; database from the "
        "settings); `run` does the same continuously",
    )
    local.set_defaults(handler=lambda a, s: commands().local(s))

    run = sub.add_parser(
        "run",
        help="the whole pipeline as one long-running service on one machine, no broker "
        "(sql bus: state survives restarts; runs until SIGTERM)",
    )
    from wiredesk.app import run_service

    run_service.add_arguments(run)
    run.set_defaults(handler=lambda a, s: run_service.run(a, s, stop_on_signals()))

    poll = sub.add_parser(
        "poll",
        help="feed poller service: feeds -> news.links, forever",
        **_service_texts("poll"),
    )
    poll.add_argument("--once", action="store_true", help="poll the due feeds once and exit")
    poll.add_argument(
        "--force",
        action="store_true",
        help="poll every enabled feed now, not only the due ones (Retry-After still holds)",
    )
    poll.set_defaults(
        handler=lambda a, s: commands().poll_service(
            s, stop_on_signals(), once=a.once, force=a.force
        )
    )
    for command, (stage, text) in SERVICES.items():
        service = sub.add_parser(
            command,
            help=f"{text} (consumer group '{stage}', runs until SIGTERM)",
            **_service_texts(command),
        )
        service.set_defaults(
            handler=lambda a, s, st=stage: commands().stage_service(s, st, stop_on_signals())
        )

    topics = sub.add_parser("topics", help="create or list the Kafka topics")
    topics.add_argument("action", choices=["create", "list"])
    topics.set_defaults(handler=lambda a, s: commands().topics(s, a.action))

    db = sub.add_parser("db", help="database schema migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(handler=lambda a, s: commands().db(s, a.action))

    devserver = sub.add_parser(
        "devserver",
        help="serve a local news site (feeds + pages) for demos, tests, benchmarks",
        description="Serve the bundled demo news site (or --corpus) on 127.0.0.1 until Ctrl-C.",
    )
    from devserver.cli import add_arguments as devserver_arguments

    devserver_arguments(devserver)

    config = sub.add_parser("config", help="print the effective settings and their env variables")
    config.set_defaults(handler=lambda a, s: commands().show_config(s))

    evaluate = sub.add_parser(
        "eval", help="measure extraction, dedup, story and entity quality on labelled data"
    )
    evals = evaluate.add_subparsers(dest="eval_command", metavar="WHAT", required=True)

    # Each domain registers its own subcommands; handlers are fn(args, settings) -> exit code.
    from wiredesk.app import cli_ingest, cli_ops, cli_transform

    for module in (cli_ingest, cli_transform, cli_ops):
        module.add_commands(sub, evals)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    stop_early_on_signals()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in LONG_RUNNING | {"replay"} and default_signals():
        return 143  # terminated before the command began
    if args.config:
        os.environ[f"{ENV_PREFIX}CONFIG"] = args.config
    if args.command == "devserver":
        from devserver.cli import run as run_devserver

        return run_devserver(args)
    overrides = {}
    if args.log_format:
        overrides["log_format"] = args.log_format
    if args.log_level:
        overrides["log_level"] = args.log_level
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"wiredesk: {exc}", file=sys.stderr)
        return 2
    from wiredesk.logs import configure_logging

    level = settings.log_level
    if (
        args.command not in LONG_RUNNING | {"replay"}
        and "log_level" not in settings.model_fields_set
    ):
        level = "warning"  # interactive commands print tables: only problems go to the log
    configure_logging(settings.log_format, level)
    if args.command not in LONG_RUNNING and not (args.debug or settings.log_level == "debug"):
        # kafka-python's own connection chatter would bury the one-line error
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        return int(args.handler(args, settings))
    except KeyboardInterrupt:
        return 130
    except SettingsError as exc:
        print(f"wiredesk: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from wiredesk.app.failures import describe

        known = describe(exc, settings)
        if known is None or args.debug or settings.log_level == "debug":
            raise
        message, code = known
        print(f"wiredesk {args.command}: {message}", file=sys.stderr)
        return code


def _service_texts(command: str) -> dict[str, Any]:
    description, epilog = service_help(command)
    return {"description": description, "epilog": epilog}


def commands() -> Any:
    """The command implementations, imported late so `wiredesk --help` stays fast."""
    from wiredesk.app import commands as module

    return module


if __name__ == "__main__":
    raise SystemExit(main())
