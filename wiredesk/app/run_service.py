"""``wiredesk run``: the whole pipeline as one long-running service, no broker needed.

The feed poller and every stage run in one process over the sql bus (tables in a SQLite
file beside the database, or in PostgreSQL), so links not yet fetched, raw pages and dead
letters survive a restart and ``dlq``/``replay`` work on them. The stages are the same
code as the services' (one ``StageRunner`` each, their consumer groups named after them).

One cooperative loop on the main thread, not a thread per stage: the per-record budgets
interrupt Python code with SIGALRM, which only reaches the main thread, so threads would
run the stages without their CPU/wall budgets. The stages are I/O-bound and concurrent
inside (fetch workers, extraction sandbox processes, feed poll workers); a loop adds no
locking, keeps SIGTERM simple (the batch in hand finishes, is committed, exit 0), and a
stage stuck in a batch stops the loop's heartbeat, so ``/healthz`` reports it.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ingest.schedule import MIN_WAKE_S

if TYPE_CHECKING:  # the rest is imported when the service starts: `--help` stays fast
    from wiredesk.settings import Settings

PRUNE_EVERY_S = 600.0  # retention of the sql bus (bus_retention_hours)
POLL_CHECK_MAX_S = 30.0  # re-read the feed schedule at least this often (feeds added)

DESCRIPTION = """\
Run the whole pipeline as one long-running service on one machine, with no broker:
poll the feeds on their schedule, fetch, extract, enrich and store continuously until
SIGTERM (the batch in hand is finished and committed; exit 0).

Records pass through the sql bus (WIREDESK_BUS=sql; the in-memory default is replaced by
it; with WIREDESK_BUS=kafka run the separate services instead): tables in
WIREDESK_BUS_URL, by default a SQLite file beside a SQLite database (wiredesk.db ->
wiredesk.bus.db) or the database itself on PostgreSQL. Links not yet fetched, raw pages
and dead letters survive a restart or kill -9; `wiredesk dlq list`, `dlq resend` and
`wiredesk replay` work on them (export WIREDESK_BUS=sql for those). Kafka
(WIREDESK_BUS=kafka, one service per stage) is how wiredesk scales out.

Settings that matter: WIREDESK_DATABASE_URL (migrated at start), WIREDESK_FEEDS or
WIREDESK_FEEDS_FILE (or `wiredesk feeds add`), WIREDESK_METRICS_PORT (/metrics,
/healthz, /readyz), WIREDESK_BUS_URL, WIREDESK_BUS_RETENTION_HOURS (consumed messages of
news.links/articles/enriched older than this are deleted; news.raw and news.dlq are
kept, for ever unless WIREDESK_BUS_RAW_RETENTION_HOURS), WIREDESK_POLL_INTERVAL_S. One
`wiredesk run` per bus: a second one exits 2.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def run(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> int:
    del args
    from wiredesk import db as database
    from wiredesk.app.buslock import only_one
    from wiredesk.app.commands import _bus, _serve_metrics, log, runner_options
    from wiredesk.app.topology import build_pipeline
    from wiredesk.attempts import SqlLedger
    from wiredesk.metrics import Health
    from wiredesk.runner import StageRunner
    from wiredesk.topics import ALL_TOPICS

    if settings.bus == "kafka":
        from wiredesk.settings import SettingsError

        raise SettingsError(
            "`wiredesk run` runs on the sql bus (unset WIREDESK_BUS or set it to sql); "
            "on Kafka, run one service per stage (wiredesk poll|fetch|extract|enrich|sink)"
        )
    settings = settings.model_copy(update={"bus": "sql"})  # memory (the default) or sql
    database.upgrade(settings.database_url)
    engine = database.make_engine(settings.database_url, **settings.db_session_options())
    health = Health("run", stale_after_s=settings.liveness_timeout_s)
    _serve_metrics(settings, health)
    with only_one(settings):
        bus = _bus(settings)
        bus.ensure_topics(t.name for t in ALL_TOPICS)
        pipeline = build_pipeline(settings, engine)
        _register_db_metrics(settings, engine)
        ledger = SqlLedger(engine)
        runners = []
        for stage in pipeline.stages:
            # every stage in one loop: a poll must not wait while another stage has work
            options = replace(
                runner_options(settings, stage.name),
                poll_timeout_s=0.0,
                hard_grace_s=settings.budget_hard_grace_s,
            )
            runners.append(
                StageRunner(stage, bus, options=options, health=health, stop=stop, ledger=ledger)
            )
        log.info("run_started", bus=settings.bus, stages=[s.name for s in pipeline.stages])
        try:
            _loop(settings, bus, pipeline.source, runners, health, stop)
        finally:
            for runner in runners:
                runner.consumer.close()
            bus.close()
            pipeline.close()
            engine.dispose()
    log.info("run_stopped")
    return 0


def _loop(settings: Settings, bus: Any, source: Any, runners: Any, health: Any, stop: Any) -> None:
    """Poll when due, one batch of each stage, prune when due; wait only when idle."""
    from wiredesk import metrics
    from wiredesk.app.commands import log
    from wiredesk.budget import Interrupted
    from wiredesk.errors import is_transient
    from wiredesk.runner import Stopping, publish_from
    from wiredesk.topics import LINKS

    next_poll = 0.0
    next_prune = time.monotonic()
    backoff = 0.5
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_poll:
            try:
                published = publish_from(source, bus, LINKS.name)
                log.info("poll_round", published=published)
                wait = source.seconds_until_next_due()
                next_poll = now + min(POLL_CHECK_MAX_S, max(MIN_WAKE_S, wait))
                backoff = 0.5
                health.set_ready(True)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                health.set_ready(False)
                metrics.RETRIES.labels(source.name, "poll").inc()
                log.warning("transient_failure", step="poll", error=repr(exc)[:300])
                next_poll = now + backoff
                backoff = min(backoff * 2, settings.retry_max_backoff_s)
        moved = 0
        try:
            for runner in runners:
                if stop.is_set():  # SIGTERM: the batch in hand was finished; start no other
                    return
                moved += runner.run_batch()
        except (Stopping, Interrupted):
            log.info("stopped_mid_batch", note="uncommitted batch will be redelivered")
            return
        health.beat()
        if time.monotonic() >= next_prune:
            next_prune = time.monotonic() + PRUNE_EVERY_S
            try:
                deleted = bus.prune()
            except Exception as exc:  # retention can wait for the next round
                if not is_transient(exc):
                    raise
                log.warning("bus_prune_failed", error=repr(exc)[:300])
            else:
                if deleted:
                    log.info("bus_pruned", messages=deleted)
        if moved == 0:
            stop.wait(max(0.0, min(settings.poll_timeout_s, next_poll - time.monotonic())))


def _register_db_metrics(settings: Settings, engine: Any) -> None:
    from sink import db_metrics

    db_metrics.register(
        engine,
        settings.feed_failing_after,
        settings.poll_interval_s * 3,
        settings.db_metrics_refresh_s,
    )
