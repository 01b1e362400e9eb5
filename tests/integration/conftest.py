"""Integration helpers: a PostgreSQL schema per test, Kafka group progress, worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine, make_url, text

from wiredesk import db

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url(postgres_url: str, unique: str) -> Iterator[str]:
    """A migrated, empty schema of its own in the test database, dropped afterwards."""
    schema = f"t_{unique}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    db.upgrade(rendered)
    yield rendered
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def group_progress(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """(sum of committed offsets, sum of end offsets) of ``group`` on ``topic``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = consumer.end_offsets(parts)
        committed = sum(consumer.committed(tp) or 0 for tp in parts)
        return committed, sum(ends.values())
    finally:
        consumer.close(autocommit=False)


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Workers:
    """Starts ``wiredesk <command>`` processes with a shared environment; logs to files."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, command: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{command}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "wiredesk.app.cli", command],
            env={**os.environ, **self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append((command, proc))
        return proc

    def stop_all(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM every live worker and return each exit code."""
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for i, (command, proc) in enumerate(self.procs):
            try:
                codes[f"{command}-{i}"] = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[f"{command}-{i}"] = proc.wait()
        return codes

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.log_dir.glob("*.log"))


@pytest.fixture
def workers(kafka_bootstrap: str, pg_url: str, unique: str, tmp_path: Path) -> Iterator[Workers]:
    env = {
        "WIREDESK_BUS": "kafka",
        "WIREDESK_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WIREDESK_DATABASE_URL": pg_url,
        "WIREDESK_NAMESPACE": f"t{unique}.",
        "WIREDESK_POLL_TIMEOUT_S": "0.5",
        "WIREDESK_LOG_FORMAT": "json",
        "WIREDESK_PARTITIONS": "3",
        "WIREDESK_ARCHIVE_URL": str(tmp_path / "warc"),  # the fetchers' raw archive
    }
    pool = Workers(env, tmp_path)
    yield pool
    pool.stop_all(timeout=10)
