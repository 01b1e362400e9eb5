"""Issue 13 on real Kafka + PostgreSQL: dead letters that always fit (B5), a zombie sink
that cannot move a row back (B4), a frozen transaction that cannot stall the sinks."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from tests.ingest_support import fetch_stage, kafka_bus, read_topic  # noqa: F401 (fixture)
from tests.integration.conftest import free_port, group_progress, wait_for
from tests.integration.test_sink_delivery import produce
from wiredesk import db
from wiredesk.budget import Budget
from wiredesk.bus import MAX_MESSAGE_BYTES
from wiredesk.db.tables import ArticleRow
from wiredesk.records import DeadLetter, EnrichedArticle, Link
from wiredesk.runner import RunnerOptions, StageRunner
from wiredesk.topics import DLQ, ENRICHED, LINKS

pytestmark = pytest.mark.integration
FETCHED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_huge_key_and_a_huge_host_name_end_as_dead_letters_that_fit(kafka_bus):  # noqa: F811
    huge_host = f"http://{'a' * 700_000}.example/news/1"
    link = Link(url=huge_host, article_id="0" * 32)
    kafka_bus.publish(LINKS.name, "k" * 600_000, b'{"schema": "news.links/1"}')  # 600 KB key
    kafka_bus.publish(LINKS.name, None, link.encode())  # a 700 KB host name (no key: too big)
    kafka_bus.flush()
    stage, fetcher = fetch_stage([])
    runner = StageRunner(stage, kafka_bus, options=RunnerOptions(poll_timeout_s=0.5))
    try:
        consumed, deadline = 0, time.monotonic() + 60
        while consumed < 2 and time.monotonic() < deadline:
            consumed += runner.run_batch()  # before issue 13: RecordRejected escaped here
    finally:
        runner.consumer.close()
        fetcher.close()
    assert consumed == 2
    letters = [d for d in read_topic(kafka_bus, DLQ) if isinstance(d, DeadLetter)]
    assert len(letters) == 2
    assert all(len(d.encode()) < MAX_MESSAGE_BYTES for d in letters)
    keyed = next(d for d in letters if d.source_key_truncated)
    assert keyed.reason == "decode_invalid" and "600000 bytes, sha256" in keyed.source_key
    host = next(d for d in letters if not d.source_key_truncated)
    assert host.original_truncated and host.original_size > 700_000
    assert len(host.detail) < 2_100


def enriched(title: str) -> EnrichedArticle:
    return EnrichedArticle(
        article_id="f" * 32,
        url="http://wire.example/zombie",
        title=title,
        text=f"{title}. " * 30,
        extractor_version="trafilatura-2.3.1",
        content_hash=title.ljust(64, "0"),
        fetched_at=FETCHED,  # both versions: the same fetch (an enrich replay)
    )


def row(url: str) -> tuple[str, int | None] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            got = conn.execute(select(ArticleRow.title, ArticleRow.source_offset)).first()
            return (got.title, got.source_offset) if got else None
    finally:
        engine.dispose()


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("T")


def test_a_zombie_sink_resumed_after_eviction_does_not_overwrite_the_newer_row(
    workers, kafka_bootstrap, pg_url, unique
):
    ns = f"t{unique}."
    produce(kafka_bootstrap, ns, [(enriched("v1").key(), enriched("v1").encode())])
    zombie = workers.start("sink", WIREDESK_CRASH_AT="freeze:after_process")
    wait_for(lambda: stopped(zombie.pid), 60, "the first sink to freeze mid-batch")
    assert row(pg_url) is None  # it holds v1, unwritten

    workers.start("sink")  # takes the partitions once the frozen member is evicted
    produce(kafka_bootstrap, ns, [(enriched("v2").key(), enriched("v2").encode())])
    group, topic = f"{ns}write_articles", f"{ns}{ENRICHED.name}"
    wait_for(lambda: group_progress(kafka_bootstrap, group, topic) == (2, 2), 90, "v2 committed")
    assert row(pg_url) == ("v2", 1)

    os.kill(zombie.pid, signal.SIGCONT)  # the zombie writes its batch (v1) and commits
    wait_for(lambda: b"commit_failed" in _log(workers, 0), 60, "the zombie's refused commit")
    assert row(pg_url) == ("v2", 1)  # before issue 13: ("v1", ...) -- fetched_at tied
    codes = workers.stop_all()
    assert set(codes.values()) == {0}, workers.logs()


def _log(workers, index: int, command: str = "sink") -> bytes:
    return (workers.log_dir / f"{command}-{index}.log").read_bytes()


def test_a_frozen_transaction_holding_locks_does_not_stall_the_sink(
    workers, kafka_bootstrap, pg_url, unique
):
    ns = f"t{unique}."
    group, topic = f"{ns}write_articles", f"{ns}{ENRICHED.name}"
    port = free_port()
    sink = workers.start(
        "sink",
        WIREDESK_METRICS_PORT=str(port),
        WIREDESK_DB_LOCK_TIMEOUT_S="1",
        WIREDESK_RETRY_MAX_BACKOFF_S="1",
    )
    produce(kafka_bootstrap, ns, [(enriched("v1").key(), enriched("v1").encode())])
    wait_for(lambda: group_progress(kafka_bootstrap, group, topic) == (1, 1), 90, "v1 written")

    # A writer frozen inside its transaction, with the services' session settings: it
    # holds the article's row lock and the sink's fence rows and sends nothing more.
    idle_s = 4.0
    frozen = db.make_engine(pg_url, idle_in_transaction_timeout_s=idle_s, pool_size=1)
    conn = frozen.connect()
    conn.begin()
    conn.execute(text("SELECT * FROM articles FOR UPDATE"))
    conn.execute(text("SELECT * FROM sink_offsets FOR UPDATE"))
    frozen_at = time.monotonic()

    produce(kafka_bootstrap, ns, [(enriched("v2").key(), enriched("v2").encode())])
    saw_unready = wait_for(lambda: _readyz(port) == 503, 30, "/readyz to fail while blocked")
    wait_for(lambda: row(pg_url) == ("v2", 1), 60, "the sink to write once the lock is gone")
    took = time.monotonic() - frozen_at
    assert saw_unready and took < idle_s + 10  # the idle timeout ended the frozen session
    assert _readyz(port) == 200 or wait_for(lambda: _readyz(port) == 200, 10, "ready again")
    with pytest.raises(Exception, match="terminat|closed|idle"):
        conn.execute(text("SELECT 1"))
    conn.invalidate()
    frozen.dispose()
    assert sink.poll() is None  # the sink never exited


def _readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_the_attempt_ledger_on_postgresql_ends_a_crash_loop(pg_url, memory_bus):
    """The poison-record ledger shared by every worker, on the real database: a record
    that keeps taking its worker down is a ``crash_loop`` letter after 3 deaths."""
    from tests.unit.test_runner import IN, OUT, fill, link
    from tests.unit.test_runner_budget import _Crash, crashes_on
    from wiredesk.attempts import SqlLedger
    from wiredesk.runner import drain
    from wiredesk.stage import Stage

    engine = db.make_engine(pg_url)
    fill(memory_bus, link(1), link(2, "poison"), link(3))
    stage = Stage("crashy_pg", IN, crashes_on("poison"), output=OUT)
    crashes = 0
    for _restart in range(10):  # each restart: a new worker, maybe on another host
        runner = StageRunner(stage, memory_bus, ledger=SqlLedger(engine))
        try:
            drain([runner])
            break
        except _Crash:
            crashes += 1
    engine.dispose()
    letters = [DeadLetter.decode(m.value) for m in memory_bus.messages(DLQ.name)]
    assert crashes == 3 and [(d.reason, d.attempts) for d in letters] == [("crash_loop", 3)]


def test_a_batch_longer_than_max_poll_interval_keeps_its_membership(kafka_bootstrap, unique):
    """B3: six records of 2.5 s each (15 s) under a 10 s max.poll.interval: the runner
    polls (paused) between records, so the member is not evicted and the commit holds."""
    from wiredesk.bus.kafka import KafkaBus
    from wiredesk.metrics import COMMIT_FAILED
    from wiredesk.stage import Stage
    from wiredesk.topics import Topic

    src, out = Topic(f"b3in{unique}", Link), Topic(f"b3out{unique}", Link)
    bus = KafkaBus(kafka_bootstrap, partitions=1, max_poll_interval_ms=10_000)
    bus.ensure_topics([src.name, out.name, DLQ.name])
    for i in range(6):
        link = Link(url=f"http://example.com/{i}", article_id=f"{i:032d}")
        bus.publish(src.name, link.key(), link.encode())
    bus.flush()

    def slow(record):
        time.sleep(2.5)
        yield record

    options = RunnerOptions(
        poll_timeout_s=1.0, keepalive_every_s=3.0, budget=Budget(cpu_s=5, wall_s=10)
    )
    stage = Stage(f"b3{unique}", src, slow, output=out, batch_size=6)
    runner = StageRunner(stage, bus, options=options)
    failed = COMMIT_FAILED.labels(stage.name)._value.get()
    try:
        consumed, deadline = 0, time.monotonic() + 90
        while consumed < 6 and time.monotonic() < deadline:
            consumed += runner.run_batch()
    finally:
        runner.consumer.close()
        bus.close()
    assert consumed == 6
    assert COMMIT_FAILED.labels(stage.name)._value.get() == failed  # no eviction
    assert group_progress(kafka_bootstrap, stage.name, src.name) == (6, 6)


def test_sigterm_is_honoured_while_a_record_waits_on_a_page(workers, kafka_bootstrap, unique):
    """B1: the fetch service is waiting on a page that answers after 60 s: on SIGTERM
    the runner leaves the record and its batch (uncommitted) within seconds and the
    service exits 0. The exit itself waits for the fetch thread's own deadline
    (``fetch_timeout_s``, 8 s here): Python joins the fetch pool's threads at exit."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from wiredesk.bus.kafka import KafkaBus

    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            release.wait(60)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    ns = f"t{unique}."
    bus = KafkaBus(kafka_bootstrap, partitions=3, namespace=ns)
    bus.ensure_topics([LINKS.name, DLQ.name])
    url = f"http://127.0.0.1:{port}/slow"
    bus.publish(LINKS.name, url, Link(url=url, article_id="1" * 32).encode())
    bus.flush()
    bus.close()
    try:
        fetch = workers.start(
            "fetch",
            WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS=json.dumps([port]),
            WIREDESK_ROBOTS_ENABLED="false",
            WIREDESK_FETCH_TIMEOUT_S="8",
        )
        wait_for(lambda: _waiting(port), 60, "the fetch to connect to the slow page")
        time.sleep(2)  # the record is now waiting on the page
        started = time.monotonic()
        fetch.send_signal(signal.SIGTERM)
        wait_for(lambda: b"stage_stopped" in _log(workers, 0, "fetch"), 10, "the runner to stop")
        stopped_after = time.monotonic() - started
        code = fetch.wait(30)
        exited_after = time.monotonic() - started
    finally:
        release.set()
        server.shutdown()
    assert stopped_after < 3, workers.logs()  # before issue 13: after the whole fetch
    assert code == 0 and exited_after < 8 + 5, workers.logs()
    group, topic = f"{ns}fetch_pages", f"{ns}{LINKS.name}"
    assert group_progress(kafka_bootstrap, group, topic) == (0, 1)  # redelivered later


