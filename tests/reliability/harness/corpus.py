"""A generated news corpus for fault runs: many outlets, originals and wire copies.

Text is invented by templates; when ``../shared/data/bbc_news_fulltext.jsonl.gz`` is
present its paragraphs are read at run time for realism (never copied into the repo).
About a fifth of the articles republish a wire original (``wire_of``): some verbatim,
some edited (new headline, dateline, boilerplate added, last paragraph cut).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devserver.server import CorpusArticle, Site, write_corpus

BBC = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "bbc_news_fulltext.jsonl.gz"

_FIRST = [
    "Ada",
    "Bram",
    "Cleo",
    "Dario",
    "Edda",
    "Fenn",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kaja",
    "Lorcan",
    "Mirela",
    "Nils",
]
_LAST = [
    "Varga",
    "Okonkwo",
    "Lindqvist",
    "Moreau",
    "Castellanos",
    "Brandt",
    "Ilves",
    "Oduya",
    "Petrak",
    "Soren",
]
_ORGS = [
    "the Harbour Authority",
    "the Regional Council",
    "Meridian Rail",
    "the Water Board",
    "the Teachers' Union",
    "Northgate Hospital",
    "the Farmers' Guild",
    "Castor Energy",
]
_PLACES = [
    "Velmar",
    "Ashford",
    "Kharnivka",
    "Lantern",
    "Bay",
    "Ostrava",
    "Hollin",
    "Dunmere",
    "Pellach",
    "Quarry",
    "Hill",
]
_VERBS = ["announced", "warned", "confirmed", "denied", "proposed", "postponed", "approved"]
_THINGS = [
    "a new timetable",
    "the budget for next year",
    "plans for a second bridge",
    "an inquiry into the delays",
    "a pay offer",
    "the closure of two depots",
    "a review of safety rules",
    "emergency repairs to the sea wall",
]
_BOILER = "This story was supplied by a news agency and has been edited for length."


@dataclass(frozen=True)
class CorpusSpec:
    articles: int
    seed: int = 7
    wire_share: float = 0.2
    use_bbc: bool = True


def _sentence(rng: random.Random) -> str:
    who = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return (
        f"{who}, speaking for {rng.choice(_ORGS)} in {rng.choice(_PLACES)}, said the group "
        f"had {rng.choice(_VERBS)} {rng.choice(_THINGS)} after {rng.randint(2, 90)} days of "
        f"talks involving {rng.randint(3, 4000)} people."
    )


def _invented_paragraphs(rng: random.Random) -> list[str]:
    return [" ".join(_sentence(rng) for _ in range(rng.randint(2, 4))) for _ in range(5)]


def _bbc_stories(limit: int) -> list[tuple[str, list[str]]]:
    if not BBC.exists():
        return []
    stories, seen = [], set()
    with gzip.open(BBC, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            paragraphs = [p.strip() for p in row["text"].split("\n\n") if p.strip()]
            body = "\n".join(paragraphs)
            if len(paragraphs) < 3 or body in seen:
                continue  # the set has exact duplicates of its own; keep ours labelled
            seen.add(body)
            stories.append((row["title"].strip(), paragraphs))
            if len(stories) >= limit:
                break
    return stories


def _slug(title: str, n: int) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50].strip("-")
    return f"{words or 'story'}-{n:05d}"


def build(spec: CorpusSpec) -> tuple[list[Site], list[CorpusArticle]]:
    rng = random.Random(spec.seed)
    n_sites = max(5, min(20, spec.articles // 100))
    sites = [
        Site(
            f"outlet{i:02d}",
            f"The {_PLACES[i % len(_PLACES)]} Courier {i}",
            "rss" if i % 2 == 0 else "atom",
        )
        for i in range(n_sites)
    ]
    bbc = _bbc_stories(spec.articles) if spec.use_bbc else []
    # recent dates, inside the transform's retention and story windows (it prunes by age)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=3)
    step = timedelta(seconds=max(30, 3 * 86400 // max(1, spec.articles)))
    articles: list[CorpusArticle] = []
    originals: list[CorpusArticle] = []
    for i in range(spec.articles):
        when = (start + step * i).strftime("%Y-%m-%dT%H:%M:%SZ")
        site = sites[i % n_sites].site
        if originals and rng.random() < spec.wire_share:
            articles.append(_wire_copy(rng, rng.choice(originals), i, site, when))
            continue
        if bbc:
            title, paragraphs = bbc.pop()
        else:
            title = f"{rng.choice(_ORGS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_THINGS)}"
            paragraphs = _invented_paragraphs(rng)
        art = CorpusArticle(
            id=f"rel-{i:05d}",
            site=site,
            slug=_slug(title, i),
            title=title,
            author="Wire Desk" if rng.random() < 0.3 else f"{rng.choice(_FIRST)} Reporter",
            published=when,
            paragraphs=tuple(paragraphs),
            story=f"story-{i:05d}",
        )
        articles.append(art)
        if art.author == "Wire Desk":
            originals.append(art)
    return sites, articles


def _wire_copy(
    rng: random.Random, original: CorpusArticle, i: int, site: str, when: str
) -> CorpusArticle:
    paragraphs = list(original.paragraphs)
    title = original.title
    if rng.random() < 0.5:  # an edited republication
        title = f"{original.title}: what we know"
        paragraphs[0] = f"{rng.choice(_PLACES).upper()} (Wire Desk) - {paragraphs[0]}"
        paragraphs = paragraphs[:-1] + [_BOILER] if len(paragraphs) > 3 else paragraphs
    return CorpusArticle(
        id=f"rel-{i:05d}",
        site=site,
        slug=_slug(title, i),
        title=title,
        author="Wire Desk",
        published=when,
        paragraphs=tuple(paragraphs),
        wire_of=original.id,
        story=original.story,
    )


def write(directory: Path, spec: CorpusSpec) -> Path:
    sites, articles = build(spec)
    return write_corpus(directory, sites, articles)
