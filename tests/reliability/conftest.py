"""Fixtures of the reliability suite: a private Kafka + PostgreSQL stack for the whole
session (faults stop and pause it; the shared stack is never touched), worker pools on
it, the socket guard in this process, and the rows RELIABILITY.md is written from.

Size: ``WIREDESK_RELIABILITY_SIZE=reduced`` (default, inside ``pytest tests``) or
``full`` (``bench/reliability.py --size full``). Rows: when
``WIREDESK_RELIABILITY_ROWS=FILE`` is set, each test's row is appended there as JSON.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.harness import guard
from tests.reliability.harness.pipeline import fresh_schema, worker_env
from tests.reliability.harness.stack import PrivateStack
from tests.reliability.harness.supervisor import Supervisor

pytestmark = pytest.mark.integration

SIZE = os.environ.get("WIREDESK_RELIABILITY_SIZE", "reduced")
ROWS_FILE = os.environ.get("WIREDESK_RELIABILITY_ROWS")
_AUDIT_DIR = Path(tempfile.gettempdir()) / f"wiredesk-relaudit-{os.getpid()}"
_SEEN = guard.install(_AUDIT_DIR, block=False)  # record only: other suites share this process
atexit.register(shutil.rmtree, _AUDIT_DIR, True)


def _tools_missing() -> str | None:
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            return tool
    return None


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    """Kafka + PostgreSQL of this session only, on free ports, in a temp state dir."""
    missing = _tools_missing()
    if missing:
        message = f"the private fault stack needs {missing} (see deploy/local/README.md)"
        if os.environ.get("WIREDESK_REQUIRE_INTEGRATION") == "1":
            pytest.fail(message)
        pytest.skip(message)
    stack = PrivateStack.create()
    try:
        stack.up()
    except Exception:
        stack.destroy()
        raise
    yield stack
    stack.destroy()


@pytest.fixture
def namespace() -> str:
    return f"r{uuid.uuid4().hex[:10]}."


@pytest.fixture
def rel_db(private_stack: PrivateStack) -> str:
    """A fresh, migrated schema in the private PostgreSQL."""
    return fresh_schema(private_stack.database_url())


@pytest.fixture
def pool(
    private_stack: PrivateStack, rel_db: str, namespace: str, tmp_path: Path
) -> Iterator[Supervisor]:
    """A supervisor for worker processes on the private stack (restarts the dead)."""
    supervisor = Supervisor(
        worker_env(private_stack, rel_db, namespace, tmp_path, []), tmp_path / "logs"
    )
    yield supervisor
    supervisor.stop_all(timeout=20)


@pytest.fixture(autouse=True)
def _no_forbidden_connections() -> Iterator[None]:
    """Every test here: 0 connections to non-loopback addresses from this process."""
    before = len(_SEEN)
    yield
    assert _SEEN[before:] == [], f"non-loopback network use: {_SEEN[before:]}"


# -- rows for RELIABILITY.md --------------------------------------------------------------
_ROWS: list[dict[str, Any]] = []


@pytest.fixture
def report_row(request: pytest.FixtureRequest):  # noqa: ANN201
    """``report_row(fault=..., runs=..., lost=..., duplicates=..., peak_rss_mb=..., note=...)``"""

    def record(**row: Any) -> None:
        row.setdefault("id", request.node.name)
        row["nodeid"] = request.node.nodeid
        _ROWS.append(row)

    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        status = report.outcome
        if hasattr(report, "wasxfail"):
            status = "xpass" if report.passed else "xfail"
        reason = getattr(report, "wasxfail", "") or ""
        for row in _ROWS:
            if row["nodeid"] == item.nodeid:
                row["outcome"] = status
                row["xfail_reason"] = reason
        if ROWS_FILE and item.nodeid.startswith("tests/reliability"):
            fault = item.name.removeprefix("test_").replace("_", " ")
            matching = [r for r in _ROWS if r["nodeid"] == item.nodeid] or [
                {
                    "id": item.name,
                    "nodeid": item.nodeid,
                    "fault": fault,
                    "outcome": status,
                    "xfail_reason": reason,
                }
            ]
            with open(ROWS_FILE, "a", encoding="utf-8") as fh:
                for row in matching:
                    fh.write(json.dumps(row, default=str) + "\n")
