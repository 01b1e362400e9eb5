"""Prometheus metrics of the runner, and the HTTP server for /metrics, /healthz, /readyz.

Labels are bounded: stage names, topic names, partition numbers and short reason codes.
Never a URL or an article id (label cardinality is unbounded by design in
prometheus-client, #568).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

RECORDS_IN = Counter("wiredesk_records_in_total", "Records consumed by a stage", ["stage"])
RECORDS_OUT = Counter("wiredesk_records_out_total", "Records a stage published or wrote", ["stage"])
RECORDS_DROPPED = Counter(
    "wiredesk_records_dropped_total", "Records a stage filtered out (0 outputs)", ["stage"]
)
DLQ = Counter("wiredesk_dlq_total", "Records sent to the dead-letter topic", ["stage", "reason"])
RETRIES = Counter("wiredesk_retries_total", "Transient failures retried", ["stage", "step"])
COMMITS = Counter("wiredesk_commits_total", "Offset commits", ["stage"])
REDELIVERED = Counter(
    "wiredesk_redelivered_total",
    "Records that arrived already applied (redelivery after a crash, a replay, or an "
    "upstream duplicate) and were skipped: the sink's unchanged or stale rows, the "
    "enricher's stored verdicts",
    ["stage"],
)
COMMIT_FAILED = Counter(
    "wiredesk_commit_failed_total", "Commits refused after a rebalance", ["stage"]
)
BATCH_SECONDS = Histogram(
    "wiredesk_batch_seconds",
    "Time from poll to commit of one batch",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONSUMER_LAG = Gauge(
    "wiredesk_consumer_lag", "Committed-offset lag", ["stage", "topic", "partition"]
)
CONSUMER_OFFSET = Gauge(
    "wiredesk_consumer_committed_offset",
    "Committed offset of the stage's group (a partition making no progress keeps it flat)",
    ["stage", "topic", "partition"],
)
PAUSED = Gauge(
    "wiredesk_paused",
    "1 while the stage backs off from a transient failure (broker or database down)",
    ["stage"],
)
DLQ_LOST = Counter(
    "wiredesk_dlq_lost_total",
    "Dead letters the bus refused even without their original bytes (logged, not raised)",
    ["stage", "reason"],
)
LEDGER_FAILED = Counter(
    "wiredesk_attempt_ledger_failed_total",
    "Writes of the poison-record ledger that failed (the stage went on without it)",
    ["stage"],
)
READY = Gauge("wiredesk_ready", "1 when the stage can make progress", ["stage"])
LAST_PROGRESS = Gauge(
    "wiredesk_last_progress_timestamp_seconds", "When the stage last completed a loop", ["stage"]
)


def initialise(stage: str) -> None:
    """Create a stage's fixed series at zero, so dashboards read 0 rather than no data."""
    for counter in (RECORDS_IN, RECORDS_OUT, RECORDS_DROPPED, COMMITS, COMMIT_FAILED, REDELIVERED):
        counter.labels(stage)
    for step in ("process", "deliver"):
        RETRIES.labels(stage, step)
    BATCH_SECONDS.labels(stage)


class Health:
    """Liveness = the loop turned recently; readiness = outputs are reachable."""

    def __init__(self, stage: str, stale_after_s: float = 40.0) -> None:
        self.stage = stage
        self.stale_after_s = stale_after_s
        self.ready = False
        self.last_beat = time.monotonic()

    def beat(self) -> None:
        self.last_beat = time.monotonic()
        LAST_PROGRESS.labels(self.stage).set_to_current_time()

    def set_ready(self, ready: bool) -> None:
        self.ready = ready
        READY.labels(self.stage).set(1 if ready else 0)

    @property
    def alive(self) -> bool:
        return time.monotonic() - self.last_beat < self.stale_after_s


def serve_metrics(host: str, port: int, health: Health) -> ThreadingHTTPServer:
    """Start /metrics, /healthz and /readyz on a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                ok = health.alive
                self._send(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
            elif self.path == "/readyz":
                ok = health.ready
                self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
            else:
                self._send(404, b"not found\n")

        def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the structured log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
