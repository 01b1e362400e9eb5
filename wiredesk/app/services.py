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
