"""The whole pipeline on one screen: which stage reads and writes which topic.

    poll_feeds       (source)        -> news.links
    fetch_pages      news.links      -> news.raw     (+ every page to the WARC archive)
    extract_articles news.raw        -> news.articles
    enrich_articles  news.articles   -> news.enriched
    write_articles   news.enriched   -> articles table

Every stage routes what it cannot handle to news.dlq. The same list runs in one
process (``wiredesk demo`` / ``wiredesk local``) and as one service per stage.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from ingest.archive import ArchiveOptions, WarcArchive
from ingest.archive_index import SqlArchiveIndex
from ingest.extract import ExtractArticles
from ingest.feeds import FeedPoller
from ingest.http import FetchOptions, make_client
from ingest.pages import FetchPages
from ingest.politeness import HostGate
from ingest.recheck import RecheckPolicy, RecheckStore
from ingest.registry import config_feeds
from ingest.robots import RobotsCache
from ingest.sandbox import Sandbox
from ingest.schedule import PollPolicy
from ingest.tdmrep import TdmRepCache
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
    closers: list[Any] = field(default_factory=list)

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def close(self) -> None:
        for thing in self.closers:
            thing.close()
        self.client.close()


STAGE_NAMES = ("fetch_pages", "extract_articles", "enrich_articles", "write_articles")


def fetch_options(settings: Settings) -> FetchOptions:
    return FetchOptions(
        user_agent=settings.user_agent,
        timeout_s=settings.fetch_timeout_s,
        connect_timeout_s=settings.fetch_connect_timeout_s,
        max_bytes=settings.fetch_max_bytes,
        allow_private=settings.allow_private_addresses,
        allow_loopback_ports=frozenset(settings.fetch_allow_loopback_ports),
    )


def poll_policy(settings: Settings) -> PollPolicy:
    return PollPolicy(
        default_interval_s=settings.poll_interval_s,
        min_interval_s=settings.poll_min_interval_s,
        max_interval_s=settings.poll_max_interval_s,
        max_backoff_s=settings.poll_max_backoff_s,
        adaptive=settings.poll_adaptive,
    )


def make_archive(settings: Settings, engine: Engine) -> WarcArchive | None:
    """The raw archive of the fetch stage (None when off or the database is in memory)."""
    location = settings.archive_location(engine.url.render_as_string(hide_password=True))
    if location is None:
        return None
    spool = settings.archive_spool_dir or Path(tempfile.gettempdir()) / "wiredesk-warc-spool"
    options = ArchiveOptions(
        location,
        max_bytes=settings.archive_max_bytes,
        max_age_s=settings.archive_max_age_s,
        spool_dir=spool,
    )
    return WarcArchive(options, SqlArchiveIndex(engine))


def build_pipeline(settings: Settings, engine: Engine, *, force_poll: bool = False) -> Pipeline:
    options = fetch_options(settings)
    client = make_client(options)
    sandbox = Sandbox(  # worker processes start on first use only
        workers=settings.extract_workers,
        timeout_s=settings.extract_timeout_s,
        memory_mb=settings.extract_memory_mb,
    )
    gate = HostGate(
        concurrency=settings.fetch_host_concurrency,
        min_delay_s=settings.fetch_host_delay_s,
        max_wait_s=settings.fetch_max_host_wait_s,
    )
    robots = (
        RobotsCache(client, options, ttl_s=settings.robots_cache_s, gate=gate)
        if settings.robots_enabled
        else None
    )
    tdmrep = (
        TdmRepCache(client, options, ttl_s=settings.robots_cache_s, gate=gate)
        if settings.rights_tdmrep
        else None
    )
    fetcher = FetchPages(
        client,
        options,
        gate,
        robots,
        workers=settings.fetch_workers,
        tdmrep=tdmrep,
        shards=settings.fetch_host_shards,
        rechecks=RecheckStore(engine),
    )
    archive = make_archive(settings, engine)
    enricher = EnrichArticles(engine, EnrichOptions.from_settings(settings))
    batch = settings.batch_size
    stages = [
        Stage(
            "fetch_pages",
            LINKS,
            archive.wrap(fetcher) if archive is not None else fetcher,
            output=RAW,
            batch_size=min(batch, settings.fetch_batch_size),
            prepare=fetcher.prepare,
        ),
        Stage(
            "extract_articles",
            RAW,
            ExtractArticles(
                sandbox,
                min_chars=settings.extract_min_chars,
                rights_policy=settings.rights_policy,
            ),
            output=ARTICLES,
            batch_size=batch,
        ),
        Stage(
            "enrich_articles",
            ARTICLES,
            enricher,
            output=ENRICHED,
            batch_size=batch,
            prepare=enricher.prepare,
        ),
        Stage("write_articles", ENRICHED, sink=ArticleWriter(engine), batch_size=batch),
    ]
    source = FeedPoller(
        engine,
        client,
        options,
        config=config_feeds(settings.feeds, settings.feeds_file),
        policy=poll_policy(settings),
        sandbox=sandbox,
        workers=settings.feed_poll_workers,
        max_feed_bytes=settings.feed_max_bytes,
        max_items=settings.feed_max_items,
        parse_timeout_s=settings.feed_parse_timeout_s,
        force=force_poll,
        shards=settings.fetch_host_shards,
        rechecks=RecheckPolicy.from_settings(settings),
    )
    closers: list[Any] = [fetcher, sandbox, *([archive] if archive is not None else [])]
    return Pipeline(source=source, stages=stages, client=client, closers=closers)
