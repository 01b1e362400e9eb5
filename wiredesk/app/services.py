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
LONG_RUNNING = frozenset({"poll", *SERVICES})


def stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT set the event: the worker finishes its batch, commits and exits."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
