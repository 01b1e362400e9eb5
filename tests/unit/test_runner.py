"""The runner's contract, on the in-process bus: DLQ for bad input, retries for
transient failures, commits only after the output is durable."""

from __future__ import annotations

import base64
import threading

import pytest
import sqlalchemy.exc

from tests.conftest import metric
from wiredesk.bus.memory import MemoryBus
from wiredesk.errors import RecordRejected
from wiredesk.records import DeadLetter, Link, url_id
from wiredesk.runner import RunnerOptions, StageRunner, Stopping, drain
from wiredesk.stage import BadInput, Stage, Transient
from wiredesk.topics import DLQ, Topic

IN = Topic("t.in", Link)
OUT = Topic("t.out", Link)
FAST = RunnerOptions(poll_timeout_s=0, retry_initial_backoff_s=0.001, retry_max_backoff_s=0.01)


def link(n: int, title: str = "ok") -> Link:
    url = f"http://example.com/{n}"
    return Link(url=url, article_id=url_id(url), entry_title=title)


def fill(bus: MemoryBus, *records: Link | bytes) -> None:
    for r in records:
        if isinstance(r, bytes):
            bus.publish(IN.name, None, r)
        else:
            bus.publish(IN.name, r.key(), r.encode())


def upper(record):
    if record.entry_title == "bad":
        raise BadInput("bad_title", "titles may not be 'bad'")
    yield record.model_copy(update={"entry_title": record.entry_title.upper()})


def dead_letters(bus: MemoryBus) -> list[DeadLetter]:
    return [DeadLetter.decode(m.value) for m in bus.messages(DLQ.name)]


def committed(bus: MemoryBus, group: str) -> int:
    return sum(bus.committed(group, IN.name, p) for p in range(bus.partitions))


def test_maps_every_record_and_commits(memory_bus):
    fill(memory_bus, *(link(i) for i in range(7)))
    runner = StageRunner(Stage("upper", IN, upper, output=OUT), memory_bus, options=FAST)
    before = metric("wiredesk_records_out_total", stage="upper")
    assert drain([runner]) == 7
    out = [Link.decode(m.value) for m in memory_bus.messages(OUT.name)]
    assert sorted(r.url for r in out) == sorted(link(i).url for i in range(7))
    assert {r.entry_title for r in out} == {"OK"}
    assert committed(memory_bus, "upper") == 7
    assert metric("wiredesk_records_out_total", stage="upper") - before == 7


def test_poison_messages_go_to_the_dlq_with_reason_and_the_rest_flows(memory_bus):
    fill(memory_bus, link(1), b"\x00\xffgarbage", link(2, "bad"), b'{"schema": "x"}', link(3))
    runner = StageRunner(Stage("poison", IN, upper, output=OUT), memory_bus, options=FAST)
    drain([runner])
    assert len(memory_bus.messages(OUT.name)) == 2
    letters = dead_letters(memory_bus)
    assert sorted(d.reason for d in letters) == [
        "bad_title",
        "decode_not_json",
        "decode_wrong_schema",
    ]
    poison = next(d for d in letters if d.reason == "decode_not_json")
    assert base64.b64decode(poison.original) == b"\x00\xffgarbage"
    assert poison.stage == "poison" and poison.source_topic == IN.name
    assert committed(memory_bus, "poison") == 5  # the worker went on past all of them
    assert metric("wiredesk_dlq_total", stage="poison", reason="bad_title") == 1


def test_a_record_that_keeps_crashing_is_dead_lettered_after_max_attempts(memory_bus):
    calls = []

    def crashes_on_two(record):
        calls.append(record.url)
        if record.url.endswith("/2"):
            raise KeyError("a bug")
        yield record

    fill(memory_bus, link(1), link(2), link(3))
    runner = StageRunner(Stage("buggy", IN, crashes_on_two, output=OUT), memory_bus, options=FAST)
    drain([runner])
    assert calls.count(link(2).url) == 3
    (letter,) = dead_letters(memory_bus)
    assert (letter.reason, letter.attempts) == ("processing_error", 3)
    assert "KeyError" in letter.detail
    assert len(memory_bus.messages(OUT.name)) == 2


