"""A private Kafka + PostgreSQL stack for fault runs, on its own ports and state dir.

Faults stop, pause and kill these servers; the shared stack other engineers use
(ports 19092/15432 by default) is never touched: every call passes an explicit
``WIREDESK_STACK_DIR`` and port overrides to ``deploy/local/stack``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
STACK_SCRIPT = REPO / "deploy" / "local" / "stack"
SHARED_PORTS = {19092, 19093, 15432}
STATE_PREFIX = "wiredesk-rel-"


def free_port(avoid: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid and port not in SHARED_PORTS:
            return port


@dataclass
class PrivateStack:
    state_dir: Path
    kafka_port: int
    controller_port: int
    pg_port: int
    timings: dict[str, float] = field(default_factory=dict)

    # -- lifecycle ---------------------------------------------------------------------
    @classmethod
    def create(cls) -> PrivateStack:
        reap_orphans()
        state = Path(tempfile.mkdtemp(prefix=STATE_PREFIX))
        used: set[int] = set()
        ports = []
        for _ in range(3):
            ports.append(free_port(used))
            used.add(ports[-1])
        stack = cls(state, *ports)
        (state / "owner.json").write_text(
            json.dumps({"pid": os.getpid(), "ports": ports}), encoding="utf-8"
        )
        return stack

    @property
    def env(self) -> dict[str, str]:
        assert not {self.kafka_port, self.controller_port, self.pg_port} & SHARED_PORTS
        return {
            "WIREDESK_STACK_DIR": str(self.state_dir),
            "WIREDESK_STACK_KAFKA_PORT": str(self.kafka_port),
            "WIREDESK_STACK_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "WIREDESK_STACK_PG_PORT": str(self.pg_port),
        }

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> str:
        proc = subprocess.run(
            [str(STACK_SCRIPT), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"stack {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout + proc.stderr

    def up(self, *components: str) -> float:
        started = time.monotonic()
        self.run("up", *components)
        took = time.monotonic() - started
        self.timings[f"up {' '.join(components) or 'all'}"] = took
        return took

    def down(self, *components: str) -> None:
        self.run("down", *components, check=False)

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- addresses ---------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def database_url(self, database: str = "wiredesk_test") -> str:
        return f"postgresql+psycopg://wiredesk:wiredesk@127.0.0.1:{self.pg_port}/{database}"

    # -- faults ------------------------------------------------------------------------
    def kafka_pid(self) -> int | None:
        try:
            return int((self.state_dir / "run" / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def postgres_pid(self) -> int | None:
        try:
            first = (self.state_dir / "postgres" / "data" / "postmaster.pid").read_text()
            return int(first.splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pause_kafka(self) -> None:
        pid = self.kafka_pid()
        assert pid, "private broker not running"
        os.kill(pid, signal.SIGSTOP)

    def resume_kafka(self) -> None:
        pid = self.kafka_pid()
        assert pid, "private broker pid unknown"
        os.kill(pid, signal.SIGCONT)

    def crash_postgres(self) -> None:
        """``pg_ctl stop -m immediate``: SIGQUIT to the postmaster, no clean shutdown."""
        pid = self.postgres_pid()
        assert pid, "private PostgreSQL not running"
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except OSError:
        return False


def reap_orphans() -> None:
    """Stop private stacks left behind by suite runs that died (their owner pid is gone)."""
    for state in Path(tempfile.gettempdir()).glob(STATE_PREFIX + "*"):
        try:
            owner = json.loads((state / "owner.json").read_text())
        except (OSError, ValueError):
            continue
        if _alive(int(owner["pid"])):
            continue
        PrivateStack(state, *owner["ports"]).destroy()