def _waiting(port: int) -> bool:
    """Whether a client is connected to the slow server (the fetch is in flight)."""
    import subprocess

    out = subprocess.run(["ss", "-tn", "state", "established"], capture_output=True, text=True)
    return f"127.0.0.1:{port}" in out.stdout


def test_postgresql_batch_marks_follow_the_memory_ledgers_rules(pg_url):
    """The one-statement batch marks on PostgreSQL answer as the in-process ledger does,
    step by step: an unfinished batch makes its partitions suspect, a closed one or a
    new first offset does not, and a lost connection is opened again."""
    from wiredesk.attempts import MemoryLedger, SqlLedger

    engine = db.make_engine(pg_url)
    sql, memory = SqlLedger(engine), MemoryLedger()
    a, b = ("news.raw", 0), ("news.raw", 1)
    steps = [
        ("begin", {a: 5, b: 7}),
        ("begin", {a: 5, b: 7}),  # never ended: both suspect
        ("begin", {a: 5}),  # a third try of a
        ("end", {a: 5, b: 7}),
        ("begin", {a: 5, b: 8}),  # closed, and a new first offset
        ("begin", {b: 8}),
        ("drop connection", {}),
        ("begin", {b: 8}),
    ]
    answers = []
    try:
        for step, starts in steps:
            if step == "drop connection":
                pid = sql._held.connection.dbapi_connection.info.backend_pid
                with engine.connect() as conn:
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                with pytest.raises(DBAPIError):  # this call fails (the runner goes on)
                    sql.begin_batch("g", {b: 8})
                continue
            if step == "begin":
                answers.append((sql.begin_batch("g", starts), memory.begin_batch("g", starts)))
            else:
                sql.end_batch("g", starts)
                memory.end_batch("g", starts)
        with engine.connect() as conn:
            attempts = dict(
                conn.execute(text("SELECT partition, attempts FROM record_attempts")).all()
            )
    finally:
        sql.close()
        engine.dispose()
    assert [s for s, _ in answers] == [m for _, m in answers]
    assert [s for s, _ in answers] == [set(), {a, b}, {a}, set(), {b}, {b}]
    assert attempts == {0: 1, 1: 3}
