"""The sql bus on a real PostgreSQL: the same Bus contract as the other buses, and
concurrent writers (separate processes) get unique offsets that readers never see out of
order."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from tests.bus_contract import CONTRACT
from wiredesk.bus.sql import SqlBus

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_bus_contract_on_postgres(pg_url: str, check) -> None:  # type: ignore[no-untyped-def]
    check(lambda n: SqlBus(pg_url, partitions=n))


def _publisher(url: str, name: str, n: int) -> None:
    bus = SqlBus(url, partitions=2)
    for i in range(n):
        bus.publish("t", "same-key", f"{name}{i}".encode())
        if i % 5 == 0:
            bus.flush()
    bus.close()


def test_concurrent_writers_on_postgres(pg_url: str) -> None:
    SqlBus(pg_url, partitions=2).ensure_topics(["t"])
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_publisher, args=(pg_url, name, 50)) for name in "abcd"]
    for p in procs:
        p.start()
    reader = SqlBus(pg_url).consumer(["t"], "g")
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen.extend(reader.poll(100, 0.2))  # reading while they write: never a gap
        if not any(p.is_alive() for p in procs) and len(seen) >= 200:
            break
        assert all(p.exitcode in (None, 0) for p in procs)
    assert [m.offset for m in seen] == list(range(200))  # one key: one partition, in order
    for name in "abcd":
        mine = [m.value for m in seen if m.value.startswith(name.encode())]
        assert mine == [f"{name}{i}".encode() for i in range(50)]
