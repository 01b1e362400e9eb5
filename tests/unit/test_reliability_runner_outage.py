"""A broker outage seen by the consumer (poll or commit raising a connection error) is
ridden out like any transient failure; it used to end the worker with a traceback
(found by the fault run's broker-outage phase)."""

from __future__ import annotations

import kafka.errors

from tests.conftest import metric
from wiredesk.bus.memory import MemoryBus, MemoryConsumer
from wiredesk.records import Link, url_id
from wiredesk.runner import RunnerOptions, StageRunner, drain
from wiredesk.stage import Stage
from wiredesk.topics import Topic

IN = Topic("o.in", Link)
OUT = Topic("o.out", Link)
FAST = RunnerOptions(poll_timeout_s=0, retry_initial_backoff_s=0.001, retry_max_backoff_s=0.01)


class FlakyConsumer(MemoryConsumer):
    """Raises a connection error on the first poll and the first commit."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.failures = {"poll": 1, "commit": 1}

    def _maybe_fail(self, step: str) -> None:
        if self.failures[step]:
            self.failures[step] -= 1
            raise kafka.errors.KafkaConnectionError("socket disconnected")

    def poll(self, max_records, timeout_s):
        self._maybe_fail("poll")
        return super().poll(max_records, timeout_s)

    def commit(self, messages):
        self._maybe_fail("commit")
        super().commit(messages)


class FlakyBus(MemoryBus):
    def consumer(self, topics, group):
        self.ensure_topics(topics)
        return FlakyConsumer(self, list(topics), group)


def test_connection_errors_in_poll_and_commit_are_retried_not_fatal():
    bus = FlakyBus(partitions=2)
    for n in range(5):
        url = f"http://example.com/{n}"
        bus.publish(IN.name, url, Link(url=url, article_id=url_id(url)).encode())
    runner = StageRunner(Stage("outage", IN, output=OUT), bus, options=FAST)
    polls = metric("wiredesk_retries_total", stage="outage", step="poll")
    commits = metric("wiredesk_retries_total", stage="outage", step="commit")

    assert runner.run_batch() == 5  # poll and commit each failed once, then went through
    assert drain([runner]) == 0
    assert len(bus.messages(OUT.name)) == 5
    assert sum(bus.committed("outage", IN.name, p) for p in range(2)) == 5
    assert metric("wiredesk_retries_total", stage="outage", step="poll") - polls == 1
    assert metric("wiredesk_retries_total", stage="outage", step="commit") - commits == 1
    assert runner.health.ready


def test_a_poison_message_near_the_size_limit_still_fits_in_the_dlq():
    """Found by K11: a 900 KB poison value made a dead letter over the broker limit, the
    DLQ publish raised, and the worker crash-looped on that message forever."""
    from wiredesk.bus import MAX_MESSAGE_BYTES
    from wiredesk.records import DeadLetter
    from wiredesk.topics import DLQ

    bus = MemoryBus(partitions=1)
    bus.publish(IN.name, "big", b"\xff" * 900_000)
    runner = StageRunner(Stage("big_poison", IN, output=OUT), bus, options=FAST)
    assert drain([runner]) == 1
    (letter,) = [DeadLetter.decode(m.value) for m in bus.messages(DLQ.name)]
    assert letter.reason == "decode_not_json"
    assert letter.original_size == 900_000 and letter.original_truncated
    assert len(bus.messages(DLQ.name)[0].value) < MAX_MESSAGE_BYTES
