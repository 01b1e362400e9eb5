"""``wiredesk eval entity-merge FILE``: pairwise precision/recall of entity merging.

FILE is JSONL, one name pair a line (``bench/build_entity_merge_devset.py`` builds the dev
set): ``{"a": {"name", "label", "context": [[name, label], ...]}, "b": {...}, "same":
bool, "source": str}``. A name's canonical id is decided as the enricher decides it: over
the name and its context (the other names of its article). A pair is predicted
coreferent when both names get the same id. Printed beside the baseline, in the same run:
the exact-key matcher (label + case- and accent-folded name), the transliteration rules
of the matcher before issue 12 (kh/ch/h -> h, w -> v, ...; label-prefixed ids), the
current rules with the alias file left out, and with the place gazetteer left out.

With ``--stories ECB_JSONL`` (``../shared/data/ecbplus_dev.jsonl.gz``), also the deployed
canonical ids after the story entity map (``transform/eval_story_map.py``): the documents
are clustered by the deployed story model, never by the file's gold topics.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transform.canonical import AliasTable, default_aliases, resolve
from transform.eval_stories import EvalInputError as StoriesInputError
from transform.eval_story_map import doc_stories, story_key
from transform.text import fold


class EvalInputError(ValueError):
    pass


@dataclass(frozen=True)
class _Mention:
    label: str
    surface: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="JSONL of name pairs (see --help)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--stories",
        type=Path,
        help="documents of the pairs' 'doc' ids (ECB+ JSONL): also score after the story map",
    )
    parser.add_argument(
        "--ner-model", default="wiredesk_news_ner", help="tagger for the story model's entities"
    )


def read_pairs(path: Path) -> list[dict[str, Any]]:
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                for side in ("a", "b"):
                    item = row[side]
                    if not isinstance(item["name"], str) or not isinstance(item["label"], str):
                        raise TypeError("name and label must be strings")
                    if not isinstance(item.get("doc", ""), str):
                        raise TypeError("doc must be a string")
                    for ctx in item.get("context", []):
                        if not (isinstance(ctx, list) and len(ctx) == 2):
                            raise TypeError("context items are [name, label]")
                if not isinstance(row["same"], bool):
                    raise TypeError("same must be true or false")
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise EvalInputError(f"{path}:{n}: not a name pair ({exc})") from exc
            pairs.append(row)
    if not pairs:
        raise EvalInputError(f"{path}: no pairs")
    return pairs


def merged_id(
    item: dict[str, Any], aliases: AliasTable, cities: dict[str, str] | None = None
) -> str:
    found = [_Mention(item["label"], item["name"])]
    found += [_Mention(str(label), str(name)) for name, label in item.get("context", [])]
    return resolve(found, aliases, cities)[0].canonical_id


def exact_key(item: dict[str, Any]) -> str:
    return f"{item['label'].lower()}:{' '.join(fold(item['name']).split())}"


# The transliteration rules of the matcher before issue 12 (label-prefixed ids, one name at
# a time), kept here only as the second baseline.
_PREVIOUS_RULES = tuple(
    # regex-audit: linear because the eval applies it to short names of its own dev set
    (re.compile(p), r)
    for p, r in (
        (r"(kh|ch|h)", "h"),
        (r"(iy|yy|ii|yi|ij|y|j)\b", "i"),
        (r"y", "i"),
        (r"w", "v"),
        (r"ph", "f"),
        (r"ck", "k"),
        (r"x", "ks"),
        (r"([a-z])\1+", r"\1"),
    )
)


def previous_key(item: dict[str, Any]) -> str:
    key = " ".join(re.sub(r"[\W_]+", " ", fold(item["name"])).split())
    for pattern, repl in _PREVIOUS_RULES:
        key = pattern.sub(repl, key)
    return f"{item['label'].lower()}:{key}"


def score(pairs: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> dict[str, float]:
    tp = fp = fn = 0
    for row in pairs:
        predicted = key(row["a"]) == key(row["b"])
        tp += predicted and row["same"]
        fp += predicted and not row["same"]
        fn += not predicted and row["same"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def evaluate(pairs: list[dict[str, Any]], stories: dict[str, str] | None = None) -> dict[str, Any]:
    no_aliases = AliasTable([])

    def canonical(item: dict[str, Any]) -> str:
        return merged_id(item, default_aliases())

    matchers: dict[str, Callable[[dict[str, Any]], str]] = {
        "baseline_exact_key": exact_key,
        "baseline_previous_rules": previous_key,
        "rules_without_aliases": lambda item: merged_id(item, no_aliases),
        "rules_without_places": lambda item: merged_id(item, default_aliases(), {}),
        "canonical": canonical,
    }
    result: dict[str, Any] = {
        "pairs": len(pairs),
        "coreferent": sum(r["same"] for r in pairs),
        "negatives": sum(not r["same"] for r in pairs),
    }
    if stories is not None:
        matchers["canonical_after_story_map"], counts = story_key(pairs, stories, canonical)
        docs = {i["doc"] for r in pairs for i in (r["a"], r["b"]) if "doc" in i}
        result["story_map"] = {
            **counts,
            "documents_with_pairs": len(docs),
            "documents_without_story": len(docs - set(stories)),
        }
    sources = sorted({str(r.get("source", "all")) for r in pairs})
    for name, key in matchers.items():
        result[name] = score(pairs, key)
        if len(sources) > 1:
            for source in sources:
                subset = [r for r in pairs if str(r.get("source", "all")) == source]
                result[f"{name}[{source}]"] = score(subset, key)
    return result


def run(args: argparse.Namespace) -> int:
    try:
        pairs = read_pairs(args.file)
        stories, ner = doc_stories(args.stories, args.ner_model) if args.stories else (None, "")
        result = evaluate(pairs, stories)
        if stories is not None:
            result["story_map"] |= {"documents": len(stories), "entities": ner}
    except (OSError, UnicodeDecodeError, EvalInputError, StoriesInputError) as exc:
        print(f"wiredesk eval entity-merge: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(
        f"pairs {result['pairs']}: {result['coreferent']} coreferent, "
        f"{result['negatives']} negatives"
    )
    if "story_map" in result:
        print("story map: " + ", ".join(f"{k} {v}" for k, v in result["story_map"].items()))
    for key, value in result.items():
        if isinstance(value, dict) and "precision" in value:
            print(
                f"{key:<36} precision {value['precision']:.4f}  recall {value['recall']:.4f}"
                f"  f1 {value['f1']:.4f}  (tp {value['tp']}, fp {value['fp']}, fn {value['fn']})"
            )
    return 0
