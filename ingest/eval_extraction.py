"""``wiredesk eval extraction FILE``: the command around :mod:`ingest.evaluate`.

Exit codes: 0 scored (records that could not be scored are counted in the output), 2 the
file is missing, unreadable, not JSONL, or holds no scorable page.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any


def run(args: argparse.Namespace, settings: Any) -> int:
    from rich.progress import Progress

    from ingest.evaluate import ExtractionInputError, evaluate, read_jsonl
    from ingest.extract import ExtractArticles
    from ingest.sandbox import Sandbox

    def refuse(reason: object) -> int:
        text = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
        if not text.startswith(str(args.file)):
            text = f"{args.file}: {text}"
        print(f"wiredesk eval extraction: {text}", file=sys.stderr)
        return 2

    if not args.file.is_file():
        return refuse("no such file")
    try:
        records = list(itertools.islice(read_jsonl(args.file), args.limit))
    except (OSError, EOFError, ValueError) as exc:  # not gzip/UTF-8/JSON
        return refuse(exc)
    sandbox = Sandbox(
        workers=1, timeout_s=settings.extract_timeout_s, memory_mb=settings.extract_memory_mb
    )
    extractor = ExtractArticles(sandbox)

    def extract(html: str, url: str) -> str | None:
        doc = extractor.extract(html, url)
        return doc["text"] if doc else None

    with Progress(disable=args.json, transient=True) as progress:
        task = progress.add_task("extracting", total=len(records))
        try:
            result = evaluate(records, extract, args.ngram, lambda: progress.advance(task))
        except ExtractionInputError as exc:
            return refuse(exc)
        finally:
            sandbox.close()
    result["file"] = str(args.file)
    if args.json:
        print(json.dumps(result))
    else:
        print(summary(result))
    return 0


def summary(result: dict[str, Any]) -> str:
    unscored = sum(result["unscored"].values())
    lines = [
        f"{result['pages']} pages ({result['empty']} empty, {result['failed']} failed, "
        f"{unscored} unscorable{_reasons(result['unscored'])})"
    ]
    if "text_pages" in result:
        ngram = result["ngram"]
        lines.append(
            f"gold text, {result['text_pages']} pages, "
            f"{'tokens' if ngram == 1 else f'{ngram}-grams'}: precision "
            f"{result['precision']:.3f}  recall {result['recall']:.3f}  F1 {result['f1']:.3f}"
        )
    if "snippets" in result:
        s = result["snippets"]
        lines.append(
            f"gold snippets, {s['pages']} pages (tp {s['tp']} fn {s['fn']} fp {s['fp']} "
            f"tn {s['tn']}): precision {s['precision']:.3f}  recall {s['recall']:.3f}  "
            f"F1 {s['f1']:.3f}  accuracy {s['accuracy']:.3f}"
        )
    return "\n".join(lines)


def _reasons(unscored: dict[str, int]) -> str:
    return f": {', '.join(f'{n} {why}' for why, n in unscored.items())}" if unscored else ""
