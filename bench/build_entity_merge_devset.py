"""Build the entity-merge dev set: coreferent name pairs and hard negatives, as JSONL.

Generated at run time (nothing from ECB+ is committed) from:

* ECB+ dev XML (``../shared/data/ecbplus_dev_xml.tar.gz``): the cross-document entity
  coreference chains (person, organisation, place markables). A mention counts as a name
  when it has a capitalised word that the corpus never writes in lower case (so "Driver"
  or "It's" at a sentence start is not one); leading "the"/"at"/..., possessives and
  tokenisation spaces are undone. Positives: two different spellings of one chain in two
  different documents that are name variants of each other (they share a word, or one is
  the acronym of the other); chains that relate a nickname or description ("The Tiger",
  "Drake"/"Bulldogs") are not spelling variants and are left out (counted). Negatives:
  two names of different chains with the same label that share a word but neither
  contains the other (Lindsay Lohan / Dina Lohan); places and organisations only from
  different topics. Each mention carries its document's other names as
  context, as the enricher sees them.
* ``bench/data/entity_merge_names.toml`` (hand-written): transliteration variants of
  real names (every pair in a group) and hard negatives (different entities with similar
  names), without context; and, as further negatives, every pair of spellings of two
  different listed entities that share a word or are alike (rapidfuzz ratio >= 60:
  Sergei Lavrov / Sergei Shoigu, Kharkiv / Kharkov's neighbours).

Run: ``.venv/bin/python bench/build_entity_merge_devset.py OUT.jsonl``, then
``wiredesk eval entity-merge OUT.jsonl``. One line per pair:
``{"a": {"name", "label", "context": [[name, label], ...]}, "b": {...}, "same": bool,
"source": "ecbplus" | "variants"}``; an ECB+ side also has ``"doc"``, its document's id
in ``ecbplus_dev.jsonl.gz`` (for ``--stories``: the story map over the deployed story
model's clusters; the gold topics are not written).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tarfile
import tomllib
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from rapidfuzz import fuzz

HERE = Path(__file__).resolve().parent
ECB = HERE.parents[1] / "shared" / "data" / "ecbplus_dev_xml.tar.gz"
NAMES = HERE / "data" / "entity_merge_names.toml"
LABEL = {
    "HUMAN_PART_PER": "PER",
    "HUMAN_PART_ORG": "ORG",
    "HUMAN_PART_GPE": "LOC",
    "LOC_GEO": "LOC",
    "LOC_FAC": "LOC",
    "LOC_OTHER": "LOC",
}
_LEAD = re.compile(r"^(?:(?:the|a|an|at|in|on|of|from|to|near|by)\s+)+", re.I)
_SMALL = {"of", "the", "and", "for", "de", "&", "al", "bin", "van", "von"}
MAX_PAIRS_PER_CHAIN = 12
SIMILAR_RATIO = 60  # names of two different listed entities this alike are hard negatives

Mention = tuple[str, str, str]  # doc, label, name


def _detok(text: str) -> str:
    text = re.sub(r"\s+(['’]s)\b", "", text)
    text = re.sub(r"\s*([-.])\s*(?=\w)", r"\1", text)
    return re.sub(r"\s+([,.])", r"\1", text).strip(" ,.'\"")


def read_ecb(path: Path) -> tuple[dict[str, list[Mention]], dict[str, list[tuple[str, str]]]]:
    """Name mentions per coreference chain, and the names of each document (its context)."""
    raw: list[tuple[str, str, str, str]] = []  # chain, doc, label, surface
    lower: set[str] = set()
    with tarfile.open(path) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.name.endswith(".xml"):
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            root = ET.parse(fh).getroot()
            doc = Path(member.name).name
            tokens = {t.get("t_id"): t.text or "" for t in root.iter("token")}
            lower.update(t for t in tokens.values() if t.islower())
            marks = {}
            for m in root.find("Markables") or []:
                ids = [a.get("t_id") for a in m.findall("token_anchor")]
                marks[m.get("m_id")] = (m.tag, " ".join(tokens[i] for i in ids))
            for rel in root.find("Relations") or []:
                if rel.tag != "CROSS_DOC_COREF":
                    continue
                for src in rel.findall("source"):
                    tag, text = marks[src.get("m_id")]
                    if tag in LABEL:
                        raw.append((rel.get("note") or "", doc, LABEL[tag], text))
    chains: dict[str, list[Mention]] = defaultdict(list)
    context: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for chain, doc, label, text in raw:
        name = _name(text, lower)
        if name:
            chains[chain].append((doc, label, name))
            context[doc].append((name, label))
    return chains, context


def _name(text: str, lower: set[str]) -> str | None:
    text = _detok(_LEAD.sub("", text.strip()))
    words = text.split()
    if not words or len(words) > 5 or "," in text or not words[0][:1].isupper():
        return None
    content = [w for w in words if w.lower() not in _SMALL]
    if not all(w[:1].isupper() for w in content):
        return None
    return text if any(w.lower() not in lower for w in content) else None


def _words(name: str) -> set[str]:
    return {w.lower().strip(".") for w in re.split(r"[\s-]+", name)} - _SMALL


def _acronym(a: str, b: str) -> bool:
    initials = "".join(w[0] for w in re.split(r"[\s-]+", b) if w.lower() not in _SMALL)
    return len(a) >= 2 and a.replace(".", "").upper() == a.replace(".", "") == initials.upper()


def variants(a: str, b: str) -> bool:
    return bool(_words(a) & _words(b)) or _acronym(a, b) or _acronym(b, a)


def _item(name: str, label: str, doc: str | None, context: dict) -> dict:
    ctx = [[n, lab] for n, lab in context.get(doc, []) if n != name] if doc else []
    item = {"name": name, "label": label, "context": sorted(map(list, {tuple(c) for c in ctx}))}
    if doc:  # the document's id in ecbplus_dev.jsonl.gz, for the story-map eval
        item["doc"] = Path(doc).stem
    return item


def ecb_pairs(path: Path) -> tuple[list[dict], dict[str, int]]:
    chains, context = read_ecb(path)
    out: list[dict] = []
    skipped = {"not_name_variants": 0}
    for chain in sorted(chains):
        seen: set[tuple[str, str]] = set()
        pairs = []
        for (da, la, a), (db, lb, b) in itertools.combinations(sorted(chains[chain]), 2):
            key = tuple(sorted((a.lower(), b.lower())))
            if da == db or a.lower() == b.lower() or key in seen:
                continue
            seen.add(key)
            if not variants(a, b):
                skipped["not_name_variants"] += 1
                continue
            pairs.append(
                {"a": _item(a, la, da, context), "b": _item(b, lb, db, context), "same": True}
            )
        out.extend(pairs[:MAX_PAIRS_PER_CHAIN])
    names = sorted(
        {(name, lab, doc, chain) for chain, ms in chains.items() for doc, lab, name in ms}
    )
    negatives: set[tuple[str, str]] = set()
    for (a, la, da, ca), (b, lb, db, cb) in itertools.combinations(names, 2):
        wa, wb = _words(a), _words(b)
        if ca == cb or la != lb or not (wa & wb) or wa <= wb or wb <= wa:
            continue
        # people in any two documents; places and organisations only across topics (one
        # topic's two events can name one real place in two chains)
        if la != "PER" and da.split("_")[0] == db.split("_")[0]:
            continue
        if len(wa) < 2 or len(wb) < 2 or tuple(sorted((a, b))) in negatives:
            continue
        negatives.add(tuple(sorted((a, b))))
        out.append({"a": _item(a, la, da, context), "b": _item(b, lb, db, context), "same": False})
    for row in out:
        row["source"] = "ecbplus"
    return out, skipped


def listed_pairs(path: Path) -> list[dict]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    out = []
    for group in data.get("variants", []):
        for a, b in itertools.combinations(group["names"], 2):
            out.append((a, b, group["label"], True))
    for block in data.get("negatives", []):
        for a, b, label in block["pairs"]:
            out.append((a, b, label, False))
    groups = data.get("variants", [])
    for ga, gb in itertools.combinations(groups, 2):
        if ga["label"] != gb["label"]:
            continue
        for a, b in itertools.product(ga["names"], gb["names"]):
            wa, wb = _words(a), _words(b)
            if wa <= wb or wb <= wa:  # Zelensky / Volodymyr Zelensky: maybe one entity
                continue
            if wa & wb or fuzz.ratio(a.lower(), b.lower()) >= SIMILAR_RATIO:
                out.append((a, b, ga["label"], False))
    return [
        {
            "a": _item(a, label, None, {}),
            "b": _item(b, label, None, {}),
            "same": same,
            "source": "variants",
        }
        for a, b, label, same in out
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--ecb", type=Path, default=ECB)
    args = parser.parse_args()
    if not args.ecb.exists():
        print(f"no ECB+ data at {args.ecb}", file=sys.stderr)
        return 2
    ecb, skipped = ecb_pairs(args.ecb)
    listed = listed_pairs(NAMES)
    rows = ecb + listed
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    for source in ("ecbplus", "variants"):
        pos = sum(r["same"] for r in rows if r["source"] == source)
        neg = sum(not r["same"] for r in rows if r["source"] == source)
        print(f"{source:<10} {pos} coreferent pairs, {neg} hard negatives")
    print(f"left out (ECB+ coreferent but not name variants): {skipped['not_name_variants']}")
    print(f"wrote {len(rows)} pairs to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
