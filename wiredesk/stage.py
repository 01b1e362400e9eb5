"""The one concept of the pipeline: a Stage.

A stage reads records of one topic, calls ``process(record)`` on each, and hands what
comes back to its output: another topic, or a sink that writes a batch to the database.
The runner (``wiredesk.runner``) does everything else, the same way under the in-process
bus and under Kafka.

Contract of ``process``:

* return an iterable of 0..n records: none drops the input, one maps it, many fan out;
* raise :class:`BadInput` for a deterministic problem with this record (it goes to the
  DLQ with the reason, and the stage moves on);
* raise :class:`Transient` (or let a database/broker connection error escape) for a
  problem that may pass: the runner retries with backoff and commits nothing meanwhile;
* any other exception is treated as a bug triggered by this record: retried a few
  times, then the record goes to the DLQ as ``processing_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from wiredesk.records import Record
from wiredesk.topics import Topic


class BadInput(Exception):
    """A record this stage can never handle. ``reason`` is a short, bounded metric label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Transient(Exception):
    """A failure that may pass (a server down, a timeout): retry, do not DLQ."""


class Sink(Protocol):
    """Writes a batch durably (one transaction) and idempotently (replays are no-ops)."""

    def write(self, records: Sequence[Record]) -> None: ...


@dataclass(frozen=True)
class Position:
    """Where a record came from: the consumer group and the input message's position.

    A sink that sets ``fenced = True`` is called as ``write(records, positions)`` (one
    position per record) so it can order versions totally and fence stale writers."""

    group: str
    topic: str
    partition: int
    offset: int


def passthrough(record: Record) -> Iterable[Record]:
    yield record


@dataclass(frozen=True)
class Stage:
    """name doubles as consumer group and metric label; exactly one of output/sink is set."""

    name: str
    input: Topic
    process: Callable[[Record], Iterable[Record]] = passthrough
    output: Topic | None = None
    sink: Sink | None = None
    batch_size: int = 100
    # Optional: called with a batch's decoded records before ``process`` is called on each,
    # so a stage can start work on the whole batch at once (the fetcher fetches concurrently).
    prepare: Callable[[Sequence[Record]], None] | None = None

    def __post_init__(self) -> None:
        if (self.output is None) == (self.sink is None):
            raise ValueError(f"stage {self.name}: set exactly one of output and sink")
