"""The long-running stage services and their shutdown signal, shared by the CLI modules."""

from __future__ import annotations

import signal
import threading

import structlog

log = structlog.get_logger("wiredesk")

# command -> (stage name, help text)
SERVICES = {
    "fetch": ("fetch_pages", "fetch article pages: news.links -> news.raw"),
    "extract": ("extract_articles", "extract text and metadata: news.raw -> news.articles"),
    "enrich": ("enrich_articles", "dedup and tag: news.articles -> news.enriched"),
    "sink": ("write_articles", "write to the database: news.enriched -> articles table"),
}
LONG_RUNNING = frozenset({"poll", "run", *SERVICES})

_COMMON = "bus, kafka_bootstrap, namespace, batch_size, metrics_port, log_format"
# command -> what `wiredesk COMMAND --help` explains: input, output, the settings that matter
SERVICE_HELP = {
    "poll": (
        "Polls every enabled feed of the registry (table feeds; the settings feeds and "
        "feeds_file are added at start) on its schedule with conditional GET, and publishes "
        "each entry not seen before to news.links, keyed by canonical URL. A link is marked "
        "seen only once it is on the broker.",
        f"poll_interval_s, poll_min_interval_s, poll_max_interval_s, poll_adaptive, "
        f"feed_max_bytes, feed_max_items, feed_poll_workers, database_url, {_COMMON}",
    ),
    "fetch": (
        "Consumes news.links and fetches each page: public addresses only (loopback ports "
        "by fetch_allow_loopback_ports), robots.txt and Crawl-delay obeyed, size and time "
        "bounded; publishes the raw page to news.raw with its rights evidence (headers, "
        "robots.txt AI rules, tdmrep.json), and archives it in WARC files (archive_url). "
        "Refusals and failures go to news.dlq.",
        "fetch_workers, fetch_host_delay_s, fetch_host_concurrency, fetch_timeout_s, "
        "fetch_max_bytes, fetch_allow_loopback_ports, robots_enabled, rights_tdmrep, "
        f"user_agent, fetch_budget_cpu_s, archive_url, archive_max_bytes, {_COMMON}",
    ),
    "extract": (
        "Consumes news.raw, extracts text and metadata with trafilatura in a sandboxed "
        "worker process (time and memory bounded), records paywall, TDM and AI opt-out "
        "flags, applies the rights policy and publishes news.articles.",
        "extract_workers, extract_timeout_s, extract_memory_mb, extract_min_chars, "
        f"rights_policy, extract_budget_cpu_s, {_COMMON}",
    ),
    "enrich": (
        "Consumes news.articles: detects the language, flags wire copies (the earliest "
        "copy is the original), groups stories and tags canonical entities; publishes "
        "news.enriched, including revised verdicts of earlier articles. Its state is in "
        "the database.",
        "ner_enabled, ner_model, dedup_threshold, dedup_window_hours, story_threshold, "
        "story_window_hours, "
        f"transform_retention_days, database_url, enrich_budget_cpu_s, {_COMMON}",
    ),
    "sink": (
        "Consumes news.enriched and upserts articles, stories and entities into the "
        "database, one transaction per batch; offsets are committed after it commits, and "
        "an older version never overwrites a newer one.",
        "database_url, db_lock_timeout_s, db_statement_timeout_s, "
        f"db_idle_in_transaction_timeout_s, sink_budget_cpu_s, {_COMMON}",
    ),
}


def service_help(command: str) -> tuple[str, str]:
    """(description, epilog) of a service's --help."""
    text, settings = SERVICE_HELP[command]
    names = ", ".join(f"WIREDESK_{n.strip().upper()}" for n in settings.split(","))
    epilog = (
        f"Settings that matter most (env variables, or keys of the --config file): {names}. "
        "`wiredesk config` prints them all. Runs until SIGTERM or Ctrl-C: the batch in hand "
        "is finished and committed, then exit 0."
    )
    return text, epilog


_STOP = threading.Event()


def _request_stop(signum: int, _frame: object) -> None:
    _STOP.set()


def stop_early_on_signals() -> None:
    """Called first thing by the entry point: a SIGTERM/SIGINT that arrives while the
    worker is still importing or connecting sets the shared stop event instead of
    killing the process, so a worker retired seconds after its start exits 0 without
    having consumed anything (the rebalance storm of the fault suite does this)."""
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)


def default_signals() -> bool:
    """For one-shot commands: the default signal behaviour again; True if a stop was
    requested before this call (the caller exits as if terminated)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return _STOP.is_set()


def stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT set the event: the worker finishes its batch, commits and exits.
    A signal received before this call (see ``stop_early_on_signals``) counts too."""

    def handler(signum: int, _frame: object) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        _STOP.set()

    if _STOP.is_set():
        log.info("signal_received", note="before the worker had started")
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return _STOP
