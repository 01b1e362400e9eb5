"""The Bus protocol's contract, run against every implementation that keeps it
(tests/unit/test_bus_contract.py: memory and SQLite; tests/integration: the sql bus on
PostgreSQL). Each check takes a factory ``make(partitions) -> Bus``; a second call of the
factory is a second process's view of the same bus where the bus is durable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wiredesk.bus import MAX_MESSAGE_BYTES, Bus
from wiredesk.errors import RecordRejected

MakeBus = Callable[[int], Bus]


def groups_have_their_own_offsets(make: MakeBus) -> None:
    bus = make(3)
    for i in range(10):
        bus.publish("t", f"k{i}", f"v{i}".encode(), {"h": str(i)})
    bus.flush()
    first = bus.consumer(["t"], "g1")
    batch = first.poll(100, 0)
    assert sorted(m.value for m in batch) == sorted(f"v{i}".encode() for i in range(10))
    assert {m.headers["h"] for m in batch} == {str(i) for i in range(10)}
    assert {m.topic for m in batch} == {"t"}
    first.commit(batch)
    assert sum(first.lag().values()) == 0
    assert bus.consumer(["t"], "g1").poll(100, 0) == []  # a restarted member resumes
    assert len(bus.consumer(["t"], "g2").poll(100, 0)) == 10  # a fresh group: from the start


def same_key_same_partition_in_order(make: MakeBus) -> None:
    bus = make(4)
    for i in range(5):
        bus.publish("t", "story-1", str(i).encode())
    bus.flush()
    got = bus.consumer(["t"], "g").poll(100, 0)
    assert {m.partition for m in got} == {got[0].partition}
    assert [m.value for m in got] == [b"0", b"1", b"2", b"3", b"4"]
    assert [m.offset for m in got] == [0, 1, 2, 3, 4]


def uncommitted_records_come_back(make: MakeBus) -> None:
    bus = make(1)
    for i in range(4):
        bus.publish("t", None, str(i).encode())
    bus.flush()
    c = bus.consumer(["t"], "g")
    c.commit(c.poll(2, 0))
    c.poll(2, 0)  # taken but never committed: the worker "crashes" here
    again = make(1).consumer(["t"], "g").poll(10, 0)
    assert [m.value for m in again] == [b"2", b"3"]
    assert c.lag() == {("t", 0): 2}
    assert c.committed_offsets() == {("t", 0): 2}


def oversized_records_are_refused(make: MakeBus) -> None:
    bus = make(1)
    with pytest.raises(RecordRejected) as info:
        bus.publish("t", None, b"x" * (MAX_MESSAGE_BYTES + 1))
    assert info.value.reason == "too_large"
    bus.publish("t", None, b"small")
    bus.flush()  # the other publishes are unaffected
    assert [m.value for m in bus.consumer(["t"], "g").poll(10, 0)] == [b"small"]


def a_commit_never_moves_back(make: MakeBus) -> None:
    bus = make(1)
    for i in range(6):
        bus.publish("t", None, str(i).encode())
    bus.flush()
    c = bus.consumer(["t"], "g")
    batch = c.poll(10, 0)
    c.commit(batch)
    c.commit(batch[:2])  # a late, older commit
    assert c.lag() == {("t", 0): 0}


CONTRACT = [
    groups_have_their_own_offsets,
    same_key_same_partition_in_order,
    uncommitted_records_come_back,
    oversized_records_are_refused,
    a_commit_never_moves_back,
]
