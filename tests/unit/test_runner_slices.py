"""Issue 17, freshness: a long batch hands on its outputs and letters in slices while it
goes on; its offsets are committed once, after the last slice."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tests.conftest import metric
from tests.unit.test_runner import FAST, IN, OUT, committed, dead_letters, fill, link
from wiredesk.bus.memory import MemoryBus
from wiredesk.records import Link
from wiredesk.runner import StageRunner, drain
from wiredesk.stage import BadInput, Stage


class Crash(BaseException):
    """Stands in for the worker dying mid-batch (not an Exception: nothing catches it)."""


class Watcher:
    """A slow stage that notes, as each record starts, what downstream can already see."""

    def __init__(self, bus: MemoryBus, group: str, seconds: float, crash_at: str = "") -> None:
        self.bus, self.group, self.seconds, self.crash_at = bus, group, seconds, crash_at
        self.seen: dict[str, tuple[int, int, int]] = {}  # title -> (outputs, letters, committed)

    def __call__(self, record: Link):
        self.seen[record.entry_title] = (
            len(self.bus.messages(OUT.name)),
            len(dead_letters(self.bus)),
            committed(self.bus, self.group),
        )
        if record.entry_title == self.crash_at:
            self.crash_at = ""  # the restarted worker gets past it
            raise Crash
        if record.entry_title.startswith("bad"):
            raise BadInput("bad_title", "titles may not be 'bad'")
        time.sleep(self.seconds)
        yield record


@pytest.fixture
def memory_bus() -> MemoryBus:
    return MemoryBus(partitions=1)  # records in order: the slices are predictable


def titled(n: int) -> list[Link]:
    return [link(i, "bad" if i == 1 else f"r{i}") for i in range(n)]


def test_a_long_batch_delivers_in_slices_and_commits_once_at_its_end(memory_bus):
    fill(memory_bus, *titled(8))
    watcher = Watcher(memory_bus, "sliced", seconds=0.05)
    options = replace(FAST, deliver_every_s=0.04)
    stage = Stage("sliced", IN, watcher, output=OUT)
    assert drain([StageRunner(stage, memory_bus, options=options)])
    # r3 starts after r0 and r2 took 0.05 s each (each then made a slice): both are
    # downstream, with the letter of record 1, and nothing is committed yet
    assert watcher.seen["r3"] == (2, 1, 0)
    assert watcher.seen["r7"][0] == 6 and watcher.seen["r7"][2] == 0
    assert len(memory_bus.messages(OUT.name)) == 7  # every output once
    assert len(dead_letters(memory_bus)) == 1
    assert committed(memory_bus, "sliced") == 8
    assert metric("wiredesk_records_out_total", stage="sliced") == 7


def test_a_quick_batch_is_delivered_once_at_its_end(memory_bus):
    fill(memory_bus, *titled(6))
    watcher = Watcher(memory_bus, "whole", seconds=0.0)
    assert drain([StageRunner(Stage("whole", IN, watcher, output=OUT), memory_bus, options=FAST)])
    assert watcher.seen["r5"] == (0, 0, 0)  # default slice 1 s: nothing left before the end
    assert len(memory_bus.messages(OUT.name)) == 5
    assert committed(memory_bus, "whole") == 6


def test_a_crash_after_some_slices_redelivers_the_batch_and_loses_nothing(memory_bus):
    fill(memory_bus, *titled(8))
    watcher = Watcher(memory_bus, "crashy", seconds=0.05, crash_at="r5")
    stage = Stage("crashy", IN, watcher, output=OUT)
    options = replace(FAST, deliver_every_s=0.04)
    with pytest.raises(Crash):
        drain([StageRunner(stage, memory_bus, options=options)])
    assert committed(memory_bus, "crashy") == 0
    delivered_before_crash = len(memory_bus.messages(OUT.name))
    assert delivered_before_crash >= 3
    drain([StageRunner(stage, memory_bus, options=options)])  # the restarted worker
    assert committed(memory_bus, "crashy") == 8
    urls = [Link.decode(m.value).url for m in memory_bus.messages(OUT.name)]
    # every output downstream; the slices before the crash once more (keyed: harmless)
    assert sorted(set(urls)) == sorted(r.url for r in titled(8) if r.entry_title != "bad")
    assert len(urls) == 7 + delivered_before_crash
