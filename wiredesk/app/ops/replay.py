"""``wiredesk replay``: re-run one stage over a time range of its input topic.

The replay reads with its own consumer group (``<stage>.replay.<UTC time>`` unless
``--group`` names one to resume), seeks every partition to the first message at/after
FROM (Kafka's time index, ``offsets_for_times``) and stops at the first at/after TO, or at
the end offsets taken when it started. Live consumer groups are never touched. Outputs go
where the stage's outputs always go: the sink upserts (a no-op for unchanged records), a
topic stage publishes to its output topic, where the live downstream groups pick it up
(e.g. re-extraction from news.raw with a newer extractor updates rows in place).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wiredesk.app.ops.replay_consumers import (
    KafkaReplayConsumer,
    MemoryReplayConsumer,
    SqlReplayConsumer,
    _Bounded,
)
from wiredesk.bus import Bus
from wiredesk.metrics import Health
from wiredesk.runner import RunnerOptions, StageRunner, Stopping
from wiredesk.stage import Stage

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, now: datetime | None = None) -> datetime | None:
    """``earliest`` (None), a relative age like ``90m``/``6h``/``2d``, or ISO 8601 (a
    date or a date and time; UTC unless an offset is given)."""
    value = value.strip()
    if value.lower() in ("earliest", "beginning"):
        return None
    now = now or datetime.now(UTC)
    if m := _RELATIVE.match(value.lower()):
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read time {value!r}: use 'earliest', an age like 6h or 2d, or ISO 8601 "
            "like 2026-11-20 or 2026-11-20T08:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def millis(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def replay_group(stage: str, now: datetime | None = None) -> str:
    return f"{stage}.replay.{(now or datetime.now(UTC)):%Y%m%dT%H%M%S}"


@dataclass
class ReplayResult:
    group: str
    total: int
    replayed: int
    seconds: float
    interrupted: bool

    @property
    def rate(self) -> float:
        return self.replayed / self.seconds if self.seconds > 0 else 0.0


def bounded_consumer(
    bus: Bus, stage: Stage, group: str, start: datetime | None, end: datetime | None
) -> _Bounded:
    from wiredesk.bus.kafka import KafkaBus
    from wiredesk.bus.memory import MemoryBus
    from wiredesk.bus.sql import SqlBus

    if isinstance(bus, KafkaBus):
        return KafkaReplayConsumer(
            bus.bootstrap, stage.input.name, group, millis(start), millis(end), bus.namespace
        )
    if isinstance(bus, SqlBus):
        return SqlReplayConsumer(bus, stage.input.name, group, millis(start), millis(end))
    assert isinstance(bus, MemoryBus)
    return MemoryReplayConsumer(bus, stage.input.name, group, millis(start), millis(end))


def replay(
    stage: Stage,
    bus: Bus,
    consumer: _Bounded,
    group: str,
    *,
    options: RunnerOptions | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Run ``stage`` over what ``consumer`` bounds until caught up (or ``stop``)."""
    stop = stop or threading.Event()
    runner = StageRunner(
        stage,
        bus,
        group=group,
        options=options,
        health=Health(stage.name),
        stop=stop,
        consumer=consumer,
    )
    started = time.perf_counter()
    try:
        while not consumer.caught_up() and not stop.is_set():
            runner.run_batch()
            if on_progress:
                on_progress(consumer.done_count, consumer.total)
        bus.flush()
    except Stopping:
        pass  # interrupted while backing off: the uncommitted batch is simply not done
    finally:
        consumer.close()
    return ReplayResult(
        group=group,
        total=consumer.total,
        replayed=consumer.done_count,
        seconds=time.perf_counter() - started,
        interrupted=not consumer.caught_up(),
    )
