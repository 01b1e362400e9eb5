"""Retrying a step of the stage runner on transient failures, in its consumer group.

A broker or database that cannot be reached pauses the stage: the same step is retried
with exponential backoff (up to ``max_backoff_s``), nothing is committed meanwhile, the
consumer keeps its group membership (keepalive polls while waiting), readiness goes false
and ``wiredesk_paused`` is 1 until the step succeeds. Any other error is the record's and
propagates to the runner, which dead-letters it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from wiredesk import metrics
from wiredesk.bus import Consumer
from wiredesk.errors import is_transient

T = TypeVar("T")


class Stopping(Exception):
    """Raised inside a retry loop when shutdown was requested; nothing is committed."""


class Retrier:
    """Retries one runner's steps; ``wait`` also keeps its consumer alive."""

    def __init__(
        self,
        stage_name: str,
        consumer: Consumer,
        health: metrics.Health,
        stop: threading.Event,
        log: Any,
        initial_backoff_s: float,
        max_backoff_s: float,
    ) -> None:
        self.stage_name = stage_name
        self.consumer = consumer
        self.health = health
        self.stop = stop
        self.log = log
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s

    def call(self, step: str, fn: Callable[[], T]) -> T:
        """Call ``fn``; on a transient error back off and retry while staying in the group."""
        backoff = self.initial_backoff_s
        while True:
            try:
                result = fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.health.set_ready(False)
                metrics.PAUSED.labels(self.stage_name).set(1)
                if self.stop.is_set():
                    raise Stopping() from exc
                metrics.RETRIES.labels(self.stage_name, step).inc()
                self.log.warning(
                    "transient_failure",
                    step=step,
                    error=repr(exc)[:300],
                    retry_in_s=round(backoff, 2),
                )
                self.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if not self.health.ready:
                self.health.set_ready(True)
                metrics.PAUSED.labels(self.stage_name).set(0)
                self.log.info("recovered", step=step)
            return result

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                self.consumer.keepalive()
            except Exception as exc:  # the broker may be the thing that is down
                self.log.debug("keepalive_failed", error=repr(exc))
            self.health.beat()
            self.stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))
