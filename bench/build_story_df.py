"""Build transform/data/story_df.tsv: word document frequencies for the story model's IDF.

    .venv/bin/python bench/build_story_df.py [--data ../shared/data] [--min-df 2]

Counts, for each word (as :func:`transform.storysim.words` tokenises), in how many
articles of the BBC News full-text corpus (2,225 articles, 2004-2005; exact duplicates
counted once) it occurs. Only counts are written, no text: a ``#docs`` line, then
``word<TAB>count`` lines sorted by word, for words in at least ``--min-df`` articles
(rarer words get the table's highest IDF anyway). Deterministic: same input, same file.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

from transform.storysim import DF_TABLE, words

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DF_TABLE)
    args = parser.parse_args()
    source = args.data / "bbc_news_fulltext.jsonl.gz"
    if not source.exists():
        parser.error(f"{source} not found: pass --data with the shared data directory")
    seen: set[str] = set()
    df: Counter[str] = Counter()
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            text = f"{row['title']}\n{row['text']}"
            if text in seen:
                continue
            seen.add(text)
            df.update(set(words(text)))
    kept = sorted((w, n) for w, n in df.items() if n >= args.min_df)
    with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(f"#docs\t{len(seen)}\n")
        fh.writelines(f"{w}\t{n}\n" for w, n in kept)
    print(f"{args.out}: {len(seen)} documents, {len(kept)} words, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
