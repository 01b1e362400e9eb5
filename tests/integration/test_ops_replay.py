"""Replay acceptance on real Kafka + PostgreSQL: replaying a whole topic into the sink
changes nothing; deleting a day's rows and replaying that day restores them exactly;
live consumer groups are not disturbed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.integration.conftest import group_progress, wait_for
from tests.integration.sink_data import (
    DAY0,
    TABLES,
    WRITE_TIMES,
    delete_day,
    produce_days,
    snapshot,
)
from wiredesk.topics import ENRICHED

pytestmark = pytest.mark.integration


def wiredesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wiredesk.app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_replays_change_nothing_and_restore_a_deleted_day(workers, kafka_bootstrap, pg_url, unique):
    ns = f"t{unique}."
    records = produce_days(kafka_bootstrap, ns, days=3)
    live_group, topic = f"{ns}write_articles", f"{ns}{ENRICHED.name}"
    workers.start("sink")
    wait_for(
        lambda: group_progress(kafka_bootstrap, live_group, topic) == (90, 90),
        120,
        "the live sink to write all 90 records",
    )
    assert workers.stop_all()["sink-0"] == 0, workers.logs()
    original = snapshot(pg_url)
    assert len(original["articles"]) == 90
    assert len(original["stories"]) == 5 and len(original["entities"]) == 4
    assert len(original["article_entities"]) == 180

    # 1. The whole topic again, through a fresh group: not one row or updated_at changes.
    done = wiredesk(workers.env, "replay", "--stage", "sink", "--from", "earliest")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replayed 90 of 90 records" in done.stdout
    assert snapshot(pg_url) == original
    assert group_progress(kafka_bootstrap, live_group, topic) == (90, 90)

    # 2. Delete the middle day's articles (and what only they referenced), replay that day.
    day = DAY0 + timedelta(days=1)
    assert delete_day(pg_url, day) == 30
    assert len(snapshot(pg_url)["articles"]) == 60
    done = wiredesk(
        workers.env,
        "replay",
        "--stage",
        "write_articles",
        "--from",
        day.isoformat(),
        "--to",
        (day + timedelta(days=1)).strftime("%Y-%m-%d"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replayed 30 of 30 records" in done.stdout
    restored = snapshot(pg_url, write_times=False)
    assert restored == snapshot_without_write_times(original)
    # rows of the other days were not rewritten by the partial replay
    untouched = [r for r in snapshot(pg_url)["articles"] if r in original["articles"]]
    assert len(untouched) == 60
    assert len(records) == 90


def snapshot_without_write_times(full: dict[str, list[tuple]]) -> dict:
    """``full`` with created_at/updated_at dropped (a restored row is written anew)."""
    out = {}
    for row_type in TABLES:
        table = row_type.__table__
        keep = [i for i, c in enumerate(table.c) if c.name not in WRITE_TIMES]
        out[table.name] = sorted(tuple(r[i] for i in keep) for r in full[table.name])
    return out


def test_an_interrupted_replay_resumes_in_its_group(kafka_bootstrap, unique):
    from wiredesk.app.ops.replay_consumers import KafkaReplayConsumer

    ns = f"t{unique}."
    produce_days(kafka_bootstrap, ns, days=1)
    first = KafkaReplayConsumer(kafka_bootstrap, ENRICHED.name, "resume", None, None, ns)
    taken = []
    while len(taken) < 10:
        taken += first.poll(10 - len(taken), 1.0)
    first.commit(taken)
    first.close()
    again = KafkaReplayConsumer(kafka_bootstrap, ENRICHED.name, "resume", None, None, ns)
    assert (again.total, again.done_count) == (30, 10)
    rest = []
    while not again.caught_up():
        rest += again.poll(50, 1.0)
    again.close()
    assert len(rest) == 20
    assert {(m.partition, m.offset) for m in rest}.isdisjoint(
        {(m.partition, m.offset) for m in taken}
    )
