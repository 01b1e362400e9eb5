"""The stage runner: consume a batch -> process -> publish/write -> commit.

Offsets are committed only after the outputs are acknowledged by the broker (or the
sink's transaction has committed), so a crash anywhere before the commit re-delivers the
batch; keyed records and upserts make that harmless. Failure handling, the same for every
stage and every bus:

* undecodable/invalid message, ``BadInput``, a record that keeps crashing ``process`` or
  exceeds its CPU/wall budget (``budget_exceeded``, :mod:`wiredesk.budget`), or one that
  kept killing workers (``crash_loop``, :mod:`wiredesk.attempts`) -> ``news.dlq`` with its
  reason; the batch goes on. Letters are bounded and their own publish failures handled
  (:mod:`wiredesk.deadletters`): no input can make a stage exit;
* transient failure (broker or database down) -> back off and retry the same step without
  committing, keeping the consumer in its group (:mod:`wiredesk.retry`);
* SIGTERM -> finish the batch in hand, commit, close; a record still being processed is
  interrupted within ``Guard.tick_s`` and its batch is left uncommitted (redelivered).

A long batch (the enricher's 100 articles take seconds) hands on what it has done so far
every ``deliver_every_s``: outputs and letters are published and flushed in slices while
the batch goes on, and the offsets are committed once, after the last slice. Downstream
sees an article within a slice (1 s by default) of being processed, not at the batch's end; a
crash before the commit redelivers the batch, whose republished outputs are keyed
(measured: BENCHMARKS.md, freshness).

A stage with a fixed cost per batch (the sink's transaction) can wait ``fill_wait_s`` for a
short batch to fill, so upstream's small slices still make big writes (measured together:
BENCHMARKS.md, cut 8).

Between records of a long batch the consumer is kept alive (a paused poll every
``keepalive_every_s``), so a slow batch never outlives max.poll.interval. C code that
never returns to Python cannot be interrupted in process: the services arm a hard
deadline that kills the worker (wall budget + ``hard_grace_s``), and the attempts ledger
turns the record that keeps doing so into a ``crash_loop`` letter. Measured overhead:
BENCHMARKS.md (bench/budget_overhead.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog

from wiredesk import deadletters, metrics
from wiredesk.attempts import Ledger, MemoryLedger
from wiredesk.budget import Budget, BudgetExceeded, Guard, Interrupted
from wiredesk.bus import Bus, Consumer, Message
from wiredesk.delivery import Delivery, Handled, Outbox
from wiredesk.errors import CommitFailed
from wiredesk.lag import LagReporter
from wiredesk.records import DeadLetter, DecodeError, Record
from wiredesk.retry import Retrier, Stopping
from wiredesk.source import Source, publish_from, run_source
from wiredesk.stage import BadInput, Stage

__all__ = ["RunnerOptions", "StageRunner", "Stopping", "drain"]
__all__ += ["Source", "publish_from", "run_source"]  # re-exported from wiredesk.source

log = structlog.get_logger(__name__)
T = TypeVar("T")


FILL_IDLE_S = 0.02  # between empty polls while a short batch waits to fill
CRASH_POINTS = ("after_poll", "after_process", "after_output", "after_commit")


@dataclass(frozen=True)
class RunnerOptions:
    poll_timeout_s: float = 1.0
    max_record_attempts: int = 3
    retry_initial_backoff_s: float = 0.5
    retry_max_backoff_s: float = 30.0
    crash_at: str | None = None  # test hook: os._exit(137) (or "freeze:" SIGSTOP) at this point
    budget: Budget | None = None  # per-record CPU/wall budget of ``process``; None: none
    hard_grace_s: float | None = None  # kill the worker at wall + this (services only)
    max_record_crashes: int = 3  # unfinished starts before a record is a crash_loop letter
    keepalive_every_s: float = 20.0  # paused poll between records of a long batch
    deliver_every_s: float = 1.0  # a long batch publishes its outputs in slices this often
    fill_wait_s: float = 0.0  # a short batch waits up to this long for more records


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
        ledger: Ledger | None = None,
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
        self.lag = LagReporter(stage.name, self.consumer, self.log)
        self.retry = Retrier(
            stage.name,
            self.consumer,
            self.health,
            self.stop,
            self.log,
            self.options.retry_initial_backoff_s,
            self.options.retry_max_backoff_s,
        )
        self._retrying = self.retry.call
        self.delivery = Delivery(stage, bus, self.group, self.log)
        self.ledger: Ledger = ledger or MemoryLedger()
        self.guard = Guard(
            self.stop, hard_grace_s=self.options.hard_grace_s, on_tick=self._beat_in_record
        )
        self._last_poll = time.monotonic()
        self._frozen = False
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
        except (Stopping, Interrupted):
            self.log.info("stopped_mid_batch", note="uncommitted batch will be redelivered")
        finally:
            self.consumer.close()
            self.log.info("stage_stopped")

    def run_batch(self) -> int:
        """One poll -> process -> deliver -> commit cycle. Returns records consumed."""
        messages = self._poll()
        self._last_poll = time.monotonic()
        self.health.beat()
        if not messages:
            self.lag.report()
            return 0
        self._crash_point("after_poll")
        started = time.perf_counter()
        name = self.stage.name
        metrics.RECORDS_IN.labels(name).inc(len(messages))
        starts: dict[tuple[str, int], int] = {}
        for m in messages:
            starts.setdefault((m.topic, m.partition), m.offset)
        suspect = self._ledger("begin_batch", lambda: self.ledger.begin_batch(self.group, starts))

        outbox = self._process_all(messages, suspect or set())
        self._crash_point("after_process")
        self._deliver_slice(outbox)
        self._crash_point("after_output")
        try:
            self._retrying("commit", lambda: self.consumer.commit(messages))
            metrics.COMMITS.labels(name).inc()
        except CommitFailed as exc:
            metrics.COMMIT_FAILED.labels(name).inc()
            self.log.warning("commit_failed", error=str(exc), records=len(messages))
        self._ledger("end_batch", lambda: self.ledger.end_batch(self.group, starts))
        self._crash_point("after_commit")

        metrics.RECORDS_OUT.labels(name).inc(outbox.written)
        dropped = sum(1 for h in outbox.handled if not h.outputs)
        metrics.RECORDS_DROPPED.labels(name).inc(dropped)
        metrics.BATCH_SECONDS.labels(name).observe(time.perf_counter() - started)
        self.lag.report()
        return len(messages)

    # -- steps -------------------------------------------------------------------------
    def _poll(self) -> list[Message]:
        """Up to a batch of messages; a short batch keeps filling for ``fill_wait_s``.

        A stage with a fixed cost per batch (the sink's dozen statements per
        transaction) pays it per record when upstream hands on small slices; waiting a
        moment for more keeps its batches big at the price of that moment's freshness.
        """
        size, wait = self.stage.batch_size, self.options.fill_wait_s
        # The broker going away surfaces here first: ride it out, as for outputs.
        messages = self._polled(size, self.options.poll_timeout_s)
        if not messages or wait <= 0:
            return messages
        deadline = time.monotonic() + wait
        while len(messages) < size and not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = self._polled(size - len(messages), left)
            if not more:  # a bus whose poll returns at once when empty must not spin
                time.sleep(min(FILL_IDLE_S, max(0.0, deadline - time.monotonic())))
            messages.extend(more)
        return messages

    def _polled(self, size: int, timeout_s: float) -> list[Message]:
        return list(self._retrying("poll", lambda: self.consumer.poll(size, timeout_s)))

    def _process_all(self, messages: Sequence[Message], suspect: set[tuple[str, int]]) -> Outbox:
        outbox = Outbox()  # slices are timed from the poll: prepare's time counts
        decoded = [self._decode(m) for m in messages]
        if self.stage.prepare is not None:
            try:
                with self._budget():
                    self.stage.prepare([r for r in decoded if isinstance(r, Record)])
            except (Exception, BudgetExceeded) as exc:  # process() still handles each record
                self.log.warning("prepare_failed", error=repr(exc)[:300])
        try:
            self._process_each(messages, decoded, suspect, outbox)
        finally:
            self.guard.disarm()
        return outbox

    def _deliver_slice(self, outbox: Outbox) -> None:
        """Deliver what is not yet delivered (retrying a broker or database away)."""
        handled, dead = outbox.undelivered()
        outbox.delivered(self._retrying("deliver", lambda: self.delivery.deliver(handled, dead)))

    def _process_each(
        self,
        messages: Sequence[Message],
        decoded: list[Record | DecodeError],
        suspect: set[tuple[str, int]],
        outbox: Outbox,
    ) -> None:
        handled, dead = outbox.handled, outbox.dead
        for message, record in zip(messages, decoded, strict=True):
            self.health.beat()  # a long batch is progress too; a frozen loop is not
            self._keepalive_if_due()
            tp = (message.topic, message.partition)
            if tp in suspect:
                letter = self._careful(message, record)
                if letter is not None:
                    dead.append(letter)
                    continue
            try:
                if isinstance(record, DecodeError):
                    raise record
                outputs, encoded = self._process_one(record)
            except DecodeError as exc:
                dead.append(self._dead_letter(message, f"decode_{exc.reason}", exc.detail, 1))
            except BadInput as exc:
                dead.append(self._dead_letter(message, exc.reason, exc.detail, 1))
            except _GaveUp as exc:
                dead.append(
                    self._dead_letter(message, "processing_error", exc.detail, exc.attempts)
                )
            except BudgetExceeded as exc:
                self.log.error("budget_exceeded", step=exc.step, detail=exc.detail)
                dead.append(self._dead_letter(message, "budget_exceeded", exc.detail, 1))
            except (Interrupted, Stopping):
                if tp in suspect:  # a stop request is no crash
                    self._end_record(tp, message.offset)
                raise
            else:
                handled.append(Handled(message, outputs, encoded))
            # not in a ``finally``: a record that takes the worker down stays unfinished
            if tp in suspect:
                self._end_record(tp, message.offset)
            if time.monotonic() - outbox.delivered_at >= self.options.deliver_every_s:
                self._deliver_slice(outbox)

    def _careful(self, message: Message, record: Record | DecodeError) -> DeadLetter | None:
        """A record of a batch that never finished: count its start; a letter if poison."""
        tp = (message.topic, message.partition)
        starts = self._ledger(
            "begin_record", lambda: self.ledger.begin_record(self.group, tp, message.offset)
        )
        if starts is None or starts < self.options.max_record_crashes:
            return None
        detail = (
            f"the worker stopped without finishing this record {starts} times "
            "(hard budget, out of memory or a crash in C code)"
        )
        self.log.error("crash_loop", partition=message.partition, offset=message.offset)
        return self._dead_letter(message, "crash_loop", detail, starts)

    def _end_record(self, tp: tuple[str, int], offset: int) -> None:
        self._ledger("end_record", lambda: self.ledger.end_record(self.group, tp, offset))

    def _decode(self, message: Message) -> Record | DecodeError:
        try:
            return self.stage.input.record_type.decode(message.value)
        except DecodeError as exc:
            return exc
        except Exception as exc:  # e.g. RecursionError on deeply nested JSON
            return DecodeError("undecodable", repr(exc)[:300])

    def _budget(self) -> contextlib.AbstractContextManager[None]:
        budget = self.options.budget
        return self.guard.limit(budget) if budget is not None else contextlib.nullcontext()

    def _guarded(self, record: Record) -> tuple[list[Record], list[tuple[str, bytes]]]:
        """``process`` under the budget; outputs are encoded here, so a record whose
        output cannot be serialised fails as this record, not as the batch."""
        with self._budget():
            outputs = list(self.stage.process(record))
            encoded = [(r.key(), r.encode()) for r in outputs] if self.stage.output else []
        return outputs, encoded

    def _process_one(self, record: Record) -> tuple[list[Record], list[tuple[str, bytes]]]:
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._retrying("process", lambda: self._guarded(record))
            except (BadInput, Stopping):
                raise
            except Exception as exc:  # a bug this record triggers; try again, then DLQ
                if attempts >= self.options.max_record_attempts:
                    self.log.error("record_failed", error=repr(exc)[:500], attempts=attempts)
                    raise _GaveUp(repr(exc)[:500], attempts) from exc
                self.log.warning("record_retry", error=repr(exc)[:500], attempt=attempts)

    # -- helpers -----------------------------------------------------------------------
    def _ledger(self, step: str, fn: Callable[[], T]) -> T | None:
        """Best effort: the ledger must not stop a stage whose database is away."""
        try:
            return fn()
        except Exception as exc:
            metrics.LEDGER_FAILED.labels(self.stage.name).inc()
            self.log.warning("ledger_failed", step=step, error=repr(exc)[:300])
            return None

    def _beat_in_record(self) -> None:
        """A record running under its budget is progress: /healthz stays 200 for up to
        the wall budget (a record stuck in C code stops the ticks, and so the beats)."""
        if time.monotonic() - self.health.last_beat >= 1.0:
            self.health.beat()

    def _keepalive_if_due(self) -> None:
        """Between records of a long batch: stay in the group (max.poll.interval)."""
        if time.monotonic() - self._last_poll < self.options.keepalive_every_s:
            return
        try:
            self.consumer.keepalive()
        except Exception as exc:
            self.log.debug("keepalive_failed", error=repr(exc))
        self._last_poll = time.monotonic()

    def _dead_letter(self, message: Message, reason: str, detail: str, attempts: int) -> DeadLetter:
        return deadletters.letter(self.stage.name, message, reason, detail, attempts)

    def _crash_point(self, point: str) -> None:
        if self.options.crash_at == point:
            self.log.warning("crash_hook", point=point)
            os._exit(137)
        if self.options.crash_at == f"freeze:{point}" and not self._frozen:
            # test hook: a zombie writer; the test resumes it with SIGCONT
            self._frozen = True
            self.log.warning("freeze_hook", point=point)
            os.kill(os.getpid(), signal.SIGSTOP)


class _GaveUp(Exception):
    def __init__(self, detail: str, attempts: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts


def drain(runners: Sequence[StageRunner], max_rounds: int = 10_000) -> int:
    """Embedded mode: run every stage in order until a whole round moves nothing."""
    total = 0
    for _ in range(max_rounds):
        moved = sum(runner.run_batch() for runner in runners)
        total += moved
        if moved == 0:
            return total
    raise RuntimeError(f"pipeline still moving after {max_rounds} rounds")
