"""Build the transform dev sets from ../shared/data at run time (nothing is committed).

    .venv/bin/python bench/build_transform_devsets.py [--data ../shared/data] [--out build/devsets]

Writes:
  dedup_dev.jsonl    {id,title,text,published,dup_group[,edit]}: all 2,225 BBC articles,
                     invented wire copies of 400 of them (1-3 light copies each, edit
                     "light"), one heavily edited copy of 480 others (60 of each kind of
                     transform.heavycopy: cut, padded, lede, trim, reword, mixed, followup,
                     cutpad; edit = the kind), the 5 seeds with 2 copies each, and the 496 ECB+
                     documents (mostly same-event rewrites,
                     which are NOT copies). Real pairs (BBC-BBC, ECB+-ECB+) share a
                     dup_group when their raw-text word 5-grams say they are copies:
                     Jaccard >= 0.5 (the data README's "real wire or near copies"; BBC's 98
                     exact duplicates among them) or containment >= 0.8 (one is a cut
                     version of the other); invented copies share their original's.
  stories_dev.jsonl  {id,title,text,published,story}: the ECB+ documents (story = gold
                     event cluster; the two events of a topic are hard negatives), the 5
                     seeds (one story) and 2 wire copies of each seed.
BBC articles and ECB+ documents have no dates: they get synthetic, seeded ones (BBC spread
over 60 days, ECB+ all on one day, so the story time window cannot separate them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from transform.heavycopy import KINDS, heavy_copy
from transform.wirecopy import DevArticle, read_jsonl_gz, read_seeds, wire_copy

ROOT = Path(__file__).resolve().parents[1]
SEED = 4
HEAVY_PER_KIND = 60
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class Groups:
    """Union-find over ids: real copies found by exact overlap form one dup_group."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        while self.parent.get(x, x) != x:
            x = self.parent[x]
        return x

    def join(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        self.parent[rb] = ra


def is_copy(jaccard: float, containment: float, smaller: int) -> bool:
    """Real pairs: Jaccard >= 0.5 (the data README's "real wire or near copies"), or one
    text a cut version of the other (containment >= 0.8 of a text of >= 20 shingles)."""
    return jaccard >= 0.5 or (containment >= 0.8 and smaller >= 20)


def raw_shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 5]) for i in range(len(words) - 4)}


def bbc(data: Path, rng: random.Random) -> list[DevArticle]:
    rows = list(read_jsonl_gz(data / "bbc_news_fulltext.jsonl.gz"))
    sets = {row["id"]: raw_shingles(row["text"]) for row in rows}
    postings: dict[str, list[str]] = defaultdict(list)
    for doc_id, grams in sets.items():
        for g in grams:
            postings[g].append(doc_id)
    shared: Counter[tuple[str, str]] = Counter()
    for ids in postings.values():
        if len(ids) <= 20:  # a 5-gram in more than 20 articles is boilerplate
            shared.update(itertools.combinations(sorted(ids), 2))
    groups = Groups()
    for (a, b), common in shared.items():
        na, nb = len(sets[a]), len(sets[b])
        if is_copy(common / (na + nb - common), common / min(na, nb), min(na, nb)):
            groups.join(a, b)
    out = []
    for row in rows:
        published = EPOCH + timedelta(minutes=rng.randrange(60 * 24 * 60))
        text = f"{row['title']}\n\n{row['text']}"  # headline first, as trafilatura gives it
        labels = {"dup_group": groups.find(row["id"])}
        out.append(DevArticle(row["id"], row["title"], text, published, labels))
    return out


def ecbplus(data: Path) -> list[DevArticle]:
    groups = Groups()
    for p in read_jsonl_gz(data / "ecbplus_dev_pairs.jsonl.gz"):
        if is_copy(p["shingle_jaccard"], p["shingle_containment"], 20):
            groups.join(p["a"], p["b"])
    out = []
    for i, row in enumerate(read_jsonl_gz(data / "ecbplus_dev.jsonl.gz")):
        first = row["text"].splitlines()[0]
        title = " ".join(first.split()[:14])
        labels = {"dup_group": f"ecb-{groups.find(row['id'])}", "story": f"ecb-{row['cluster_id']}"}
        published = EPOCH + timedelta(hours=12, seconds=i)
        out.append(DevArticle(f"ecb-{row['id']}", title, row["text"], published, labels))
    return out


def heavy_copies(pool: list[DevArticle], originals: list[DevArticle]) -> list[DevArticle]:
    """HEAVY_PER_KIND copies of each heavy edit kind, each of a different original; a
    followup takes its background from another article of the same BBC section."""
    rng = random.Random(SEED + 1)  # its own stream: the light copies above stay as they were
    chosen = rng.sample(pool, HEAVY_PER_KIND * len(KINDS))
    out = []
    for i, article in enumerate(chosen):
        kind = KINDS[i % len(KINDS)]
        background = None
        if kind == "followup":
            section = article.id.split("-")[1]
            others = [a for a in originals if a.id.split("-")[1] == section and a is not article]
            background = rng.choice(others)
        out.append(heavy_copy(article, kind, SEED, background))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "devsets")
    args = parser.parse_args()
    if not (args.data / "seeds").is_dir():
        parser.error(f"{args.data} has no seeds/: pass --data with the shared data directory")
    rng = random.Random(SEED)
    args.out.mkdir(parents=True, exist_ok=True)

    originals = bbc(args.data, rng)
    copies = []
    singles = [a for a in originals if a.id == a.labels["dup_group"]]
    lightly = rng.sample(singles, 400)
    for article in lightly:
        for n in range(1, rng.randint(1, 3) + 1):
            copy = wire_copy(article, SEED, n)
            copies.append(replace(copy, labels={**copy.labels, "edit": "light"}))
    copies += heavy_copies([a for a in singles if a not in lightly], originals)
    seeds = [DevArticle(s.id, s.title, s.text, s.published, {}) for s in read_seeds(args.data)]
    seed_copies = [wire_copy(s, SEED, n) for s in seeds for n in (1, 2)]
    ecb = ecbplus(args.data)

    dedup = [*originals, *copies, *ecb]
    for s in [*seeds, *seed_copies]:
        dedup.append(s.__class__(s.id, s.title, s.text, s.published, {"dup_group": s.id[:8]}))
    stories = [
        DevArticle(a.id, a.title, a.text, a.published, {"story": a.labels["story"]}) for a in ecb
    ]
    for s in [*seeds, *seed_copies]:
        stories.append(DevArticle(s.id, s.title, s.text, s.published, {"story": "belgorod"}))

    for name, rows in (("dedup_dev.jsonl", dedup), ("stories_dev.jsonl", stories)):
        with open(args.out / name, "w", encoding="utf-8") as fh:
            for row in sorted(rows, key=lambda a: (a.published, a.id)):
                fh.write(json.dumps(row.as_json(), ensure_ascii=False) + "\n")
        print(f"{args.out / name}: {len(rows)} records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
