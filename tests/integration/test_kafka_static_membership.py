"""Static group membership (KIP-345) with the cooperative sticky assignor, on a real broker.

Each member runs in its own process, as workers do. A member restarting within the
session timeout under the same ``group_instance_id`` gets its own partitions back, and
the other member's assignment is never touched. The same restart with dynamic members
is the contrast: there the other member takes over the partitions meanwhile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wiredesk.bus.kafka import KafkaBus

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 6
# A is away for longer than a heartbeat round (3 s) plus a rebalance, and well within the
# session timeout (10 s): a dynamic member's partitions move meanwhile, a static one's wait.
AWAY_S = 6.0


class Member:
    """A ``group_member`` process and the assignments it reported, in order."""

    def __init__(self, bootstrap: str, ns: str, instance: str | None) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.group_member",
                bootstrap,
                ns,
                instance or "-",
                "120",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.seen: list[frozenset[int]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.seen.append(frozenset(json.loads(line)["owned"]))

    @property
    def owned(self) -> frozenset[int]:
        return self.seen[-1] if self.seen else frozenset()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what}")
        time.sleep(0.1)


def _restart_first(bootstrap: str, ns: str, static: bool):
    """Two members; stop the first (no LeaveGroup when static), start it again.

    Returns (first's partitions before, after; the other's before; every assignment the
    other reported from the stop until 3 s after the restarted member got partitions)."""
    KafkaBus(bootstrap, partitions=PARTITIONS, namespace=ns).ensure_topics(["items"])
    ids = ("worker-a", "worker-b") if static else (None, None)
    a, b = Member(bootstrap, ns, ids[0]), Member(bootstrap, ns, ids[1])
    try:
        _wait(
            lambda: a.owned and b.owned and len(a.owned | b.owned) == PARTITIONS,
            60,
            f"the group to settle: {a.owned}, {b.owned}",
        )
        a_before, b_before = a.owned, b.owned
        a.stop()
        mark = len(b.seen)
        time.sleep(AWAY_S)
        a2 = Member(bootstrap, ns, ids[0])
        try:
            _wait(lambda: bool(a2.owned), 60, "the restarted member to own partitions")
            time.sleep(3)  # no late rebalance moves anything either
            return a_before, a2.owned, b_before, b.seen[mark:]
        finally:
            a2.stop()
    finally:
        for m in (a, b):
            if m.proc.poll() is None:
                m.stop()


def test_a_static_member_restarting_keeps_its_partitions_and_the_other_is_untouched(
    kafka_bootstrap, unique
):
    a_before, a_after, b_before, seen_by_b = _restart_first(
        kafka_bootstrap, f"sm{unique}.", static=True
    )
    assert a_after == a_before
    assert seen_by_b and all(seen == b_before for seen in seen_by_b), seen_by_b


def test_contrast_a_dynamic_member_restarting_moves_partitions(kafka_bootstrap, unique):
    _, _, b_before, seen_by_b = _restart_first(kafka_bootstrap, f"dm{unique}.", static=False)
    # the LeaveGroup on close hands A's partitions to the other member meanwhile
    assert any(len(seen) == PARTITIONS for seen in seen_by_b), seen_by_b
