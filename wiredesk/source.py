"""Source services (the feed poller): stages with no input topic.

A source discovers records by itself; a round publishes them, waits for the broker's
acknowledgements, and only then confirms them to the source, so a crash re-publishes
instead of losing (downstream is idempotent). Moved here from ``wiredesk.runner``, which
re-exports these names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from wiredesk import metrics
from wiredesk.bus import Bus
from wiredesk.errors import is_transient
from wiredesk.records import Record

log = structlog.get_logger(__name__)


class Source(Protocol):
    """A stage with no input topic (the feed poller): it discovers records by itself."""

    name: str

    def poll(self) -> Sequence[Record]:
        """Records discovered since the last call."""

    def confirm(self, records: Sequence[Record]) -> None:
        """Called after ``records`` were durably published; remember them as done."""


def publish_from(source: Source, bus: Bus, topic: str) -> int:
    """One round of a source: poll, publish, flush, then confirm. Returns records published."""
    records = source.poll()
    for rec in records:
        bus.publish(topic, rec.key(), rec.encode())
    bus.flush()
    source.confirm(records)
    metrics.RECORDS_OUT.labels(source.name).inc(len(records))
    return len(records)


def run_source(
    source: Source,
    bus: Bus,
    topic: str,
    stop: threading.Event,
    health: metrics.Health,
    *,
    wait_s: Callable[[], float],
    max_backoff_s: float = 30.0,
    once: bool = False,
) -> None:
    """A source service: publish rounds, ``wait_s()`` seconds apart, until ``stop``.

    A transient failure (broker or database down) backs off and retries, as the stage
    runner does, instead of ending the service; nothing was confirmed, so the next
    round publishes the same records again (downstream is idempotent).
    """
    backoff = 0.5
    while not stop.is_set():
        try:
            published = publish_from(source, bus, topic)
        except Exception as exc:
            if not is_transient(exc):
                raise
            health.set_ready(False)
            health.beat()
            metrics.RETRIES.labels(source.name, "poll").inc()
            log.warning("transient_failure", step="poll", error=repr(exc)[:300], retry_in_s=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff_s)
            continue
        backoff = 0.5
        health.set_ready(True)
        health.beat()
        log.info("poll_round", published=published)
        if once:
            return
        stop.wait(wait_s())
