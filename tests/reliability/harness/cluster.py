"""The fault run on a 3-broker KRaft cluster (issue 16 part 4).

The same pipeline, corpus and reconciliation as the single-broker fault run
(:mod:`scenario`), on ``deploy/local/stack up --brokers 3`` in a private state dir, with
static members (``WIREDESK_WORKER_ID`` per worker) and the cluster's own faults:

* ``leader_kill9``: kill -9 the broker leading the busiest partitions (most records on
  the pipeline's topics), twice; each time the node is started again afterwards;
* ``broker_stop``: one broker stopped (SIGTERM) for ``broker_outage_s``; the pipeline
  must keep storing articles meanwhile (RF 3 / min ISR 2: acks=all needs 2 of 3);
* ``rolling_restart``: every worker restarted one by one (SIGTERM, the supervisor starts
  it again under the same member id), each back before the next one goes.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.cluster_support import STRIDE, free_base_port
from tests.reliability.harness import kafka_state, reconcile
from tests.reliability.harness.phases import RECOVERY_S, Context, PhaseReport, say
from tests.reliability.harness.pipeline import CONSUMER_COMMANDS, wait_until
from tests.reliability.harness.scenario import Plan
from tests.reliability.harness.stack import STATE_PREFIX, PrivateStack, free_port

BROKERS = 3
FAULTS = ("leader_kill9", "broker_stop", "rolling_restart")
PLANS = {
    "reduced": Plan(
        "cluster-reduced", 300, 0, 20, 0, 0, 0, release_s=120, faults=FAULTS, static_members=True
    ),
    "full": Plan(
        "cluster-full",
        2000,
        0,
        60,
        0,
        0,
        0,
        release_s=420,
        drain_timeout_s=900,
        faults=FAULTS,
        static_members=True,
    ),
}
CLUSTER_ENV = {
    # static members must be back within it; a killed broker's group coordinator moves
    "WIREDESK_KAFKA_SESSION_TIMEOUT_S": "30",
}


@dataclass
class ClusterStack(PrivateStack):
    """A :class:`PrivateStack` whose Kafka is ``--brokers 3`` (node i: base + 10*(i-1))."""

    @classmethod
    def create(cls) -> ClusterStack:
        state = Path(tempfile.mkdtemp(prefix=STATE_PREFIX))
        base = free_base_port(BROKERS)
        pg = free_port({base + STRIDE * i + d for i in range(BROKERS) for d in (0, 1)})
        stack = cls(state, base, base + 1, pg)
        (state / "owner.json").write_text(
            json.dumps({"pid": os.getpid(), "ports": [base, base + 1, pg]}), encoding="utf-8"
        )
        return stack

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> str:
        layout = () if args[:1] == ("kafka-run-class",) else ("--brokers", str(BROKERS))
        return super().run(*args, *layout, check=check, timeout=timeout)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port + STRIDE * i}" for i in range(BROKERS))

    def node_pid(self, node: int) -> int | None:
        try:
            return int((self.state_dir / "run" / f"kafka-{node}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop_node(self, node: int, sig: int = signal.SIGKILL) -> None:
        pid = self.node_pid(node)
        assert pid, f"node {node} is not running"
        os.kill(pid, sig)
        wait_until(lambda: not _alive(pid), 60, 0.2)

    def start_missing_nodes(self) -> None:
        self.up("kafka")  # starts only the nodes that are not running


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def busiest_leader(ctx: Context, timeout: float = 180) -> tuple[int, list[str]]:
    """The broker leading the most records (end offsets) of the pipeline's topics; waits
    until the workers have created the topics and records are flowing."""
    found = wait_until(lambda: _busiest_leader(ctx), timeout, 2.0)
    assert found is not None, "no records on the pipeline's topics"
    result = _busiest_leader(ctx)
    assert result is not None
    return result


def _busiest_leader(ctx: Context) -> tuple[int, list[str]] | None:
    from kafka import KafkaAdminClient

    bootstrap, ns = ctx.stack.bootstrap, ctx.namespace
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        records: Counter[int] = Counter()
        busiest: dict[int, list[str]] = {}
        for topic in sorted(set(kafka_state.GROUP_TOPICS.values())):
            ends = kafka_state.end_offsets(bootstrap, ns + topic)
            (meta,) = admin.describe_topics([ns + topic])
            for p in meta["partitions"]:
                records[p["leader_id"]] += ends.get(p["partition_index"], 0)
                busiest.setdefault(p["leader_id"], []).append(f"{topic}[{p['partition_index']}]")
    finally:
        admin.close()
    if sum(records.values()) == 0:
        return None
    node, _ = records.most_common(1)[0]
    return node, busiest[node]


def leader_kill9(ctx: Context, times: int = 2, down_s: float = 20) -> PhaseReport:
    stack = ctx.stack
    assert isinstance(stack, ClusterStack)
    report = PhaseReport(f"leader of the busiest partitions kill -9 (x{times})", ("C1",))
    started = time.monotonic()
    killed = []
    for _ in range(times):
        node, led = busiest_leader(ctx)
        say(f"kill -9 broker {node} (leads {len(led)} partitions)")
        stack.stop_node(node, signal.SIGKILL)
        killed.append({"node": node, "partitions_led": len(led)})
        report.injections += 1
        ctx.release(ctx.burst // times)  # arrives while the leader is dead
        time.sleep(down_s)
        stack.start_missing_nodes()
    report.checks["killed"] = killed
    report.checks["resume_s"] = _resume(ctx)
    report.seconds = time.monotonic() - started
    return report


def broker_stop(ctx: Context, seconds: float) -> PhaseReport:
    stack = ctx.stack
    assert isinstance(stack, ClusterStack)
    report = PhaseReport(f"one broker stopped {seconds:.0f} s", ("C2",), injections=1)
    started = time.monotonic()
    node, _ = busiest_leader(ctx)
    db_url = ctx.supervisor.env["WIREDESK_DATABASE_URL"]
    say(f"broker {node} stopped for {seconds:.0f} s")
    stack.stop_node(node, signal.SIGTERM)
    rows_before = reconcile.row_counts(db_url)["rows"]
    ctx.release(ctx.burst)  # new work while the broker is away
    time.sleep(seconds)
    report.checks["rows_stored_while_down"] = reconcile.row_counts(db_url)["rows"] - rows_before
    stack.start_missing_nodes()
    report.checks["node"] = node
    report.checks["resume_s"] = _resume(ctx)
    report.seconds = time.monotonic() - started
    return report


def rolling_restart(ctx: Context) -> PhaseReport:
    """Every consumer worker in turn: SIGTERM, restarted by the supervisor (same id)."""
    report = PhaseReport("workers restarted one by one (static members)", ("C3",))
    started = time.monotonic()
    back: list[float | None] = []
    for slot in [s for s in ctx.supervisor.live() if s.command in CONSUMER_COMMANDS]:
        starts = slot.starts
        t0 = time.monotonic()
        ctx.supervisor.kill(slot, signal.SIGTERM)
        up = wait_until(
            lambda s=slot, n=starts: s.starts > n and ctx.supervisor.scrape(s) is not None,
            RECOVERY_S,
            0.5,
        )
        back.append(None if up is None else round(time.monotonic() - t0, 1))
        report.injections += 1
    ctx.release(ctx.burst)
    report.checks["restart_s"] = back
    report.checks["resume_s"] = _resume(ctx)
    report.seconds = time.monotonic() - started
    return report


def _resume(ctx: Context) -> dict[str, float | None]:
    from tests.reliability.harness.phases import _groups_resume

    return _groups_resume(ctx, RECOVERY_S)


def faults(plan: Plan) -> dict[str, Callable[[Context], PhaseReport]]:
    return {
        "leader_kill9": lambda ctx: leader_kill9(ctx),
        "broker_stop": lambda ctx: broker_stop(ctx, plan.broker_outage_s),
        "rolling_restart": rolling_restart,
    }
