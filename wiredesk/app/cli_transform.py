"""Subcommands of transform: dedup/story/entity evaluation and the transform state."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

EVAL_EPILOG = """\
Exit codes: 0 done, 2 unreadable or malformed input file. The settings (dedup_threshold,
story_threshold, ner_model, ... see `wiredesk config`) apply, so a changed threshold can be
measured before it is deployed: WIREDESK_DEDUP_THRESHOLD=0.8 wiredesk eval dedup FILE.
"""


def add_commands(sub: Any, evals: Any) -> None:
    """Register this domain's subcommands on `sub` and its evaluations on `evals`."""
    from transform import eval_entities

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("file", type=Path, help="the labelled file")
    common.add_argument("--json", action="store_true", help="print one JSON object")

    dedup = evals.add_parser(
        "dedup",
        parents=[common],
        help="near-duplicate detection: pairwise P/R/F1 on JSONL "
        "{id,title,text,published,dup_group}",
        description="Feed every record, in published order, through the enrich stage on a "
        "fresh state database and compare its duplicate groups (an article with its "
        "canonical) with dup_group: pairwise precision, recall and F1. NER is off unless "
        "--ner (it does not change dedup verdicts).",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dedup.add_argument("--ner", action="store_true", help="also run entity tagging")
    dedup.set_defaults(handler=lambda a, s: _run(a, s, "dedup"))

    stories = evals.add_parser(
        "stories",
        parents=[common],
        help="story clustering: pairwise and B-cubed P/R/F1 on JSONL "
        "{id,title,text,published,story}",
        description="Feed every record, in published order, through the enrich stage "
        "(with entity tagging, as deployed) and compare story ids with the story labels.",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stories.set_defaults(handler=lambda a, s: _run(a, s, "stories"))

    from transform import eval_stories

    offline = evals.add_parser(
        "stories-offline",
        help="story model (transform.storysim) beside baselines: B-cubed/pairwise P/R/F1",
        description=eval_stories.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    eval_stories.add_arguments(offline)
    offline.set_defaults(handler=lambda a, s: eval_stories.run(a))

    entities = evals.add_parser(
        "entities",
        parents=[common],
        help="entity tagging: P/R/F1 per label and micro-F1 for PER, LOC, ORG on CoNLL-2003, "
        "ner_model vs the old en_core_web_sm in the same run",
        description="Tag each document of a CoNLL-2003 file (token POS chunk NER; "
        "-DOCSTART- lines; IOB1 or IOB2) with ner_model and with the baseline, and score "
        "exact span+type matches: per label, micro over PER/LOC/ORG, MISC apart; NER words/s. "
        "spaCy labels map PERSON->PER, ORG->ORG, GPE/LOC/FAC->LOC, NORP/EVENT/PRODUCT/"
        "WORK_OF_ART/LAW->MISC.",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    eval_entities.add_arguments(entities)
    entities.set_defaults(
        handler=lambda a, s: eval_entities.run(a, s, _progress if sys.stderr.isatty() else None)
    )

    from transform import eval_entity_merge

    merge = evals.add_parser(
        "entity-merge",
        help="entity merging: pairwise P/R/F1 on JSONL name pairs, beside the exact-key baseline",
        description=eval_entity_merge.__doc__,
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    eval_entity_merge.add_arguments(merge)
    merge.set_defaults(handler=lambda a, s: eval_entity_merge.run(a))

    state = sub.add_parser(
        "transform-state",
        help="inspect or prune the dedup/story state (rows, bytes per article)",
    )
    state.add_argument("action", choices=["stats", "prune"])
    state.set_defaults(handler=_state)


def _progress(items: Iterable[Any], total: int, what: str) -> Iterator[Any]:
    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True)
    yield from track(items, total=total, description=what, console=console, transient=True)


def _run(args: Any, settings: Any, what: str) -> int:
    from transform import evaluate
    from transform.conll import ConllError
    from transform.enrich import EnrichOptions

    options = EnrichOptions.from_settings(settings)
    progress = _progress if sys.stderr.isatty() and not args.json else evaluate._no_progress
    try:
        if what == "dedup":
            result = evaluate.eval_dedup(
                args.file, replace(options, ner_enabled=args.ner), progress
            )
        else:
            result = evaluate.eval_stories(args.file, options, progress)
    except (OSError, evaluate.EvalInputError, ConllError, KeyError, ValueError) as exc:
        print(f"wiredesk eval {what}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        _print_result(result)
    return 0


def _print_result(result: dict[str, Any]) -> None:
    from transform.nearcopy_eval import lines

    for key, value in result.items():
        if key in ("by_edit", "false_merges", "predicate"):
            print("\n".join(lines(key, value)))
        elif isinstance(value, dict) and "precision" in value:
            print(
                f"{key:<22} precision {value['precision']:.4f}  recall {value['recall']:.4f}"
                f"  f1 {value['f1']:.4f}"
            )
        elif key == "scores":
            for label, s in value.items():
                print(
                    f"{label:<22} precision {s['precision']:.4f}  recall {s['recall']:.4f}  "
                    f"f1 {s['f1']:.4f}  (gold {s['gold']}, predicted {s['predicted']})"
                )
        else:
            print(f"{key:<22} {value}")


def _state(args: Any, settings: Any) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from transform import state
    from transform.enrich import EnrichOptions
    from wiredesk import db

    engine = db.make_engine(settings.database_url)
    try:
        return _state_action(args.action, engine, settings, state, EnrichOptions)
    except (OperationalError, ProgrammingError) as exc:
        print(
            f"wiredesk transform-state: no transform state in the database ({exc.orig}); "
            "run `wiredesk db upgrade` first",
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()


def _state_action(action: str, engine: Any, settings: Any, state: Any, options: Any) -> int:
    if action == "prune":
        retention = options.from_settings(settings).retention
        for table, n in state.prune(engine, retention).items():
            print(f"{table:<22} {n} rows deleted")
    else:
        for key, value in state.stats(engine).items():
            print(f"{key:<28} {value}")
    return 0
