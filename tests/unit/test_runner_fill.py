"""Issue 17, freshness vs cost: a stage with a fixed cost per batch (the sink) waits a
moment for a short batch to fill, so upstream's small slices still make big writes."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from tests.unit.test_runner import FAST, IN, RecordingSink, committed, fill, link
from wiredesk.app.commands import runner_options
from wiredesk.app.topology import STAGE_NAMES
from wiredesk.bus.memory import MemoryBus
from wiredesk.runner import StageRunner
from wiredesk.settings import Settings
from wiredesk.stage import Stage


class BatchSizes(RecordingSink):
    def __init__(self, bus: MemoryBus, group: str) -> None:
        super().__init__(bus, group)
        self.sizes: list[int] = []

    def write(self, records):
        self.sizes.append(len(records))
        super().write(records)


@pytest.fixture
def memory_bus() -> MemoryBus:
    return MemoryBus(partitions=1)


def publish_in_slices(bus: MemoryBus, slices: int, per_slice: int, every_s: float) -> None:
    """Upstream handing on a slice every ``every_s`` (after the first, already there)."""
    for s in range(1, slices):
        time.sleep(every_s)
        fill(bus, *(link(s * per_slice + i) for i in range(per_slice)))


def upstream_of(bus: MemoryBus) -> threading.Thread:
    """Five slices of three records, 0.05 s apart; the first is there when this returns."""
    fill(bus, *(link(i) for i in range(3)))
    thread = threading.Thread(target=publish_in_slices, args=(bus, 5, 3, 0.05))
    thread.start()
    return thread


def run_once(bus: MemoryBus, fill_wait_s: float, batch_size: int = 100, **kw) -> BatchSizes:
    sink = BatchSizes(bus, "write")
    options = replace(FAST, fill_wait_s=fill_wait_s)
    stage = Stage("write", IN, sink=sink, batch_size=batch_size)
    StageRunner(stage, bus, options=options, **kw).run_batch()
    return sink


def test_a_short_batch_waits_for_upstream_slices_and_writes_them_together(memory_bus):
    upstream = upstream_of(memory_bus)
    sink = run_once(memory_bus, fill_wait_s=2.0)
    upstream.join()
    assert sink.sizes == [15]  # five slices of three, one write
    assert committed(memory_bus, "write") == 15


def test_without_a_fill_wait_each_slice_is_its_own_write(memory_bus):
    upstream = upstream_of(memory_bus)
    sink = run_once(memory_bus, fill_wait_s=0.0)
    upstream.join()
    assert sink.sizes == [3]


def test_a_full_batch_and_an_empty_poll_do_not_wait(memory_bus):
    started = time.monotonic()
    assert run_once(memory_bus, fill_wait_s=30.0).sizes == []  # nothing there: no wait
    fill(memory_bus, *(link(i) for i in range(7)))
    assert run_once(memory_bus, fill_wait_s=30.0, batch_size=5).sizes == [5]
    assert time.monotonic() - started < 10  # either wait would have taken 30 s


def test_a_stop_request_ends_the_wait_and_the_batch_in_hand_is_written(memory_bus):
    fill(memory_bus, *(link(i) for i in range(2)))
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    sink = run_once(memory_bus, fill_wait_s=30.0, stop=stop)
    assert time.monotonic() - started < 10
    assert sink.sizes == [2]
    assert committed(memory_bus, "write") == 2


def test_only_the_sink_waits_and_by_default_it_does_not():
    assert {runner_options(Settings(), s).fill_wait_s for s in STAGE_NAMES} == {0.0}
    settings = Settings(sink_fill_wait_s=0.25)
    waits = {s: runner_options(settings, s).fill_wait_s for s in STAGE_NAMES}
    assert waits == {
        "fetch_pages": 0.0,
        "extract_articles": 0.0,
        "enrich_articles": 0.0,
        "write_articles": 0.25,
    }
