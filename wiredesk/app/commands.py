"""What each CLI subcommand does (argument parsing stays in ``cli.py``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from textwrap import shorten
from typing import TypeVar

import structlog
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, make_url, select

from ingest.schedule import MIN_WAKE_S
from wiredesk import db as database
from wiredesk.attempts import Ledger, SqlLedger
from wiredesk.budget import Budget
from wiredesk.bus import Bus, make_bus
from wiredesk.bus.memory import MemoryBus
from wiredesk.db.tables import ArticleRow
from wiredesk.errors import is_transient
from wiredesk.metrics import Health, serve_metrics
from wiredesk.runner import RunnerOptions, StageRunner, drain, publish_from, run_source
from wiredesk.settings import Settings, SettingsError
from wiredesk.stage import Stage
from wiredesk.topics import ALL_TOPICS, DLQ, LINKS

log = structlog.get_logger("wiredesk")
T = TypeVar("T")


def runner_options(settings: Settings, stage: str = "") -> RunnerOptions:
    cpu_s, wall_s = settings.budget(stage)
    return RunnerOptions(
        poll_timeout_s=settings.poll_timeout_s,
        max_record_attempts=settings.max_record_attempts,
        retry_max_backoff_s=settings.retry_max_backoff_s,
        crash_at=settings.crash_at,
        budget=Budget(cpu_s, wall_s) if stage else None,
        # the hard kill is for services (one stage per process, restarted by a supervisor)
        hard_grace_s=settings.budget_hard_grace_s if settings.bus == "kafka" else None,
        max_record_crashes=settings.max_record_crashes,
        deliver_every_s=settings.deliver_every_s,
        fill_wait_s=settings.sink_fill_wait_s if stage == "write_articles" else 0.0,
    )


def _bus(settings: Settings) -> Bus:
    return make_bus(
        settings.bus,
        kafka_bootstrap=settings.kafka_bootstrap,
        partitions=settings.bus_partitions(),
        namespace=settings.namespace,
        url=settings.sql_bus_url() if settings.bus == "sql" else "",
        retention_hours=settings.bus_retention_hours,
        keep_hours=settings.bus_raw_retention_hours,
        raw_retention_hours=settings.raw_retention_hours,
        kafka_options=settings.kafka_bus_options() if settings.bus == "kafka" else None,
    )


def run_embedded(settings: Settings, engine: Engine, bus: Bus | None = None) -> dict[str, int]:
    """Poll the feeds once and drain every stage in one process: on the in-process bus
    (``demo``), or on ``bus`` (``local``: the sql bus, whose leftovers it drains too)."""
    from dataclasses import replace

    from wiredesk.app.topology import build_pipeline

    bus = bus or make_bus("memory", partitions=1)
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    letters_before = _dead_letters(bus)
    pipeline = build_pipeline(settings, engine, force_poll=True)  # one-shot: poll every feed
    try:
        runners = [
            # poll without waiting: an empty stage must not hold up the others' round
            StageRunner(
                s,
                bus,
                options=replace(runner_options(settings, s.name), poll_timeout_s=0, fill_wait_s=0),
            )
            for s in pipeline.stages
        ]
        links = publish_from(pipeline.source, bus, LINKS.name)
        moved = drain(runners)
    finally:
        pipeline.close()
    dead = _dead_letters(bus) - letters_before
    return {"links": links, "records_moved": moved, "dead_letters": dead}


def _dead_letters(bus: Bus) -> int:
    from wiredesk.bus.sql import SqlBus

    if isinstance(bus, SqlBus):
        return sum(bus.end_offsets(DLQ.name).values())
    assert isinstance(bus, MemoryBus)
    return len(bus.messages(DLQ.name))


def demo(settings: Settings, db_path: Path, corpus: Path | None) -> int:
    from devserver.server import NewsServer, load_corpus

    db_path.unlink(missing_ok=True)
    url = f"sqlite:///{db_path}"
    database.upgrade(url)
    engine = database.make_engine(url)
    console = _console()
    with NewsServer(load_corpus(corpus)) as server:
        console.print(
            f"[bold]demo news site[/] at {server.base_url} ({len(server.feed_urls())} feeds)"
        )
        demo_settings = settings.model_copy(
            update={
                "feeds": server.feed_urls(),
                "feeds_file": None,
                "database_url": url,
                # the demo site runs on 127.0.0.1, which the fetcher refuses by default:
                # allow exactly its port; and it is our own server, so no politeness delay
                "fetch_allow_loopback_ports": [server.port],
                "fetch_host_delay_s": 0.0,
            }
        )
        counts = run_embedded(demo_settings, engine)
    print_summary(console, engine, counts)
    console.print(
        f"\nStored in [bold]{db_path}[/] (SQLite); try: "
        f"sqlite3 {db_path} 'select title, site_name from articles'"
    )
    engine.dispose()
    return 0


def local(settings: Settings) -> int:
    from ingest.registry import all_feeds, config_feeds

    database.upgrade(settings.database_url)
    engine = database.make_engine(settings.database_url)
    if not config_feeds(settings.feeds, settings.feeds_file) and not all_feeds(engine):
        raise SettingsError(
            "no feeds to poll: set WIREDESK_FEEDS='[\"https://…/rss\"]' or "
            "WIREDESK_FEEDS_FILE, or add one with `wiredesk feeds add URL`"
        )
    from wiredesk.app.buslock import only_one

    settings = settings.model_copy(update={"bus": "sql"})  # dead letters and leftovers kept
    with only_one(settings):
        bus = _bus(settings)
        try:
            counts = run_embedded(settings, engine, bus)
        finally:
            bus.close()
    print_summary(_console(), engine, counts)
    return 0


def _console() -> Console:
    """A terminal's own width; 120 columns when writing to a pipe or file."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


