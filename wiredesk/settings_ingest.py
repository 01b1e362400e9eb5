"""Settings of ingest: feeds, polling, fetching and politeness, extraction, rights,
re-checks of published articles and the raw WARC archive.

A part of :class:`wiredesk.settings.Settings` (its fields are Settings fields, set the
same way: config file, ``WIREDESK_*`` environment, flags).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode
from sqlalchemy import make_url

from wiredesk.hostroute import MAX_SHARDS, registrable_host


class IngestSettings(BaseModel):
    feeds: list[str] = Field(default_factory=list, description="feed URLs (JSON list in env)")
    feeds_file: Path | None = Field(
        None, description="feeds: one URL per line (+ options), or a .toml or .opml file"
    )
    poll_interval_s: float = Field(300.0, gt=0, description="seconds between feed polls")
    user_agent: str = Field("wiredesk/0.1 (+https://github.com/wiredesk/wiredesk)")
    fetch_timeout_s: float = Field(30.0, gt=0, le=600, description="total deadline per fetch")
    fetch_max_bytes: int = Field(5_000_000, ge=1024, description="cap on decoded body bytes")
    allow_private_addresses: bool = Field(
        False, description="TEST ONLY: allow fetching loopback/private addresses"
    )
    archive_enabled: bool = Field(
        True, description="also write every fetched page to WARC files (the raw archive)"
    )
    archive_url: str = Field(
        "",
        description="raw archive location: a directory or an fsspec URL (s3://bucket/path; "
        "needs fsspec); empty: <database>.warc/ beside a SQLite database file, else "
        "./wiredesk-warc",
    )
    archive_max_bytes: int = Field(
        1_000_000_000, ge=1024, description="a WARC file is closed once it reaches this size"
    )
    archive_max_age_s: float = Field(
        3600.0, gt=0, description="a WARC file is closed once it is this old (on the next page)"
    )
    archive_retention_days: float = Field(
        0.0,
        ge=0,
        description="`wiredesk archive prune` deletes WARC files whose pages are all older "
        "than this; 0 = keep for ever",
    )
    archive_spool_dir: Path | None = Field(
        None,
        description="remote archive: where a WARC file is written before its upload; "
        "empty: wiredesk-warc-spool in the system temp directory",
    )
    # -- ingest ----------------------------------------------------------------------
    fetch_allow_loopback_ports: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="allow http://127.0.0.1:<port> for these ports (a local server): "
        "8800, 8800,8801 or [8800, 8801]",
    )
    fetch_connect_timeout_s: float = Field(5.0, gt=0, le=60, description="TCP/TLS connect timeout")
    fetch_workers: int = Field(8, ge=1, le=64, description="concurrent page fetches per worker")
    fetch_host_concurrency: int = Field(2, ge=1, le=16, description="requests at once per host")
    fetch_host_delay_s: float = Field(
        1.0, ge=0, le=600, description="minimum seconds between requests to one host"
    )
    fetch_max_host_wait_s: float = Field(
        30.0, ge=0, le=600, description="longer Retry-After waits go to the DLQ (host_backoff)"
    )
    fetch_batch_size: int = Field(
        20,
        ge=1,
        le=1_000,
        description="links per fetch batch (at most batch_size): a batch ends when its "
        "slowest host's links are done, so more links mean more hosts fetched at once",
    )
    fetch_host_shards: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict,
        description="registrable hosts that explicitly allow k fetchers at once (k <= 16): "
        "'example.com=4,example.org=2'; the host then sees up to k x the per-host rate",
    )
    robots_enabled: bool = Field(True, description="honour robots.txt (and its Crawl-delay)")
    robots_cache_s: float = Field(86_400, gt=0, le=86_400, description="robots.txt cache time")
    feed_max_bytes: int = Field(10_000_000, ge=1024, description="cap on decoded feed bytes")
    feed_max_items: int = Field(1_000, ge=1, description="entries read per feed per poll")
    feed_poll_workers: int = Field(4, ge=1, le=64, description="feeds fetched at once")
    feed_parse_timeout_s: float = Field(5.0, gt=0, le=120, description="time budget per parse")
    poll_min_interval_s: float = Field(60.0, gt=0, description="floor of adaptive intervals")
    poll_max_interval_s: float = Field(21_600.0, gt=0, description="ceiling of intervals")
    poll_max_backoff_s: float = Field(21_600.0, gt=0, description="ceiling of error backoff")
    poll_adaptive: bool = Field(True, description="derive intervals from each feed's rate")
    extract_timeout_s: float = Field(20.0, gt=0, le=600, description="hard deadline per page")
    extract_memory_mb: int = Field(1024, ge=128, description="address-space limit of a worker")
    extract_workers: int = Field(1, ge=1, le=32, description="sandboxed worker processes")
    extract_min_chars: int = Field(200, ge=0, description="shorter extractions are rejected")
    rights_policy: Literal["store", "metadata", "skip"] = Field(
        "store",
        description="articles whose publisher reserved text-and-data mining or opted out of "
        "AI use: store (whole), metadata (stored without text) or skip (not stored)",
    )
    rights_tdmrep: bool = Field(
        True, description="read each host's /.well-known/tdmrep.json (cached like robots.txt)"
    )
    recheck_after_s: Annotated[list[Annotated[float, Field(ge=0, le=31_622_400)]], NoDecode] = (
        Field(
            default_factory=lambda: [3_600.0, 21_600.0, 86_400.0],
            description="re-check a published article (conditional GET) this many seconds "
            "after it was first seen: 3600,21600,86400 (empty: never)",
        )
    )
    recheck_batch: int = Field(
        200, ge=1, le=100_000, description="re-checks due that one poll round emits, at most"
    )
    recheck_feed_updates: bool = Field(
        True, description="re-fetch an article whose feed entry changed (title, date, summary)"
    )

    @field_validator("fetch_allow_loopback_ports", "recheck_after_s", mode="before")
    @classmethod
    def _port_list(cls, value: Any) -> Any:
        """``8800``, ``8800,8801`` and ``[8800, 8801]`` all mean a list (of ports, of
        seconds); the items are then validated as the field's type."""
        if isinstance(value, int | float):
            return [value]
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("fetch_host_shards", mode="before")
    @classmethod
    def _host_shards(cls, value: Any) -> Any:
        """``example.com=4,example.org=2`` or a JSON object; k within 1..16."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                value = json.loads(text)
            else:
                pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
                if any(len(pair) != 2 for pair in pairs):
                    raise ValueError(f"expected host=k[,host=k], got {value!r}")
                value = {host: int(k) for host, k in pairs}
        if not isinstance(value, dict):
            return value
        for host, k in value.items():
            if not 1 <= int(k) <= MAX_SHARDS:
                raise ValueError(f"fetch_host_shards[{host}] = {k}: expected 1..{MAX_SHARDS}")
        # keyed as links are: www.example.com=4 means example.com
        return {registrable_host(f"http://{host.strip()}/"): int(k) for host, k in value.items()}

    @field_validator("feeds_file", "archive_spool_dir", mode="before")
    @classmethod
    def _empty_feeds_file_is_none(cls, value: Any) -> Any:
        """An empty value means no file (not the current directory). A missing file is
        reported where it is read: a deployment may name a file mounted later."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def archive_location(self, database_url: str) -> str | None:
        """Where the raw archive goes for a pipeline on ``database_url``: ``archive_url``,
        else beside a SQLite file (``news.db`` -> ``news.warc``), else ``./wiredesk-warc``;
        None when the archive is off or the database is in memory (nothing is kept)."""
        if not self.archive_enabled:
            return None
        if self.archive_url:
            return self.archive_url
        url = make_url(database_url)
        if url.get_backend_name() != "sqlite":
            return "wiredesk-warc"
        if not url.database or url.database == ":memory:":
            return None
        path = Path(url.database)
        return str(path.with_name(path.stem + ".warc"))

    def feed_urls(self) -> list[str]:
        urls = list(self.feeds)
        if self.feeds_file is not None:
            for line in self.feeds_file.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    urls.append(line.split()[0])
        return urls
