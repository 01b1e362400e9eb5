"""A worker started while the broker is unreachable waits for it instead of exiting:
alive (liveness passes) but not ready, and a SIGTERM still ends it cleanly."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

from wiredesk.app.commands import stage_service
from wiredesk.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_worker_waits_for_an_unreachable_broker_and_stops_cleanly(sqlite_url):
    metrics_port = _free_port()
    settings = Settings(
        bus="kafka",
        kafka_bootstrap=f"127.0.0.1:{_free_port()}",  # nothing listens there
        database_url=sqlite_url,
        metrics_port=metrics_port,
        retry_max_backoff_s=1,
    )
    stop = threading.Event()
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(stage_service(settings, "write_articles", stop))
    )
    worker.start()
    base = f"http://127.0.0.1:{metrics_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if _status(f"{base}/healthz") == 200:
                break
        except OSError:
            time.sleep(0.2)
    time.sleep(6)  # several connection attempts fail meanwhile
    assert worker.is_alive(), "the worker exited instead of waiting for the broker"
    assert _status(f"{base}/healthz") == 200
    assert _status(f"{base}/readyz") == 503
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive() and result == [0]