def print_summary(console: Console, engine: Engine, counts: dict[str, int]) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ArticleRow.site_name,
                ArticleRow.title,
                ArticleRow.published_at,
                ArticleRow.text,
                ArticleRow.duplicate_of,
                ArticleRow.story_id,
                ArticleRow.article_id,
            ).order_by(ArticleRow.published_at, ArticleRow.article_id)
        ).all()
        total = conn.scalar(select(func.count()).select_from(ArticleRow))
    titles = {r.article_id: r.title for r in rows}
    story_no: dict[str, int] = {}  # stories numbered in order of first appearance
    for r in rows:
        if r.story_id:
            story_no.setdefault(r.story_id, len(story_no) + 1)
    table = Table(title=f"{total} articles ingested", show_lines=False)
    for column in ("site", "published", "words", "title", "story", "duplicate of"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r.site_name or "?",
            r.published_at.strftime("%Y-%m-%d %H:%M") if r.published_at else "?",
            str(len(r.text.split())),
            shorten(r.title, 70, placeholder=" …"),
            str(story_no[r.story_id]) if r.story_id else "",
            shorten(titles.get(r.duplicate_of) or r.duplicate_of or "", 40, placeholder=" …"),
        )
    console.print(table)
    duplicates = sum(1 for r in rows if r.duplicate_of)
    console.print(
        f"links discovered: {counts['links']}, articles stored: {total}, "
        f"flagged duplicates: {duplicates}, stories: {len(story_no)}, "
        f"dead letters: {counts['dead_letters']}"
    )


def _serve_metrics(settings: Settings, health: Health) -> None:
    if settings.metrics_port:
        serve_metrics(settings.metrics_host, settings.metrics_port, health)
        log.info("metrics_serving", address=f"{settings.metrics_host}:{settings.metrics_port}")


def _require_shared_bus(settings: Settings, service: str) -> None:
    """The separate services pass records to each other through Kafka; on the in-process
    bus their output would vanish with the process (and the poller's links be marked seen)."""
    if settings.bus != "kafka":
        raise SettingsError(
            f"{service} runs as a separate service and needs Kafka: set "
            "WIREDESK_BUS=kafka and WIREDESK_KAFKA_BOOTSTRAP (the in-memory bus would lose "
            "its records); for the whole pipeline in one process use `wiredesk run` "
            "(a long-running service, no broker) or `wiredesk local` (one pass)"
        )


