"""Invented wire copies of an article, and readers for the shared dev data.

A wire story republished by an outlet keeps its body but picks up edits: a new
headline, a different byline or dateline, the outlet's boilerplate, the last paragraphs
cut, a sentence inserted, house spelling. :func:`wire_copy` makes such a copy with a
seeded random generator, so dev sets and tests are reproducible. Every added string is
written here (invented outlets and wording); the source text is read at run time and is
never stored in the repository.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUTLETS = ("Harbour Herald", "Meridian Ledger", "Valley Clarion", "Northgate Post", "Daily Beacon")
AGENCIES = ("Associated Wire", "Continental Press", "Global Newswire")
CITIES = ("LONDON", "BRUSSELS", "NEW YORK", "KYIV", "BERLIN", "GENEVA")
BOILERPLATE = (
    "Sign up for our morning newsletter to get the day's top stories.",
    "Read more: the stories our readers are following today",
    "Advertisement",
    "Follow us on social media for the latest updates.",
    "© 2026 {outlet}. All rights reserved.",
    "Copyright {agency}. This material may not be republished without permission.",
    "Click here to download our app.",
)
INSERTED = (
    "The {agency} contacted the authorities for further comment but had not received a reply.",
    "This story has been updated with additional details from officials.",
    "Local media reported similar accounts earlier in the day.",
    "Officials said more information would be released later in the week.",
)
HEADLINE_PREFIXES = ("UPDATE 1-", "WRAPUP-", "Breaking: ", "Latest: ", "")
SPELLING = (("organisation", "organization"), ("said", "says"), ("centre", "center"))


@dataclass(frozen=True)
class DevArticle:
    """One article of a dev set: the fields the eval JSONL files carry."""

    id: str
    title: str
    text: str
    published: datetime
    labels: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "published": self.published.isoformat(),
            **self.labels,
        }


def _paragraphs(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(parts) == 1:  # one-line-per-sentence or unbroken text: split on sentences
        parts = [s for s in re.split(r"(?<=[.!?”\"])\s+(?=[A-Z“\"])", parts[0]) if s]
    return parts


def _rewrite_headline(rng: random.Random, title: str, first: str) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        return rng.choice(HEADLINE_PREFIXES) + title
    if choice == 1:
        words = first.split()[: rng.randint(7, 12)]
        return " ".join(words).rstrip(",;:") if words else title
    return f"{title}, {rng.choice(('officials say', 'reports say', 'sources say'))}"


def wire_copy(article: DevArticle, seed: int, copy_no: int) -> DevArticle:
    """An invented republished copy of ``article`` with 2-5 realistic outlet edits."""
    rng = random.Random(f"{seed}:{article.id}:{copy_no}")
    outlet, agency, city = rng.choice(OUTLETS), rng.choice(AGENCIES), rng.choice(CITIES)
    paragraphs = _paragraphs(article.text)
    edits = set(rng.sample(["headline", "byline", "boilerplate", "cut", "insert", "spell"], 4))
    title = article.title
    if "headline" in edits:
        title = _rewrite_headline(rng, article.title, paragraphs[0] if paragraphs else "")
    if "cut" in edits and len(paragraphs) >= 4:
        keep = max(3, round(len(paragraphs) * rng.uniform(0.6, 0.85)))
        paragraphs = paragraphs[:keep]
    if "insert" in edits and len(paragraphs) >= 2:
        at = rng.randint(1, len(paragraphs) - 1)
        paragraphs.insert(at, rng.choice(INSERTED).format(agency=agency))
    if "spell" in edits:
        old, new = rng.choice(SPELLING)
        # regex-audit: linear because ``old`` is a fixed word (dev-set generator, no input)
        paragraphs = [re.sub(rf"\b{old}\b", new, p) for p in paragraphs]
    if paragraphs and "byline" in edits:
        paragraphs[0] = f"{city} ({agency}) - {paragraphs[0]}"
        paragraphs.insert(0, f"By {rng.choice(('Anna Kowalski', 'Tom Reyes', 'Mira Holt'))}")
    if "boilerplate" in edits:
        for line in rng.sample(BOILERPLATE, rng.randint(1, 3)):
            paragraphs.append(line.format(outlet=outlet, agency=agency))
    if rng.random() < 0.5:  # trafilatura often puts the headline first
        paragraphs.insert(0, title)
    delay = timedelta(minutes=rng.randint(5, 600))
    return replace(
        article,
        id=f"{article.id}~copy{copy_no}",
        title=title,
        text="\n\n".join(paragraphs),
        published=article.published + delay,
    )


# -- readers of ../shared/data (run time only) ---------------------------------------

SEED_EPOCH = datetime(2023, 5, 24, 6, 0, tzinfo=UTC)
_SEED_DATE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+")


def read_seeds(data_dir: Path) -> list[DevArticle]:
    """The five seed reports; the title is the first line or the first sentence."""
    seeds = []
    for i, path in enumerate(sorted((data_dir / "seeds").glob("*.txt"))):
        raw = path.read_text(encoding="utf-8")
        match = _SEED_DATE.match(raw)
        published = (
            datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC) + timedelta(hours=8 + i)
            if match
            else SEED_EPOCH
        )
        body = _SEED_DATE.sub("", raw, count=1).strip()
        first = body.splitlines()[0]
        title = first if len(first.split()) <= 16 else " ".join(first.split()[:12])
        seeds.append(DevArticle(f"seed-{path.stem[:3]}", title, body, published))
    return seeds


def read_jsonl_gz(path: Path) -> Iterator[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)
