"""A running pipeline under test: news server + worker processes on the private stack."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, make_url, text

from devserver.server import NewsServer
from tests.reliability.harness.guard import AUDIT_DIR_ENV
from tests.reliability.harness.stack import PrivateStack
from tests.reliability.harness.supervisor import Supervisor
from wiredesk import db as database

CONSUMER_COMMANDS = {
    "fetch": "fetch_pages",
    "extract": "extract_articles",
    "enrich": "enrich_articles",
    "sink": "write_articles",
}


def fresh_schema(database_url: str, name: str | None = None) -> str:
    """A new, migrated schema in ``database_url``; returns a URL that uses it."""
    schema = name or f"r_{uuid.uuid4().hex[:10]}"
    _admin(database_url, f'CREATE SCHEMA "{schema}"')
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    database.upgrade(rendered)
    return rendered


def drop_schema(database_url: str, schema: str) -> None:
    """Drop a schema made by :func:`fresh_schema`, with everything in it."""
    _admin(database_url, f'DROP SCHEMA "{schema}" CASCADE')


def _admin(database_url: str, statement: str) -> None:
    """Run one statement on a short-lived engine of ``database_url``."""
    admin = create_engine(database_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


def wait_until(
    condition: Callable[[], object], timeout: float, poll_s: float = 0.5
) -> float | None:
    """Seconds until ``condition()`` was true, or None if it never was within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 (servers may be coming back up)
            pass
        time.sleep(poll_s)
    return None


@dataclass
class Releaser:
    """Publishes held-back articles on the news server at a steady rate, in a thread."""

    server: NewsServer
    per_second: float
    reserve: int = 0  # kept back for :meth:`release_reserve`
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Releaser:
        self._thread = threading.Thread(target=self._run, name="releaser", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        owed = 0.0
        while not self._stop.wait(0.5) and len(self.server.held) > self.reserve:
            owed += self.per_second * 0.5
            if owed >= 1:
                n = min(int(owed), len(self.server.held) - self.reserve)
                self.server.release(n)
                owed -= int(owed)

    def release_reserve(self, n: int) -> None:
        """Release ``n`` of the reserved articles now (a fault phase wants fresh work)."""
        n = min(n, self.reserve)
        self.reserve -= n
        self.server.release(n)

    def finish(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.server.release(len(self.server.held))


def loopback_ports(*urls: str) -> str:
    """WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS for servers at ``urls``."""
    return json.dumps(sorted(_ports(list(urls))))


def worker_env(
    stack: PrivateStack, database_url: str, namespace: str, workdir: Path, feeds: list[str]
) -> dict[str, str]:
    return {
        "WIREDESK_BUS": "kafka",
        "WIREDESK_KAFKA_BOOTSTRAP": stack.bootstrap,
        "WIREDESK_DATABASE_URL": database_url,
        "WIREDESK_NAMESPACE": namespace,
        "WIREDESK_PARTITIONS": "6",
        "WIREDESK_POLL_TIMEOUT_S": "0.5",
        "WIREDESK_RETRY_MAX_BACKOFF_S": "5",
        "WIREDESK_LOG_FORMAT": "json",
        "WIREDESK_FEEDS": json.dumps(feeds),
        "WIREDESK_POLL_INTERVAL_S": "2",
        # the news server is ours, on 127.0.0.1: allow exactly its port, poll it often and
        # fetch from it without the politeness delay meant for other people's sites
        "WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS": json.dumps(sorted(_ports(feeds))),
        "WIREDESK_FETCH_HOST_DELAY_S": "0",
        "WIREDESK_FETCH_HOST_CONCURRENCY": "8",
        # news.links is keyed by host and every outlet of the news server is 127.0.0.1:
        # split it (an explicit allowance, as for a big site) so its links spread over
        # the partitions and every fetch worker has some, as many real hosts would
        "WIREDESK_FETCH_HOST_SHARDS": "127.0.0.1=16",
        "WIREDESK_POLL_MIN_INTERVAL_S": "1",
        "WIREDESK_POLL_MAX_INTERVAL_S": "3",  # also caps the feeds' max-age=60 hint
        "WIREDESK_POLL_MAX_BACKOFF_S": "5",
        "WIREDESK_POLL_ADAPTIVE": "false",
        AUDIT_DIR_ENV: str(workdir / "socket-audit"),
    }


def _ports(urls: list[str]) -> set[int]:
    return {urlsplit(u).port or 80 for u in urls}


def new_supervisor(env: dict[str, str], workdir: Path, **kwargs: object) -> Supervisor:
    return Supervisor(env, workdir / "logs", **kwargs)  # type: ignore[arg-type]
