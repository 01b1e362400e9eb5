"""The benchmark corpus: real article texts from ../shared/data plus invented wire copies.

Originals take their text, in this order, from the BBC full-text set (2,225 articles, its
own exact duplicates dropped), then the ECB+ dev documents (496), then invented template
text (the reliability corpus's generator) if more are needed. Exactly
``round(articles * wire_share)`` articles are wire copies of an earlier original, made by
the reliability corpus's ``_wire_copy``: half verbatim, half edited (new headline,
dateline, agency boilerplate, last paragraph cut). Read at run time, never committed.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import SHARED_DATA

from devserver.server import CorpusArticle, Site, write_corpus
from tests.reliability.harness import corpus as rel

BBC = SHARED_DATA / "bbc_news_fulltext.jsonl.gz"
ECB = SHARED_DATA / "ecbplus_dev.jsonl.gz"


def real_texts() -> Iterator[tuple[str, tuple[str, ...], str]]:
    """(title, paragraphs, source) of every usable real article, BBC first."""
    seen: set[str] = set()
    if BBC.exists():
        with gzip.open(BBC, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                paragraphs = tuple(p.strip() for p in row["text"].split("\n\n") if p.strip())
                if len(paragraphs) >= 3 and paragraphs not in seen:
                    seen.add(paragraphs)
                    yield row["title"].strip(), paragraphs, "bbc"
    if ECB.exists():
        with gzip.open(ECB, "rt", encoding="utf-8") as fh:
            for line in fh:
                sentences = [s.strip() for s in json.loads(line)["text"].splitlines() if s.strip()]
                paragraphs = tuple(
                    " ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)
                )
                if len(paragraphs) >= 3 and paragraphs not in seen:
                    seen.add(paragraphs)
                    yield sentences[0][:90], paragraphs, "ecb+"


def sentence_pool() -> tuple[list[str], list[str]]:
    """The real articles' sentences (at least six words each, in corpus order) and their
    distinct words (sorted): what :func:`_sampled_paragraphs` draws from."""
    pool = []
    for _, paragraphs, _ in real_texts():
        for paragraph in paragraphs:
            pool.extend(s for s in re.split(r"(?<=[.!?])\s+", paragraph) if len(s.split()) >= 6)
    return pool, sorted({w for s in pool for w in s.split()})


def _sampled_paragraphs(
    rng: random.Random, pool: list[str], words: list[str], swap: float
) -> list[str]:
    """Five paragraphs of 2-4 sentences drawn from real articles, each word replaced by a
    random word of theirs with probability ``swap``: real vocabulary and sentence shapes,
    but (with ``swap`` > 0) new 5-grams, so distinct invented articles share shingles
    about as rarely as distinct real ones do (``bench/corpus_overlap.py``), not as the
    templated sentences' small vocabulary makes them (one LSH band key in half of all
    articles) or whole reused sentences would (sharing that grows with the corpus)."""

    def sentence() -> str:
        return " ".join(
            rng.choice(words) if rng.random() < swap else w for w in rng.choice(pool).split()
        )

    return [" ".join(sentence() for _ in range(rng.randint(2, 4))) for _ in range(5)]


SWAP = {"sampled": 0.0, "mutated": 0.25}  # share of words replaced in invented sentences


def build(
    articles: int, wire_share: float = 0.35, seed: int = 7, invented: str = "templated"
) -> tuple[list[Site], list[CorpusArticle], Counter[str]]:
    """Sites, articles in publication order, and the count of each kind of article.
    ``invented``: how originals beyond the real texts are written: ``templated``
    (sentences from small word lists), ``sampled`` (real sentences drawn at random) or
    ``mutated`` (those with a quarter of their words replaced)."""
    rng = random.Random(seed)
    pool, words = sentence_pool() if invented in SWAP else ([], [])
    n_sites = max(5, min(20, articles // 100))
    sites = [
        Site(f"outlet{i:02d}", f"The Bench Courier {i}", "rss" if i % 2 == 0 else "atom")
        for i in range(n_sites)
    ]
    n_copies = round(articles * wire_share)
    copy_at = set(rng.sample(range(1, articles), n_copies)) if n_copies else set()
    texts = real_texts()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    step = timedelta(seconds=max(1, 2 * 86400 // max(1, articles)))
    out: list[CorpusArticle] = []
    wire_originals: list[CorpusArticle] = []
    kinds: Counter[str] = Counter()
    for i in range(articles):
        when = (start + step * i).strftime("%Y-%m-%dT%H:%M:%SZ")
        site = sites[i % n_sites].site
        if i in copy_at and wire_originals:
            copy = rel._wire_copy(rng, rng.choice(wire_originals), i, site, when)
            copy = _renamed(copy, i)
            verbatim = copy.paragraphs == _by_id(wire_originals, copy.wire_of).paragraphs
            kinds["copy (verbatim)" if verbatim else "copy (edited)"] += 1
            out.append(copy)
            continue
        title, paragraphs, source = next(texts, (None, (), "invented"))
        if title is None:
            title = f"{rng.choice(rel._ORGS).capitalize()} {rng.choice(rel._VERBS)} news {i}"
            paragraphs = tuple(
                _sampled_paragraphs(rng, pool, words, SWAP[invented])
                if pool
                else rel._invented_paragraphs(rng)
            )
        kinds[f"original ({source})"] += 1
        art = CorpusArticle(
            id=f"b{i:06d}",
            site=site,
            slug=rel._slug(title, i),
            title=title,
            author="Wire Desk" if rng.random() < 0.4 else f"{rng.choice(rel._FIRST)} Reporter",
            published=when,
            paragraphs=paragraphs,
            story=f"story-{i:06d}",
        )
        out.append(art)
        if art.author == "Wire Desk":
            wire_originals.append(art)
    return sites, out, kinds


def _renamed(copy: CorpusArticle, i: int) -> CorpusArticle:
    d = copy.to_dict()
    d["id"] = f"b{i:06d}"
    return CorpusArticle.from_dict(d)


def _by_id(arts: list[CorpusArticle], wanted: str | None) -> CorpusArticle:
    return next(a for a in reversed(arts) if a.id == wanted)


def write(directory: Path, articles: int, wire_share: float, seed: int = 7) -> Counter[str]:
    sites, arts, kinds = build(articles, wire_share, seed)
    write_corpus(directory, sites, arts)
    return kinds
