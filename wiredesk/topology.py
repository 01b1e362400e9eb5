"""The whole pipeline on one screen: which stage reads and writes which topic.

    poll_feeds       (source)        -> news.links
    fetch_pages      news.links      -> news.raw
    extract_articles news.raw        -> news.articles
    enrich_articles  news.articles   -> news.enriched
    write_articles   news.enriched   -> articles table

Every stage routes what it cannot handle to news.dlq. The same list runs in one
process (``wiredesk demo`` / ``wiredesk local``) and as one service per stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from ingest.extract import ExtractArticles
from ingest.feeds import FeedPoller
from ingest.http import FetchOptions
from ingest.pages import FetchPages
from sink.articles import ArticleWriter
from transform.enrich import EnrichArticles, EnrichOptions
from wiredesk.settings import Settings
from wiredesk.stage import Stage
from wiredesk.topics import ARTICLES, ENRICHED, LINKS, RAW


@dataclass
class Pipeline:
    source: FeedPoller
    stages: list[Stage]
    client: httpx.Client

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def close(self) -> None:
        self.client.close()


STAGE_NAMES = ("fetch_pages", "extract_articles", "enrich_articles", "write_articles")


def fetch_options(settings: Settings) -> FetchOptions:
    return FetchOptions(
        user_agent=settings.user_agent,
        timeout_s=settings.fetch_timeout_s,
        max_bytes=settings.fetch_max_bytes,
        allow_private=settings.allow_private_addresses,
    )


def build_pipeline(settings: Settings, engine: Engine) -> Pipeline:
    options = fetch_options(settings)
    client = httpx.Client(follow_redirects=False, trust_env=False)
    batch = settings.batch_size
    stages = [
        Stage(
            "fetch_pages", LINKS, FetchPages(client, options), output=RAW, batch_size=min(batch, 20)
        ),
        Stage("extract_articles", RAW, ExtractArticles(), output=ARTICLES, batch_size=batch),
        Stage(
            "enrich_articles",
            ARTICLES,
            EnrichArticles(engine, EnrichOptions.from_settings(settings)),
            output=ENRICHED,
            batch_size=batch,
        ),
        Stage("write_articles", ENRICHED, sink=ArticleWriter(engine), batch_size=batch),
    ]
    source = FeedPoller(settings.feed_urls(), engine, client, options)
    return Pipeline(source=source, stages=stages, client=client)
