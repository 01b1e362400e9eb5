"""The stage runner: consume a batch -> process -> publish/write -> commit.

The order is what makes delivery at-least-once and replays safe: offsets are committed
only after the outputs are acknowledged by the broker (or the sink's transaction has
committed). A crash anywhere before the commit re-delivers the batch; idempotent
outputs (keyed records, upserts) make that harmless.

Failure handling, in one place for every stage:

* undecodable/invalid message, ``BadInput``, or a record that keeps crashing ``process``
  -> the record goes to ``news.dlq`` with its reason, the batch goes on;
* transient failure (broker or database down) -> back off and retry the same step,
  without committing, while keeping the consumer in its group; readiness goes false;
* SIGTERM -> finish the batch in hand, commit, close.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from wiredesk import metrics
from wiredesk.bus import Bus, Consumer, Message
from wiredesk.errors import CommitFailed, RecordRejected, is_transient
from wiredesk.records import DeadLetter, DecodeError, Record
from wiredesk.stage import BadInput, Stage
from wiredesk.topics import DLQ

log = structlog.get_logger(__name__)
T = TypeVar("T")

# A dead letter carries the original bytes in base64 (4/3 larger) and must itself fit
# under the broker's message limit; a longer original keeps only its first bytes.
DLQ_ORIGINAL_MAX_BYTES = 512_000

CRASH_POINTS = ("after_poll", "after_process", "after_output", "after_commit")


class Stopping(Exception):
    """Raised inside a retry loop when shutdown was requested; nothing is committed."""


@dataclass(frozen=True)
class RunnerOptions:
    poll_timeout_s: float = 1.0
    max_record_attempts: int = 3
    retry_initial_backoff_s: float = 0.5
    retry_max_backoff_s: float = 30.0
    crash_at: str | None = None  # test hook: os._exit(137) at this point


@dataclass
class _Handled:
    message: Message
    outputs: list[Record]


class StageRunner:
    """Runs one stage as a member of the consumer group named after it."""

    def __init__(
        self,
        stage: Stage,
        bus: Bus,
        *,
        group: str | None = None,
        options: RunnerOptions | None = None,
        health: metrics.Health | None = None,
        stop: threading.Event | None = None,
        consumer: Consumer | None = None,
    ) -> None:
        self.stage = stage
        self.bus = bus
        self.group = group or stage.name
        self.options = options or RunnerOptions()
        self.health = health or metrics.Health(stage.name)
        self.stop = stop or threading.Event()
        self.log = log.bind(stage=stage.name, group=self.group, topic=stage.input.name)
        # a replay hands in its own bounded consumer (wiredesk.app.ops.replay)
        self.consumer: Consumer = consumer or bus.consumer([stage.input.name], self.group)
        self._reported: set[tuple[str, int]] = set()
        self.health.set_ready(True)
        metrics.PAUSED.labels(stage.name).set(0)
        metrics.initialise(stage.name)

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> None:
        """Process batches until ``stop`` is set; then close cleanly."""
        self.log.info("stage_started")
        try:
            while not self.stop.is_set():
                self.run_batch()
        except Stopping:
            self.log.info("stopped_mid_retry", note="uncommitted batch will be redelivered")
        finally:
            self.consumer.close()
            self.log.info("stage_stopped")

    def run_batch(self) -> int:
        """One poll -> process -> deliver -> commit cycle. Returns records consumed."""
        # The broker going away surfaces here first: ride it out, as for outputs.
        messages = self._retrying(
            "poll", lambda: self.consumer.poll(self.stage.batch_size, self.options.poll_timeout_s)
        )
        self.health.beat()
        if not messages:
            self._report_lag()
            return 0
        self._crash_point("after_poll")
        started = time.perf_counter()
        name = self.stage.name
        metrics.RECORDS_IN.labels(name).inc(len(messages))

        handled, dead = self._process_all(messages)
        self._crash_point("after_process")
        written = self._retrying("deliver", lambda: self._deliver(handled, dead))
        self._crash_point("after_output")
        try:
            self._retrying("commit", lambda: self.consumer.commit(messages))
            metrics.COMMITS.labels(name).inc()
        except CommitFailed as exc:
            metrics.COMMIT_FAILED.labels(name).inc()
            self.log.warning("commit_failed", error=str(exc), records=len(messages))
        self._crash_point("after_commit")

        metrics.RECORDS_OUT.labels(name).inc(written)
        dropped = sum(1 for h in handled if not h.outputs)
        metrics.RECORDS_DROPPED.labels(name).inc(dropped)
        metrics.BATCH_SECONDS.labels(name).observe(time.perf_counter() - started)
        self._report_lag()
        return len(messages)

    # -- steps -------------------------------------------------------------------------
    def _process_all(self, messages: Sequence[Message]) -> tuple[list[_Handled], list[DeadLetter]]:
        handled: list[_Handled] = []
        dead: list[DeadLetter] = []
        decoded = [self._decode(m) for m in messages]
        if self.stage.prepare is not None:
            try:
                self.stage.prepare([r for r in decoded if isinstance(r, Record)])
            except Exception as exc:  # best effort: process() still handles each record
                self.log.warning("prepare_failed", error=repr(exc)[:300])
        for message, record in zip(messages, decoded, strict=True):
            self.health.beat()  # a long batch is progress too; a frozen loop is not
            try:
                if isinstance(record, DecodeError):
                    raise record
                outputs = self._process_one(record)
            except DecodeError as exc:
                dead.append(self._dead_letter(message, f"decode_{exc.reason}", exc.detail, 1))
            except BadInput as exc:
                dead.append(self._dead_letter(message, exc.reason, exc.detail, 1))
            except _GaveUp as exc:
                dead.append(
                    self._dead_letter(message, "processing_error", exc.detail, exc.attempts)
                )
            else:
                handled.append(_Handled(message, outputs))
        return handled, dead

    def _decode(self, message: Message) -> Record | DecodeError:
        try:
            return self.stage.input.record_type.decode(message.value)
        except DecodeError as exc:
            return exc

    def _process_one(self, record: Record) -> list[Record]:
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._retrying("process", lambda: list(self.stage.process(record)))
            except (BadInput, Stopping):
                raise
            except Exception as exc:  # a bug this record triggers; try again, then DLQ
                if attempts >= self.options.max_record_attempts:
                    self.log.error("record_failed", error=repr(exc), attempts=attempts)
                    raise _GaveUp(repr(exc)[:500], attempts) from exc
                self.log.warning("record_retry", error=repr(exc), attempt=attempts)

    def _deliver(self, handled: list[_Handled], dead: list[DeadLetter]) -> int:
        """Make outputs and dead letters durable. Returns how many outputs were written."""
        stage = self.stage
        dead = list(dead)
        written = 0
        if stage.output is not None:
            for h in handled:
                for rec in h.outputs:
                    try:
                        self.bus.publish(stage.output.name, rec.key(), rec.encode())
                        written += 1
                    except RecordRejected as exc:
                        dead.append(self._dead_letter(h.message, exc.reason, exc.detail, 1))
        elif stage.sink is not None:
            written = self._write_sink(handled, dead)
        for letter in dead:
            headers = {"stage": letter.stage, "reason": letter.reason}
            self.bus.publish(DLQ.name, letter.key(), letter.encode(), headers)
        self.bus.flush()
        for letter in dead:
            metrics.DLQ.labels(stage.name, letter.reason).inc()
            self.log.warning(
                "dead_lettered",
                reason=letter.reason,
                detail=letter.detail[:300],
                partition=letter.partition,
                offset=letter.offset,
            )
        return written

    def _write_sink(self, handled: list[_Handled], dead: list[DeadLetter]) -> int:
        assert self.stage.sink is not None
        records = [r for h in handled for r in h.outputs]
        try:
            self.stage.sink.write(records)
            return len(records)
        except Exception as exc:
            if is_transient(exc):
                raise
            self.log.warning("batch_write_rejected", error=repr(exc)[:300], records=len(records))
        # A record the database refuses for good: find it by writing one message at a time.
        written = 0
        for h in handled:
            try:
                self.stage.sink.write(h.outputs)
                written += len(h.outputs)
            except Exception as exc:
                if is_transient(exc):
                    raise
                dead.append(self._dead_letter(h.message, "write_rejected", repr(exc)[:500], 1))
        return written

    # -- helpers -----------------------------------------------------------------------
    def _retrying(self, step: str, fn: Callable[[], T]) -> T:
        """Call ``fn``; on a transient error back off and retry while staying in the group."""
        backoff = self.options.retry_initial_backoff_s
        while True:
            try:
                result = fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.health.set_ready(False)
                metrics.PAUSED.labels(self.stage.name).set(1)
                if self.stop.is_set():
                    raise Stopping() from exc
                metrics.RETRIES.labels(self.stage.name, step).inc()
                self.log.warning(
                    "transient_failure",
                    step=step,
                    error=repr(exc)[:300],
                    retry_in_s=round(backoff, 2),
                )
                self._wait(backoff)
                backoff = min(backoff * 2, self.options.retry_max_backoff_s)
                continue
            if not self.health.ready:
                self.health.set_ready(True)
                metrics.PAUSED.labels(self.stage.name).set(0)
                self.log.info("recovered", step=step)
            return result

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                self.consumer.keepalive()
            except Exception as exc:  # the broker may be the thing that is down
                self.log.debug("keepalive_failed", error=repr(exc))
            self.health.beat()
            self.stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))

    def _dead_letter(self, message: Message, reason: str, detail: str, attempts: int) -> DeadLetter:
        value = message.value or b""
        return DeadLetter(
            stage=self.stage.name,
            source_topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            source_key=message.key,
            reason=reason,
            detail=detail,
            attempts=attempts,
            original=base64.b64encode(value[:DLQ_ORIGINAL_MAX_BYTES]).decode("ascii"),
            original_size=len(value),
            original_truncated=len(value) > DLQ_ORIGINAL_MAX_BYTES,
        )

    def _report_lag(self) -> None:
        """Lag and committed offset per assigned partition; partitions that moved to
        another member after a rebalance are dropped, so no stale series remains."""
        name = self.stage.name
        try:
            lags = self.consumer.lag()
            offsets = self.consumer.committed_offsets()
        except Exception as exc:
            self.log.debug("lag_failed", error=repr(exc))
            return
        for topic, partition in self._reported - set(lags):
            labels = (name, topic, str(partition))
            for gauge in (metrics.CONSUMER_LAG, metrics.CONSUMER_OFFSET):
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
        for (topic, partition), lag in lags.items():
            metrics.CONSUMER_LAG.labels(name, topic, str(partition)).set(lag)
            if (topic, partition) in offsets:
                offset = offsets[(topic, partition)]
                metrics.CONSUMER_OFFSET.labels(name, topic, str(partition)).set(offset)
        self._reported = set(lags)

    def _crash_point(self, point: str) -> None:
        if self.options.crash_at == point:
            self.log.warning("crash_hook", point=point)
            os._exit(137)


class _GaveUp(Exception):
    def __init__(self, detail: str, attempts: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts


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


def drain(runners: Sequence[StageRunner], max_rounds: int = 10_000) -> int:
    """Embedded mode: run every stage in order until a whole round moves nothing."""
    total = 0
    for _ in range(max_rounds):
        moved = sum(runner.run_batch() for runner in runners)
        total += moved
        if moved == 0:
            return total
    raise RuntimeError(f"pipeline still moving after {max_rounds} rounds")
