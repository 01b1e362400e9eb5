"""Test helpers for the transform: Article records from the demo corpus and the seeds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from devserver.server import load_corpus
from transform.wirecopy import DevArticle, read_seeds, wire_copy
from wiredesk.records import Article, url_id

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def article(
    key: str, title: str, text: str, published: datetime | None, site: str = "test"
) -> Article:
    """An Article as the extractor would publish it (the headline is the first line)."""
    url = f"https://{site}.example/{key}"
    return Article(
        article_id=url_id(url),
        url=url,
        title=title,
        text=text,
        published_at=published,
        site_name=site,
        extractor_version="test",
        content_hash=url_id(text),
    )


def demo_articles() -> list[tuple[Article, str | None, str]]:
    """(article, id of the article it is a wire copy of, story label), published order."""
    out = []
    corpus = sorted(load_corpus().articles, key=lambda a: (a.published, a.id))
    ids = {a.id: article(a.id, "", "", None, a.site).article_id for a in corpus}
    for a in corpus:
        published = datetime.fromisoformat(a.published.replace("Z", "+00:00"))
        text = "\n\n".join((a.title, *a.paragraphs))
        rec = article(a.id, a.title, text, published, a.site)
        out.append((rec, ids[a.wire_of] if a.wire_of else None, a.story))
    return out


def seed_articles() -> tuple[list[Article], list[tuple[Article, Article]]]:
    """The five seeds and two invented wire copies of each: (seeds, [(copy, original)])."""
    if not (SHARED_DATA / "seeds").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (the seeds are read at run time)")
    seeds = read_seeds(SHARED_DATA)
    originals = [_as_article(s, "seedwire") for s in seeds]
    copies = [
        (_as_article(wire_copy(s, 7, n), f"outlet{n}"), original)
        for s, original in zip(seeds, originals, strict=True)
        for n in (1, 2)
    ]
    return originals, copies


def _as_article(item: DevArticle, site: str) -> Article:
    return article(item.id, item.title, item.text, item.published, site)
