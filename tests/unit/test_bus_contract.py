"""The Bus contract on the in-process bus and on the sql bus over SQLite, plus what only
a durable bus promises: publishes survive the process once flushed, not before."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from tests.bus_contract import CONTRACT, MakeBus
from wiredesk.bus import make_bus
from wiredesk.bus.memory import MemoryBus
from wiredesk.bus.sql import SqlBus
from wiredesk.bus.sql_tables import messages


@pytest.fixture(params=["memory", "sql"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> MakeBus:
    if request.param == "memory":
        shared: dict[str, MemoryBus] = {}
        return lambda n: shared.setdefault("bus", MemoryBus(partitions=n))
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    return lambda n: make_bus("sql", url=url, partitions=n)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_bus_contract(make: MakeBus, check) -> None:  # type: ignore[no-untyped-def]
    check(make)


def test_sql_publishes_are_durable_after_flush_and_invisible_before(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    bus = SqlBus(url, partitions=2)
    bus.publish("t", "a", b"1")
    assert SqlBus(url).consumer(["t"], "g").poll(10, 0) == []  # not flushed: not there
    bus.flush()
    other = SqlBus(url)  # another process's view after a restart
    assert [m.value for m in other.consumer(["t"], "g").poll(10, 0)] == [b"1"]
    assert other.partitions_of("t") == 2  # a topic keeps the partition count it was made with


def _publisher(url: str, name: str, n: int) -> None:
    bus = SqlBus(url, partitions=1)
    for i in range(n):
        bus.publish("t", None, f"{name}{i}".encode())
        if i % 7 == 0:
            bus.flush()
    bus.close()


def test_concurrent_writers_get_unique_contiguous_offsets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    SqlBus(url, partitions=1).ensure_topics(["t"])
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_publisher, args=(url, name, 60)) for name in "abc"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    got = SqlBus(url).consumer(["t"], "g").poll(1000, 0)
    assert [m.offset for m in got] == list(range(180))
    assert sorted(m.value for m in got) == sorted(
        f"{n}{i}".encode() for n in "abc" for i in range(60)
    )
    for name in "abc":  # each writer's records stay in its order
        mine = [m.value for m in got if m.value.startswith(name.encode())]
        assert mine == [f"{name}{i}".encode() for i in range(60)]


def test_a_poll_waits_for_a_publish_up_to_its_timeout(tmp_path: Path) -> None:
    bus = SqlBus(f"sqlite:///{tmp_path / 'bus.db'}", partitions=1)
    c = bus.consumer(["t"], "g")
    started = time.monotonic()
    assert c.poll(10, 0.3) == []
    assert time.monotonic() - started >= 0.3


def test_retention_keeps_raw_pages_dead_letters_and_what_a_live_group_has_not_read(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    bus = SqlBus(url, partitions=1, retention_hours=1)
    for topic in ("news.links", "news.raw", "news.dlq"):
        for i in range(4):
            bus.publish(topic, None, f"{i}".encode())
    bus.flush()
    links = bus.consumer(["news.links"], "fetch_pages")
    links.commit(links.poll(2, 0))  # the live group read 2 of 4, then stopped for 2 h
    old_replay = bus.consumer(["news.links"], "fetch_pages.replay.20261101T000000")
    old_replay.commit(old_replay.poll(1, 0))  # a replay group left behind protects nothing
    later = int(time.time() * 1000) + 2 * 3_600_000
    assert bus.prune(now_ms=later) == 2
    engine = create_engine(url)
    with engine.connect() as conn:
        left = dict(
            conn.execute(select(messages.c.topic, func.count()).group_by(messages.c.topic)).all()
        )
    engine.dispose()
    assert left == {"news.links": 2, "news.raw": 4, "news.dlq": 4}
    assert [m.value for m in bus.consumer(["news.links"], "fetch_pages").poll(10, 0)] == [
        b"2",
        b"3",
    ]
    assert bus.prune(now_ms=int(time.time() * 1000)) == 0  # nothing is old yet


def test_one_run_or_local_per_sql_bus(tmp_path: Path) -> None:
    from wiredesk.app.buslock import only_one
    from wiredesk.settings import Settings, SettingsError

    settings = Settings(bus="sql", database_url=f"sqlite:///{tmp_path / 'news.db'}")
    assert settings.sql_bus_url() == f"sqlite:///{tmp_path / 'news.bus.db'}"
    with (
        only_one(settings),
        pytest.raises(SettingsError, match="another `wiredesk run`"),
        only_one(settings),
    ):
        pass
    with only_one(settings):  # released on exit
        pass


def test_raw_pages_and_dead_letters_have_their_own_retention(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    bus = SqlBus(url, partitions=1, retention_hours=0, keep_hours=1)  # 0: keep the others
    for topic in ("news.links", "news.raw", "news.dlq"):
        for i in range(4):
            bus.publish(topic, None, f"{i}".encode())
    bus.flush()
    raw = bus.consumer(["news.raw"], "extract_articles")
    raw.commit(raw.poll(3, 0))  # extract has read 3 pages; no stage reads news.dlq
    assert bus.prune(now_ms=int(time.time() * 1000) + 2 * 3_600_000) == 3 + 4
    left = bus.consumer(["news.raw", "news.links"], "new-group").poll(100, 0)
    assert sorted((m.topic, m.value) for m in left) == [
        ("news.links", b"0"),
        ("news.links", b"1"),
        ("news.links", b"2"),
        ("news.links", b"3"),
        ("news.raw", b"3"),
    ]
