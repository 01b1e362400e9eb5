"""Helpers for the ingest tests: a socket guard, a Kafka bus per test, stage runs, reads."""

from __future__ import annotations

import base64
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ingest.http import FetchOptions, make_client
from ingest.pages import FetchPages
from ingest.politeness import HostGate
from ingest.robots import RobotsCache
from wiredesk.bus import Bus
from wiredesk.records import DeadLetter, DecodeError, Link, Record, url_id
from wiredesk.runner import RunnerOptions, StageRunner
from wiredesk.stage import Stage
from wiredesk.topics import ALL_TOPICS, DLQ, LINKS, RAW, Topic

USER_AGENT = "wiredesk-test/1.0 (+https://wiredesk.example/bot)"


class SocketGuard:
    """Records every ``connect`` any thread makes, as (address, port)."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    def to_port(self, port: int) -> int:
        return sum(1 for _, p in self.connects if p == port)

    def outside(self, allowed_ports: Sequence[int]) -> list[tuple[str, int]]:
        return [c for c in self.connects if c[1] not in allowed_ports]


@pytest.fixture
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[SocketGuard]:
    guard = SocketGuard()
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple):
            guard.connects.append((str(address[0]), int(address[1])))
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple):
            guard.connects.append((str(address[0]), int(address[1])))
        return original_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield guard


@pytest.fixture
def kafka_bus(kafka_bootstrap: str) -> Iterator[Bus]:
    from wiredesk.bus.kafka import KafkaBus

    bus = KafkaBus(kafka_bootstrap, partitions=2, namespace=f"ti{uuid.uuid4().hex[:10]}.")
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    yield bus
    bus.close()


def options(ports: Sequence[int], **overrides: Any) -> FetchOptions:
    values: dict[str, Any] = {
        "user_agent": USER_AGENT,
        "timeout_s": 5.0,
        "connect_timeout_s": 2.0,
        "allow_loopback_ports": frozenset(ports),
    }
    return FetchOptions(**{**values, **overrides})


def fetch_stage(
    ports: Sequence[int],
    *,
    delay: float = 0.0,
    robots: bool = True,
    max_wait: float = 30.0,
    concurrency: int = 2,
    **overrides: Any,
) -> tuple[Stage, FetchPages]:
    opts = options(ports, **overrides)
    client = make_client(opts)
    gate = HostGate(concurrency=concurrency, min_delay_s=delay, max_wait_s=max_wait)
    cache = RobotsCache(client, opts, gate=gate) if robots else None
    fetcher = FetchPages(client, opts, gate, cache, workers=8)
    stage = Stage("fetch_pages", LINKS, fetcher, output=RAW, batch_size=50, prepare=fetcher.prepare)
    return stage, fetcher


def link(url: str, **fields: Any) -> Link:
    return Link(url=url, article_id=url_id(url), **fields)


def publish(bus: Bus, topic: Topic, records: Sequence[Record]) -> None:
    for record in records:
        bus.publish(topic.name, record.key(), record.encode())
    bus.flush()


def run_stage(stage: Stage, bus: Bus, expected: int, timeout: float = 90.0) -> StageRunner:
    """Run ``stage`` until it has consumed ``expected`` records."""
    runner = StageRunner(stage, bus, options=RunnerOptions(poll_timeout_s=0.3))
    consumed = 0
    deadline = time.monotonic() + timeout
    while consumed < expected:
        assert time.monotonic() < deadline, f"consumed {consumed} of {expected}"
        consumed += runner.run_batch()
    runner.consumer.close()
    return runner


def read_topic(bus: Bus, topic: Topic, idle_polls: int = 3) -> list[Record]:
    """Every record on ``topic`` so far, through a fresh consumer group."""
    consumer = bus.consumer([topic.name], f"reader-{uuid.uuid4().hex[:8]}")
    records: list[Record] = []
    quiet = 0
    try:
        while quiet < idle_polls:
            batch = consumer.poll(500, 0.5)
            quiet = 0 if batch else quiet + 1
            records += [topic.record_type.decode(m.value) for m in batch]
    finally:
        consumer.close()
    return records


def dead_letters(bus: Bus) -> dict[str, str]:
    """The letter's link URL (news.links is keyed by host) or else its source key -> reason."""
    return {_letter_url(d): d.reason for d in read_topic(bus, DLQ) if isinstance(d, DeadLetter)}


def _letter_url(letter: DeadLetter) -> str:
    try:
        return Link.decode(base64.b64decode(letter.original)).url
    except (DecodeError, ValueError):
        return letter.source_key or ""
