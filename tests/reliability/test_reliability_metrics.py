"""Catalogue 3.7: bounded metrics (M1), every failure path observable (M3), liveness
(M5)."""

from __future__ import annotations

import signal
import time

import pytest
from prometheus_client import REGISTRY

from tests.reliability.conftest import SIZE
from tests.reliability.harness.pipeline import wait_until
from wiredesk.bus.memory import MemoryBus
from wiredesk.records import DeadLetter, Link, url_id
from wiredesk.runner import RunnerOptions, StageRunner, drain
from wiredesk.topics import DLQ, LINKS

pytestmark = pytest.mark.timeout(300)
URLS = 20_000 if SIZE == "reduced" else 200_000


def series() -> int:
    return sum(len(family.samples) for family in REGISTRY.collect())


def test_m1_metric_series_do_not_grow_with_distinct_urls(report_row, tmp_path):
    from wiredesk import db as database
    from wiredesk.app.topology import build_pipeline
    from wiredesk.settings import Settings

    url = f"sqlite:///{tmp_path / 'm1.db'}"
    database.upgrade(url)
    engine = database.make_engine(url)
    pipeline = build_pipeline(Settings(database_url=url, fetch_host_delay_s=0.0), engine)
    bus = MemoryBus(partitions=1)
    runner = StageRunner(
        pipeline.stage("fetch_pages"), bus, options=RunnerOptions(poll_timeout_s=0)
    )

    def feed(start: int, n: int) -> None:
        for i in range(start, start + n):  # loopback addresses are refused before connecting
            url = f"http://127.0.0.1:1/story/{i}?utm_source=x{i}"
            bus.publish(LINKS.name, url, Link(url=url, article_id=url_id(url)).encode())

    feed(0, 1000)
    drain([runner])
    after_first = series()
    feed(1000, URLS - 1000)
    drain([runner])
    after_all = series()
    pipeline.close()
    engine.dispose()
    letters = bus.messages(DLQ.name)
    report_row(
        fault=f"M1 {URLS:,} distinct URLs through the fetch stage",
        runs=URLS,
        note=f"series {after_first} after 1,000 URLs, {after_all} after {URLS:,}",
    )
    assert len(letters) == URLS
    reasons = {DeadLetter.decode(m.value).reason for m in letters[-100:]}
    assert len(reasons) == 1  # every one refused before connecting, for the same reason
    assert after_all == after_first, "no series per URL, article or host"


def _has_metric(suffix: str) -> bool:
    import sink.articles  # noqa: F401
    import wiredesk.app.topology  # noqa: F401 (every stage module registers its metrics)
    import wiredesk.runner  # noqa: F401

    base = suffix.removesuffix("_total")
    return any(f.name.endswith(base) for f in REGISTRY.collect())


M3_ROWS = [
    ("K1", "redelivered_total"),
    ("K3", "sink_rows_total"),  # outcome="unchanged"
    ("K4", "retries_total"),
    ("K5", "consumer_lag"),
    ("K7", "commit_failed_total"),
    ("K9", "consumer_committed_offset"),
    ("K11", "dlq_total"),
    ("K12", "sanitized_total"),  # kind="capped": text cut to fit the broker limit
    ("K14", "sink_rows_total"),
    ("P1", "sink_db_errors_total"),
    ("P2", "sink_db_errors_total"),
    ("P3", "sink_sanitised_total"),
    ("P5", "sanitized_total"),
    ("M5", "last_progress_timestamp_seconds"),
]


@pytest.mark.parametrize(("row", "metric"), M3_ROWS, ids=[r for r, _ in M3_ROWS])
def test_m3_every_failure_path_maps_to_a_metric(row, metric):
    assert _has_metric(metric), f"{row}: no metric named *{metric}"


@pytest.fixture
def probed(private_stack, rel_db, namespace, tmp_path):
    from tests.reliability.harness.pipeline import worker_env
    from tests.reliability.harness.supervisor import Supervisor

    env = worker_env(private_stack, rel_db, namespace, tmp_path, [])
    env["WIREDESK_TEST_FREEZE_SIGNAL"] = "1"
    sup = Supervisor(env, tmp_path / "logs", liveness_probe_s=5)
    yield sup
    sup.stop_all(timeout=3)


@pytest.mark.integration
def test_m5_a_stopped_worker_fails_its_probe_and_is_restarted(probed, report_row):
    slot = probed.add("sink")[0]
    wait_until(lambda: probed.scrape(slot) is not None, 30)
    stopped_at = time.monotonic()
    probed.kill(slot, signal.SIGSTOP)
    took = wait_until(lambda: slot.liveness_restarts >= 1 and probed.scrape(slot) is not None, 60)
    report_row(
        fault="M5 worker SIGSTOPped: probe fails, supervisor restarts it",
        runs=1,
        note=f"restarted and serving after {took and round(took, 1)} s",
    )
    assert took is not None and time.monotonic() - stopped_at <= 60


@pytest.mark.integration
def test_m5_a_frozen_consume_loop_fails_liveness_within_60s(probed, report_row):
    slot = probed.add("sink")[0]
    wait_until(lambda: probed.scrape(slot) is not None, 30)
    probed.kill(slot, signal.SIGUSR1)  # the loop thread stops; the health server does not
    took = wait_until(lambda: slot.liveness_restarts >= 1, 60)
    report_row(
        fault="M5 consume loop frozen (metrics server still up): liveness fails",
        runs=1,
        note=f"liveness probe failed and worker restarted after {took and round(took, 1)} s",
    )
    assert took is not None
