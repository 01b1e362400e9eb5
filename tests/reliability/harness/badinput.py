"""Inputs for the bad-input pipeline run: oversized pages, NUL bytes, SQL-looking text."""

from __future__ import annotations

from datetime import UTC, datetime

from devserver.server import CorpusArticle
from wiredesk.records import EnrichedArticle, Entity, RawPage

INJECTIONS = ["'); DROP TABLE articles;--", "%s %(x)s {0} $1 \\' OR 1=1 --"]
PARAGRAPH = (
    "The harbour board met again on Tuesday to discuss the dredging contract, the fourth "
    "meeting this month, and again no decision was taken about the timetable or the cost. "
)


def huge_article(site: str, megabytes: float) -> CorpusArticle:
    """An article page of ``megabytes`` of text: under the fetch cap, over the broker's."""
    count = int(megabytes * 1_000_000 / len(PARAGRAPH)) + 1
    return CorpusArticle(
        id="huge-00001",
        site=site,
        slug="a-very-long-report",
        title="A very long report on the dredging contract",
        author="Wire Desk",
        published="2026-11-20T10:00:00Z",
        paragraphs=tuple(f"{i}. {PARAGRAPH}" for i in range(count)),
        story="huge",
    )


def nul_pages() -> list[RawPage]:
    """Pages with NUL bytes and ``&#0;`` in title, heading and body."""
    pages = []
    for n in range(3):
        body = "".join(f"<p>ab\x00cd paragraph {i} of page {n}. {PARAGRAPH}</p>" for i in range(4))
        html = (
            f"<html><head><title>Nul\x00 title &#0; {n}</title></head><body><article>"
            f"<h1>Nul\x00 headline {n}</h1>{body}</article></body></html>"
        )
        url = f"http://127.0.0.1:9/nul/{n}.html"
        pages.append(
            RawPage(
                article_id=f"{n:031d}a",
                url=url,
                final_url=url,
                status=200,
                content_type="text/html; charset=utf-8",
                html=html,
            )
        )
    return pages


def hostile_enriched() -> list[EnrichedArticle]:
    """Records straight into the sink: NUL in every text and JSON field, SQL-looking
    titles and URLs, and a 900 KB text."""
    when = datetime(2026, 11, 20, tzinfo=UTC)
    nul = EnrichedArticle(
        article_id="b" * 32,
        url="http://127.0.0.1:9/nul\x00url",
        canonical_url="http://127.0.0.1:9/canon\x00",
        title="ab\x00cd",
        text="body ab\x00cd " * 30,
        authors=["Ann\x00 Writer"],
        site_name="Site\x00",
        language="e\x00n",
        extractor_version="t\x00",
        content_hash="b" * 64,
        published_at=when,
        entities=[
            Entity(
                canonical_id="loc:x\x00",
                name="Vel\x00mar",
                label="LOC",
                surface="Vel\x00mar",
                start=0,
                end=7,
            )
        ],
    )
    sql = [
        EnrichedArticle(
            article_id=f"{i:031d}c",
            url=f"http://127.0.0.1:9/q?x={text}",
            title=text,
            text=f"{text} " * 40,
            extractor_version="t",
            content_hash=f"{i:063d}c",
            published_at=when,
        )
        for i, text in enumerate(INJECTIONS)
    ]
    big = EnrichedArticle(
        article_id="e" * 32,
        url="http://127.0.0.1:9/big",
        title="big",
        text="x" * 900_000,
        extractor_version="t",
        content_hash="e" * 64,
    )
    return [nul, *sql, big]