def stage_service(settings: Settings, stage_name: str, stop: threading.Event) -> int:
    """One stage as a long-lived consumer-group worker."""
    from wiredesk.app.topology import build_pipeline

    _require_shared_bus(settings, f"the {stage_name} service")

    engine = database.make_engine(settings.database_url, **settings.db_session_options())
    health = Health(stage_name, stale_after_s=settings.liveness_timeout_s)
    _serve_metrics(settings, health)  # alive but not ready while the broker is awaited
    bus = _bus(settings)
    pipeline = build_pipeline(settings, engine)
    if stage_name == "write_articles":
        from sink import db_metrics

        db_metrics.register(
            engine,
            settings.feed_failing_after,
            settings.poll_interval_s * 3,
            settings.db_metrics_refresh_s,
        )
    try:
        runner = _once_broker_is_up(
            lambda: _stage_runner(
                settings, bus, pipeline.stage(stage_name), health, stop, SqlLedger(engine)
            ),
            settings,
            health,
            stop,
        )
        if runner is not None:
            runner.run()
    finally:
        bus.close()
        pipeline.close()
        engine.dispose()
    return 0


def _stage_runner(
    settings: Settings,
    bus: Bus,
    stage: Stage,
    health: Health,
    stop: threading.Event,
    ledger: Ledger | None = None,
) -> StageRunner:
    _topics_ready(bus)
    options = runner_options(settings, stage.name)
    return StageRunner(stage, bus, options=options, health=health, stop=stop, ledger=ledger)


def _topics_ready(bus: Bus) -> bool:
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    return True


def _once_broker_is_up(
    start: Callable[[], T], settings: Settings, health: Health, stop: threading.Event
) -> T | None:
    """``start()``, retried with backoff while the broker cannot be reached (a worker
    started before Kafka, or during an outage, waits instead of exiting); None if
    stopped meanwhile. Other errors propagate."""
    backoff = 1.0
    while not stop.is_set():
        try:
            return start()
        except Exception as exc:
            if not is_transient(exc):
                raise
            health.set_ready(False)
            health.beat()
            log.warning(
                "broker_unavailable", step="start", error=repr(exc)[:300], retry_in_s=backoff
            )
            stop.wait(backoff)
            backoff = min(backoff * 2, settings.retry_max_backoff_s)
    return None


def poll_service(
    settings: Settings, stop: threading.Event, once: bool = False, force: bool = False
) -> int:
    """The feed poller: poll, publish, confirm, sleep; until SIGTERM."""
    from wiredesk.app.topology import build_pipeline

    _require_shared_bus(settings, "the feed poller")

    engine = database.make_engine(settings.database_url)
    health = Health("poll_feeds", stale_after_s=settings.poll_interval_s * 3)
    _serve_metrics(settings, health)
    bus = _bus(settings)
    pipeline = build_pipeline(settings, engine, force_poll=force)
    try:
        if _once_broker_is_up(lambda: _topics_ready(bus), settings, health, stop) is None:
            return 0
        health.set_ready(True)
        run_source(
            pipeline.source,
            bus,
            LINKS.name,
            stop,
            health,
            wait_s=lambda: min(30.0, max(MIN_WAKE_S, pipeline.source.seconds_until_next_due())),
            max_backoff_s=settings.retry_max_backoff_s,
            once=once,
        )
    finally:
        bus.close()
        pipeline.close()
        engine.dispose()
    return 0


def topics(settings: Settings, action: str) -> int:
    bus = _bus(settings)
    if action == "create":
        bus.ensure_topics(t.name for t in ALL_TOPICS)
    for t in ALL_TOPICS:
        print(f"{t.name}\t{t.record_type.SCHEMA}")
    bus.close()
    return 0


def db(settings: Settings, action: str) -> int:
    if action == "upgrade":
        database.upgrade(settings.database_url)
    print(f"revision: {database.current_revision(settings.database_url)}")
    return 0


def show_config(settings: Settings) -> int:
    data = json.loads(settings.model_dump_json())
    data["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
    width = max(len(k) for k in data)
    for name, value in data.items():
        env = f"WIREDESK_{name.upper()}"
        about = Settings.model_fields[name].description or ""
        print(f"{name:<{width}}  {json.dumps(value):<30}  {env:<34}  {about}")
    return 0
