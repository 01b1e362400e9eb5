"""A private N-broker KRaft cluster from ``deploy/local/stack up --brokers N``, for the
cluster tests and benches: its own state dir and ports, node kills, leader lookup.

Node i listens on ``base + 10*(i-1)`` (controller ``base + 1 + 10*(i-1)``), as the stack
script derives them. Nothing here touches another stack: every call passes an explicit
``WIREDESK_STACK_DIR`` and ports.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient

REPO = Path(__file__).resolve().parents[1]
STACK_SCRIPT = REPO / "deploy" / "local" / "stack"
STRIDE = 10
CLUSTER_FLAG = "WIREDESK_TEST_CLUSTER"  # 1: run the tests that start 3 brokers
BASE_PORT_ENV = "WIREDESK_TEST_CLUSTER_PORT"  # base port (default: a free range)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(brokers: int) -> int:
    """A base port whose derived broker and controller ports are all free.

    Below Linux's ephemeral range (32768-60999 by default): a port there can be free when
    checked and taken by an outgoing connection's source port before the broker binds it
    (a CI run's broker exited during start-up with a base port of 34600)."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000, 100)
        ports = [base + STRIDE * i + d for i in range(brokers) for d in (0, 1)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range for the cluster")


@dataclass
class ClusterStack:
    state_dir: Path
    base_port: int
    brokers: int = 3

    @classmethod
    def create(cls, brokers: int = 3, base_port: int | None = None) -> ClusterStack:
        base = base_port or int(os.environ.get(BASE_PORT_ENV) or 0) or free_base_port(brokers)
        return cls(Path(tempfile.mkdtemp(prefix="wiredesk-cluster-")), base, brokers)

    @property
    def env(self) -> dict[str, str]:
        return {
            "WIREDESK_STACK_DIR": str(self.state_dir),
            "WIREDESK_STACK_KAFKA_PORT": str(self.base_port),
            "WIREDESK_STACK_KAFKA_CONTROLLER_PORT": str(self.base_port + 1),
            # the PostgreSQL port is unused (kafka only) but must differ from the others
            "WIREDESK_STACK_PG_PORT": str(self.base_port + 99),
        }

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> str:
        proc = subprocess.run(
            [str(STACK_SCRIPT), *args, *self._layout(args)],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"stack {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout + proc.stderr

    def _layout(self, args: tuple[str, ...]) -> list[str]:
        return [] if args[:1] == ("kafka-run-class",) else ["--brokers", str(self.brokers)]

    def up(self) -> None:
        """Start every node that is not running and wait until each answers metadata."""
        self.run("up", "kafka")

    def destroy(self) -> None:
        self.run("down", "kafka", check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port(i)}" for i in range(1, self.brokers + 1))

    def port(self, node: int) -> int:
        return self.base_port + STRIDE * (node - 1)

    # -- faults ------------------------------------------------------------------------
    def pid(self, node: int) -> int | None:
        try:
            return int((self.state_dir / "run" / f"kafka-{node}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self, node: int, sig: int = signal.SIGKILL, wait_s: float = 60) -> None:
        """Send ``sig`` to node's JVM and wait until it is gone (SIGTERM: clean shutdown)."""
        pid = self.pid(node)
        assert pid, f"node {node} is not running"
        os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        assert not _alive(pid), f"node {node} (pid {pid}) still alive after {wait_s}s"

    def leaders(self, topic: str) -> dict[int, int]:
        """``{partition: leader node id}`` of ``topic`` (-1: no leader)."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            (meta,) = admin.describe_topics([topic])
            return {p["partition_index"]: p["leader_id"] for p in meta["partitions"]}
        finally:
            admin.close()

    def describe(self, topic: str) -> str:
        """``kafka-topics --describe`` output of ``topic`` (RF, ISR and configs)."""
        return self.run(
            "kafka-run-class",
            "org.apache.kafka.tools.TopicCommand",
            "--bootstrap-server",
            self.bootstrap,
            "--describe",
            "--topic",
            topic,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (our own child, not reaped) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False
