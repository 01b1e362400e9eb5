"""Build the transform dev sets from ../shared/data at run time (nothing is committed).

    .venv/bin/python bench/build_transform_devsets.py [--data ../shared/data] [--out build/devsets]

Writes:
  dedup_dev.jsonl    {id,title,text,published,dup_group}: all 2,225 BBC articles (98 of
                     them are real exact duplicates of another), invented wire copies of
                     400 of them (1-3 copies each), the 5 seeds with 2 copies each, and the
                     496 ECB+ documents (same-event rewrites, which are NOT copies: their
                     dup_group joins only the pairs the data README calls real wire or near
                     copies, word 5-gram Jaccard >= 0.5).
  stories_dev.jsonl  {id,title,text,published,story}: the ECB+ documents (story = gold
                     event cluster; the two events of a topic are hard negatives), the 5
                     seeds (one story) and 2 wire copies of each seed.
BBC articles and ECB+ documents have no dates: they get synthetic, seeded ones (BBC spread
over 60 days, ECB+ all on one day, so the story time window cannot separate them).
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from transform.wirecopy import DevArticle, read_jsonl_gz, read_seeds, wire_copy

ROOT = Path(__file__).resolve().parents[1]
SEED = 4
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def bbc(data: Path, rng: random.Random) -> list[DevArticle]:
    rows = list(read_jsonl_gz(data / "bbc_news_fulltext.jsonl.gz"))
    groups: dict[tuple[str, str], str] = {}
    out = []
    for row in rows:
        group = groups.setdefault((row["title"], row["text"]), row["id"])
        published = EPOCH + timedelta(minutes=rng.randrange(60 * 24 * 60))
        text = f"{row['title']}\n\n{row['text']}"  # headline first, as trafilatura gives it
        out.append(DevArticle(row["id"], row["title"], text, published, {"dup_group": group}))
    return out


def ecbplus(data: Path) -> list[DevArticle]:
    pairs = read_jsonl_gz(data / "ecbplus_dev_pairs.jsonl.gz")
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for p in pairs:
        if p["shingle_jaccard"] >= 0.5:
            parent[find(p["a"])] = find(p["b"])
    out = []
    for i, row in enumerate(read_jsonl_gz(data / "ecbplus_dev.jsonl.gz")):
        first = row["text"].splitlines()[0]
        title = " ".join(first.split()[:14])
        labels = {"dup_group": f"ecb-{find(row['id'])}", "story": f"ecb-{row['cluster_id']}"}
        published = EPOCH + timedelta(hours=12, seconds=i)
        out.append(DevArticle(f"ecb-{row['id']}", title, row["text"], published, labels))
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
    for article in rng.sample([a for a in originals if a.id == a.labels["dup_group"]], 400):
        for n in range(1, rng.randint(1, 3) + 1):
            copies.append(wire_copy(article, SEED, n))
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
