"""The topics of the pipeline and the record type each one carries."""

from __future__ import annotations

from dataclasses import dataclass

from wiredesk.records import Article, DeadLetter, EnrichedArticle, Link, RawPage, Record


@dataclass(frozen=True)
class Topic:
    name: str
    record_type: type[Record]

    def __str__(self) -> str:
        return self.name


LINKS = Topic("news.links", Link)
RAW = Topic("news.raw", RawPage)
ARTICLES = Topic("news.articles", Article)
ENRICHED = Topic("news.enriched", EnrichedArticle)
DLQ = Topic("news.dlq", DeadLetter)

ALL_TOPICS: tuple[Topic, ...] = (LINKS, RAW, ARTICLES, ENRICHED, DLQ)
BY_NAME: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}
