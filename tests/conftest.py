"""Shared fixtures. Integration fixtures talk to the real Kafka and PostgreSQL started by
``deploy/local/stack up`` (``./dev test`` does that); without them those tests skip with a
message, unless WIREDESK_REQUIRE_INTEGRATION=1 (set by ``./dev test`` and CI) turns the
skip into a failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from wiredesk import db
from wiredesk.bus.memory import MemoryBus

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def metric(name: str, **labels: str) -> float:
    """Current value of a Prometheus sample (0.0 when never touched)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'test.db'}"
    db.upgrade(url)
    return url


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = db.make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def memory_bus() -> MemoryBus:
    return MemoryBus(partitions=3)


def _require(var: str, what: str) -> str:
    value = os.environ.get(var)
    if value:
        return value
    message = f"{what} not configured: set {var} (`./dev test` starts the stack and sets it)"
    if os.environ.get("WIREDESK_REQUIRE_INTEGRATION") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _require("WIREDESK_KAFKA_BOOTSTRAP", "Kafka")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _require("WIREDESK_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture
def unique() -> str:
    """A fresh suffix for topic and group names, so tests never see each other's data."""
    return uuid.uuid4().hex[:10]