def test_transient_failures_are_retried_not_dead_lettered(memory_bus):
    failures = iter([Transient("db down"), ConnectionError("refused")])

    def flaky(record):
        err = next(failures, None)
        if err:
            raise err
        yield record

    fill(memory_bus, link(1))
    before = metric("wiredesk_retries_total", stage="flaky", step="process")
    runner = StageRunner(Stage("flaky", IN, flaky, output=OUT), memory_bus, options=FAST)
    drain([runner])
    assert len(memory_bus.messages(OUT.name)) == 1
    assert dead_letters(memory_bus) == []
    assert metric("wiredesk_retries_total", stage="flaky", step="process") - before == 2
    assert runner.health.ready


class RecordingSink:
    """Records what was committed when each write happened; can fail on demand."""

    def __init__(self, bus: MemoryBus, group: str, fail_times: int = 0, reject: str = "") -> None:
        self.bus, self.group = bus, group
        self.fail_times, self.reject = fail_times, reject
        self.rows: dict[str, Link] = {}
        self.committed_at_write: list[int] = []

    def write(self, records):
        self.committed_at_write.append(committed(self.bus, self.group))
        if self.fail_times:
            self.fail_times -= 1
            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("server closed"))
        if any(r.entry_title == self.reject for r in records):
            raise sqlalchemy.exc.DataError("INSERT", {}, Exception("invalid byte sequence"))
        self.rows.update({r.article_id: r for r in records})


def test_sink_offsets_are_committed_only_after_the_write(memory_bus):
    fill(memory_bus, *(link(i) for i in range(5)))
    sink = RecordingSink(memory_bus, "write", fail_times=2)
    runner = StageRunner(Stage("write", IN, sink=sink), memory_bus, options=FAST)
    runner.health.set_ready(True)
    drain([runner])
    assert len(sink.rows) == 5
    assert sink.committed_at_write == [0, 0, 0]  # two failed tries, one success, then commit
    assert committed(memory_bus, "write") == 5
    assert metric("wiredesk_retries_total", stage="write", step="deliver") == 2


def test_a_row_the_database_refuses_is_isolated_and_dead_lettered(memory_bus):
    fill(memory_bus, link(1), link(2, "poison"), link(3))
    sink = RecordingSink(memory_bus, "isolate", reject="poison")
    drain([StageRunner(Stage("isolate", IN, sink=sink), memory_bus, options=FAST)])
    assert sorted(sink.rows) == sorted([link(1).article_id, link(3).article_id])
    (letter,) = dead_letters(memory_bus)
    assert letter.reason == "write_rejected" and "DataError" in letter.detail


def test_an_output_too_large_for_the_broker_is_dead_lettered(memory_bus):
    def bloat(record):
        yield record.model_copy(update={"entry_title": "x" * 1_100_000})

    fill(memory_bus, link(1))
    drain([StageRunner(Stage("bloat", IN, bloat, output=OUT), memory_bus, options=FAST)])
    assert memory_bus.messages(OUT.name) == []
    assert [d.reason for d in dead_letters(memory_bus)] == ["too_large"]
    with pytest.raises(RecordRejected):
        memory_bus.publish("t", None, b"x" * 1_100_000)


def test_stop_during_an_outage_leaves_the_batch_uncommitted(memory_bus):
    fill(memory_bus, link(1), link(2))
    stop = threading.Event()

    class DownSink:
        def write(self, records):
            stop.set()  # SIGTERM arrives while the database is down
            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("down"))

    runner = StageRunner(Stage("down", IN, sink=DownSink()), memory_bus, options=FAST, stop=stop)
    with pytest.raises(Stopping):
        runner.run_batch()
    assert committed(memory_bus, "down") == 0
    assert not runner.health.ready


def test_stage_needs_exactly_one_output():
    with pytest.raises(ValueError):
        Stage("none", IN)
    with pytest.raises(ValueError):
        Stage("both", IN, output=OUT, sink=RecordingSink(MemoryBus(), "g"))
