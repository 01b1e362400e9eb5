"""The feed poller service survives a database or broker outage: it backs off and
retries the round (found by the fault run: it used to exit with a traceback)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy.exc

from tests.conftest import metric
from wiredesk.bus.memory import MemoryBus
from wiredesk.errors import PublishError
from wiredesk.metrics import Health
from wiredesk.records import Link, url_id
from wiredesk.runner import run_source


class FlakySource:
    """Fails ``failures`` rounds with the given errors, then yields one link."""

    name = "flaky_source"

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = list(errors)
        self.confirmed: list[Link] = []

    def poll(self) -> list[Link]:
        if self.errors:
            raise self.errors.pop(0)
        url = "http://example.com/a"
        return [Link(url=url, article_id=url_id(url))]

    def confirm(self, records) -> None:
        self.confirmed.extend(records)


def test_transient_failures_back_off_and_the_round_is_retried():
    outage = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
    source = FlakySource([outage, PublishError("broker away")])
    bus = MemoryBus()
    health = Health("flaky_source")
    before = metric("wiredesk_retries_total", stage="flaky_source", step="poll")
    run_source(
        source,
        bus,
        "t.links",
        threading.Event(),
        health,
        wait_s=lambda: 0,
        max_backoff_s=0.01,
        once=True,
    )
    published = [Link.decode(m.value) for m in bus.messages("t.links")]
    assert [
        (m.key, link.url) for m, link in zip(bus.messages("t.links"), published, strict=True)
    ] == [
        ("example.com", "http://example.com/a")  # keyed by host (wiredesk.hostroute)
    ]
    assert len(source.confirmed) == 1
    assert metric("wiredesk_retries_total", stage="flaky_source", step="poll") - before == 2
    assert health.ready


def test_a_bug_still_ends_the_service():
    source = FlakySource([ValueError("a bug, not an outage")])
    with pytest.raises(ValueError):
        run_source(
            source,
            MemoryBus(),
            "t.links",
            threading.Event(),
            Health("flaky_source"),
            wait_s=lambda: 0,
        )
    assert source.confirmed == []


def test_stop_during_an_outage_ends_without_confirming():
    stop = threading.Event()
    outage = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("down"))

    class StopWhileDown(FlakySource):
        def poll(self):
            stop.set()
            raise outage

    source = StopWhileDown([])
    run_source(source, MemoryBus(), "t.links", stop, Health("flaky_source"), wait_s=lambda: 0)
    assert source.confirmed == []
