"""Delivery of a batch's results: outputs to the next topic or the sink, letters to the DLQ.

Used by :class:`wiredesk.runner.StageRunner`, which decides when (in slices of a long
batch, and once at its end, before the commit) and retries a transient failure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from structlog.typing import FilteringBoundLogger

from wiredesk import deadletters, metrics
from wiredesk.bus import Bus, Message
from wiredesk.errors import RecordRejected, is_transient
from wiredesk.records import DeadLetter, Record
from wiredesk.stage import Position, Stage


@dataclass
class Handled:
    message: Message
    outputs: list[Record]
    encoded: list[tuple[str, bytes]]


@dataclass
class Outbox:
    """A batch's results, and how many of them are already delivered."""

    handled: list[Handled] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    written: int = 0
    delivered_at: float = field(default_factory=time.monotonic)
    _handled_sent: int = 0
    _dead_sent: int = 0

    def undelivered(self) -> tuple[list[Handled], list[DeadLetter]]:
        return self.handled[self._handled_sent :], self.dead[self._dead_sent :]

    def delivered(self, written: int) -> None:
        self._handled_sent, self._dead_sent = len(self.handled), len(self.dead)
        self.written += written
        self.delivered_at = time.monotonic()


class Delivery:
    """Makes a stage's outputs and dead letters durable."""

    def __init__(self, stage: Stage, bus: Bus, group: str, log: FilteringBoundLogger) -> None:
        self.stage = stage
        self.bus = bus
        self.group = group
        self.log = log

    def deliver(self, handled: list[Handled], dead: list[DeadLetter]) -> int:
        """Make outputs and dead letters durable. Returns how many outputs were written."""
        stage = self.stage
        dead = list(dead)
        written = 0
        if stage.output is not None:
            for h in handled:
                for key, value in h.encoded:
                    try:
                        self.bus.publish(stage.output.name, key, value)
                        written += 1
                    except RecordRejected as exc:
                        dead.append(self._letter(h.message, exc.reason, exc.detail))
        elif stage.sink is not None:
            written = self._write_sink(handled, dead)
        for letter in dead:
            deadletters.publish(self.bus, letter, self.log)
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

    def _write_sink(self, handled: list[Handled], dead: list[DeadLetter]) -> int:
        assert self.stage.sink is not None
        records = [r for h in handled for r in h.outputs]
        try:
            self._sink_write(records, [h for h in handled for _ in h.outputs])
            return len(records)
        except Exception as exc:
            if is_transient(exc):
                raise
            self.log.warning("batch_write_rejected", error=repr(exc)[:300], records=len(records))
        # A record the database refuses for good: find it by writing one message at a time.
        written = 0
        for h in handled:
            try:
                self._sink_write(h.outputs, [h] * len(h.outputs))
                written += len(h.outputs)
            except Exception as exc:
                if is_transient(exc):
                    raise
                dead.append(self._letter(h.message, "write_rejected", repr(exc)[:500]))
        return written

    def _sink_write(self, records: list[Record], sources: list[Handled]) -> None:
        sink = self.stage.sink
        assert sink is not None
        if not getattr(sink, "fenced", False):
            sink.write(records)
            return
        positions = [
            Position(self.group, h.message.topic, h.message.partition, h.message.offset)
            for h in sources
        ]
        sink.write(records, positions)  # type: ignore[call-arg]

    def _letter(self, message: Message, reason: str, detail: str) -> DeadLetter:
        return deadletters.letter(self.stage.name, message, reason, detail, 1)
