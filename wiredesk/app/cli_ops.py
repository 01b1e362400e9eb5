"""Subcommands of operations: replay, dead letters, and the read side (stories, search,
feeds). Implementations live in ``wiredesk.app.ops``."""

from __future__ import annotations

import argparse
from typing import Any

REPLAY_EPILOG = """\
TIME is 'earliest', an age like 30m, 6h or 2d (before now), or ISO 8601 such as
2026-11-20 or 2026-11-20T08:00:00Z (UTC unless an offset is given).

The replay uses a fresh consumer group (<stage>.replay.<UTC time>) and its own partition
assignment, so live groups are not disturbed. It stops at --to, or at the end offsets
taken when it started. The sink's upserts make replaying already-written records a no-op.
Examples:
  wiredesk replay --stage sink --from earliest            # rewrite nothing, verify all
  wiredesk replay --stage sink --from 2026-11-20 --to 2026-11-21   # restore one day
  wiredesk replay --stage extract --from 7d               # re-extract a week of pages
  wiredesk replay --stage extract --from 90d --source archive   # ... from the WARC archive

Replaying extract over a range older than what news.raw still holds reads the older
pages from the raw WARC archive (--source auto, the default).
"""


def _ops() -> Any:
    from wiredesk.app.ops import commands

    return commands


def add_commands(sub: Any, evals: Any) -> None:
    """Register this domain's subcommands on `sub` and its evaluations on `evals`.

    Each parser sets `handler=fn(args, settings) -> exit code`.
    """
    del evals
    from wiredesk.app.services import SERVICES, stop_on_signals

    stages = tuple(stage for stage, _ in SERVICES.values())

    replay = sub.add_parser(
        "replay",
        help="re-run one stage over a time range of its input topic (backfill, repair)",
        epilog=REPLAY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument(
        "--stage",
        required=True,
        choices=stages + tuple(SERVICES),
        help="the stage (or its service name) to re-run",
    )
    replay.add_argument(
        "--from", dest="start", required=True, metavar="TIME", help="first message time to replay"
    )
    replay.add_argument(
        "--to",
        dest="end",
        metavar="TIME",
        help="stop before messages at/after this time (default: the end)",
    )
    replay.add_argument("--group", help="consumer group to use (resume an interrupted replay)")
    replay.add_argument(
        "--source",
        choices=("auto", "topic", "archive"),
        default="auto",
        help="extract: where the pages come from. auto (default): once news.raw has lost "
        "pages (retention), the part of the range before the oldest one it holds comes from "
        "the raw WARC archive, the rest from the topic; topic: news.raw only; archive: the "
        "archive only (by fetch time)",
    )
    replay.set_defaults(handler=lambda a, s: _ops().run_replay(a, s, stop_on_signals()))

    dlq = sub.add_parser("dlq", help="inspect the dead-letter topic and re-send its records")
    actions = dlq.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="dead letters by stage and reason, with examples")
    resend = actions.add_parser(
        "resend",
        help="re-publish dead letters' original records to their source topics "
        "(each letter at most once: resent letters are remembered in the database)",
    )
    for parser in (listing, resend):
        parser.add_argument("--stage", help="only letters from this stage")
        parser.add_argument("--reason", help="only letters with this reason")
    resend.add_argument("--dry-run", action="store_true", help="show what would be re-sent")
    listing.set_defaults(handler=lambda a, s: _ops().dlq_list(a, s))
    resend.set_defaults(handler=lambda a, s: _ops().dlq_resend(a, s))

    stories = sub.add_parser("stories", help="the latest stories (articles grouped by event)")
    stories.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    stories.add_argument("--story", metavar="STORY_ID", help="list the articles of one story")
    stories.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stories.set_defaults(handler=lambda a, s: _ops().stories(a, s))

    search = sub.add_parser(
        "search",
        help="full-text search over titles and texts (PostgreSQL: web-search syntax with "
        '"phrases", or, -word; SQLite: every word must appear)',
    )
    search.add_argument("query", nargs="+", help="words to look for")
    search.add_argument("--limit", type=int, default=20, help="how many hits (default 20)")
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    search.set_defaults(handler=lambda a, s: _ops().search(a, s))
