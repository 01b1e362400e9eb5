"""K1/K3/D3: a worker crashes (``os._exit(137)``) at one step boundary of its first
batch; a restarted worker must finish the job with nothing lost, no duplicate row, and
the same verdicts as a fault-free run. All cases run at once, each in its own namespace
and schema, so the suite pays the group-session timeout once, not once per case."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from tests.reliability.harness import kafka_state
from tests.reliability.harness.pipeline import fresh_schema, wait_until, worker_env
from tests.reliability.harness.stack import REPO, PrivateStack
from tests.reliability.harness.supervisor import WORKER_MODULE, Supervisor
from wiredesk.bus.kafka import KafkaBus
from wiredesk.db.dedup_tables import ContentFingerprintRow
from wiredesk.db.tables import ArticleRow
from wiredesk.records import EnrichedArticle, Record
from wiredesk.topics import ALL_TOPICS

# catalogue K1 names -> how the crash is injected
CRASH_POINTS = {
    "after_poll": {"WIREDESK_CRASH_AT": "after_poll"},
    "after_transform": {"WIREDESK_CRASH_AT": "after_process"},
    "after_db_flush": {},  # WIREDESK_TEST_CRASH_BEFORE_COMMIT=<the stage's table>
    "after_db_commit": {"WIREDESK_CRASH_AT": "after_output"},
    "after_offset_commit": {"WIREDESK_CRASH_AT": "after_commit"},
}
STAGE_TABLES = {"sink": ArticleRow.__tablename__, "enrich": ContentFingerprintRow.__tablename__}
BATCH = 10


@dataclass
class CrashCase:
    command: str  # sink | enrich
    point: str
    namespace: str
    db_url: str
    first_exit: int | None = None
    after_crash: dict[str, int] = field(default_factory=dict)  # committed, durable outputs
    rows_before_restart: dict[str, Any] = field(default_factory=dict)
    finished_s: float | None = None
    restarted_metrics: dict[tuple[str, tuple], float] | None = None


def _first_env(case: CrashCase) -> dict[str, str]:
    env = dict(CRASH_POINTS[case.point])
    if case.point == "after_db_flush":
        env["WIREDESK_TEST_CRASH_BEFORE_COMMIT"] = STAGE_TABLES[case.command]
    return env


def run_cases(
    stack: PrivateStack,
    workdir: Path,
    commands: dict[str, tuple[str, list[Record]]],
) -> list[CrashCase]:
    """``commands``: worker command -> (input topic, records). Every crash point each."""
    cases = [
        CrashCase(command, point, f"c{uuid.uuid4().hex[:8]}.", fresh_schema(stack.database_url()))
        for command in commands
        for point in CRASH_POINTS
    ]
    procs = []
    for case in cases:
        topic, records = commands[case.command]
        _produce(stack, case.namespace, topic, records)
        env = {
            **os.environ,
            **worker_env(stack, case.db_url, case.namespace, workdir, []),
            "WIREDESK_BATCH_SIZE": str(BATCH),
            **_first_env(case),
        }
        log = open(workdir / f"first-{case.command}-{case.point}.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, case.command],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()
    for case, proc in zip(cases, procs, strict=True):
        try:
            case.first_exit = proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            case.first_exit = proc.wait()
        topic, _ = commands[case.command]
        case.after_crash = _state(stack, case, topic)
        case.rows_before_restart = _rows(case.db_url)
    supervisors = []
    for case in cases:
        env = worker_env(stack, case.db_url, case.namespace, workdir, [])
        env["WIREDESK_BATCH_SIZE"] = str(BATCH)
        sup = Supervisor(env, workdir / f"restart-{case.command}-{case.point}")
        sup.add(case.command)
        supervisors.append(sup)
    started = time.monotonic()
    for case, sup in zip(cases, supervisors, strict=True):
        topic, records = commands[case.command]
        expected = len(records)
        done = wait_until(
            lambda c=case, t=topic, n=expected: _committed(stack, c, t) >= n,
            120 - (time.monotonic() - started),
        )
        case.finished_s = None if done is None else round(time.monotonic() - started, 1)
        case.restarted_metrics = sup.scrape(sup.slots[0])
    for sup in supervisors:
        sup.stop_all(timeout=20)
    return cases


def _produce(stack: PrivateStack, ns: str, topic: str, records: list[Record]) -> None:
    bus = KafkaBus(stack.bootstrap, partitions=6, namespace=ns, client_id="crash-matrix")
    try:
        bus.ensure_topics(t.name for t in ALL_TOPICS)
        for r in records:
            bus.publish(topic, r.key(), r.encode())
        bus.flush()
    finally:
        bus.close()


def group_of(command: str) -> str:
    return {"sink": "write_articles", "enrich": "enrich_articles"}[command]


def _committed(stack: PrivateStack, case: CrashCase, topic: str) -> int:
    progress = kafka_state.partition_progress(
        stack.bootstrap, case.namespace + group_of(case.command), case.namespace + topic
    )
    return sum(c for c, _ in progress.values())


def _state(stack: PrivateStack, case: CrashCase, topic: str) -> dict[str, int]:
    committed = _committed(stack, case, topic)
    if case.command == "sink":
        durable = len(_rows(case.db_url))
    else:  # enriched articles (not the verdict revisions that may come with them)
        records = kafka_state.read_topic(stack.bootstrap, case.namespace + "news.enriched")
        durable = sum(
            1 for r in records if type(EnrichedArticle.decode(r.value)) is EnrichedArticle
        )
    return {"committed": committed, "durable_outputs": durable}


def _rows(db_url: str) -> dict[str, Any]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(ArticleRow.article_id, ArticleRow.updated_at)).all())
    finally:
        engine.dispose()


def row_count(db_url: str) -> tuple[int, int]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(ArticleRow)) or 0
            distinct = conn.scalar(select(func.count(func.distinct(ArticleRow.article_id)))) or 0
            return total, distinct
    finally:
        engine.dispose()
