"""Fetcher replicas against many local hosts: the harness of the host-routing test and
bench (tests/integration/test_fetch_replicas.py, bench/fetch_replicas.py).

Each "host" is a :class:`NewsServer` on its own loopback address (127.0.0.<n>), serving
``Crawl-delay`` in its robots.txt and logging every request with its time and client.
The fetchers are real ``wiredesk fetch`` processes in one Kafka consumer group, each with
its own User-Agent so the log tells which one made a request.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import kafka.errors
from kafka import KafkaAdminClient

from devserver.server import Faults, NewsServer, load_corpus
from wiredesk.bus.kafka import KafkaBus
from wiredesk.records import Link, url_id
from wiredesk.topics import LINKS, RAW

AGENT = "wiredesk-f{}/0.1"


@contextlib.contextmanager
def hosts(n: int, crawl_delay: float, first: int = 20) -> Iterator[list[NewsServer]]:
    """``n`` news servers on 127.0.0.<first>.. 127.0.0.<first+n-1>, each its own host."""
    corpus = load_corpus()
    robots = f"User-agent: *\nAllow: /\nCrawl-delay: {crawl_delay:g}\n"
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                NewsServer(corpus, host=f"127.0.0.{first + i}", faults=Faults(robots_txt=robots))
            )
            for i in range(n)
        ]
        yield servers


def links(servers: Sequence[NewsServer], per_host: int) -> list[Link]:
    """``per_host`` article links of each host, one host after the other (as a poll)."""
    out = []
    for server in servers:
        for art in server.corpus.articles[:per_host]:
            url = server.base_url + art.path
            out.append(Link(url=url, article_id=url_id(url)))
    return out


def publish(bus: KafkaBus, records: Sequence[Link], keying: str) -> None:
    """Publish to news.links keyed by host (``host``, the product) or by URL (``url``,
    the routing before hostroute, kept as the baseline)."""
    for link in records:
        bus.publish(LINKS.name, link.key() if keying == "host" else link.url, link.encode())
    bus.flush()


@dataclass
class Fetchers:
    """``wiredesk fetch`` processes of one group, logs in ``log_dir``."""

    env: dict[str, str]
    log_dir: Path
    procs: list[subprocess.Popen[bytes]]

    @classmethod
    def start(cls, n: int, env: dict[str, str], log_dir: Path, first_index: int = 0) -> Fetchers:
        procs = []
        for i in range(first_index, first_index + n):
            log = open(log_dir / f"fetch-{i}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "wiredesk.app.cli", "fetch"],
                    env={**os.environ, **env, "WIREDESK_USER_AGENT": AGENT.format(i)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return cls(env, log_dir, procs)

    def stop(self, timeout: float = 20) -> list[int]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-2000:] for p in sorted(self.log_dir.glob("fetch-*.log"))
        )


def fetch_env(bootstrap: str, namespace: str, database_url: str, partitions: int) -> dict[str, str]:
    return {
        "WIREDESK_BUS": "kafka",
        "WIREDESK_KAFKA_BOOTSTRAP": bootstrap,
        "WIREDESK_NAMESPACE": namespace,
        "WIREDESK_DATABASE_URL": database_url,
        "WIREDESK_PARTITIONS": str(partitions),
        "WIREDESK_POLL_TIMEOUT_S": "0.5",
        "WIREDESK_LOG_FORMAT": "json",
        "WIREDESK_ALLOW_PRIVATE_ADDRESSES": "true",  # the hosts are 127.0.0.<n>
        "WIREDESK_ARCHIVE_ENABLED": "false",
        "WIREDESK_METRICS_PORT": "0",
    }


def make_topics(bootstrap: str, namespace: str, partitions: int) -> KafkaBus:
    bus = KafkaBus(bootstrap, partitions=partitions, namespace=namespace)
    bus.ensure_topics([LINKS.name, RAW.name])
    return bus


def wait_stable(bootstrap: str, group: str, members: int, timeout: float = 60) -> None:
    """Until ``group`` is Stable with ``members`` members, each holding partitions."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + timeout
        info: dict = {}
        while time.monotonic() < deadline:
            try:
                info = admin.describe_groups([group]).get(group, {})
            except kafka.errors.KafkaError:  # no coordinator yet: the group is being made
                time.sleep(0.5)
                continue
            state = info.get("group_state") or info.get("state")
            found = info.get("members") or []
            if state == "Stable" and len(found) == members:
                return
            time.sleep(0.3)
        raise AssertionError(f"group {group} not stable with {members} members: {info}")
    finally:
        admin.close()


def pages_done(servers: Sequence[NewsServer]) -> int:
    return sum(1 for s in servers for _, _, path, _ in s.request_hits if path.endswith(".html"))


def wait_pages(servers: Sequence[NewsServer], expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pages_done(servers) < expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{pages_done(servers)} of {expected} pages after {timeout}s")
        time.sleep(0.2)


@dataclass(frozen=True)
class HostReport:
    host: str
    requests: int
    min_gap_s: float  # between any two requests (robots.txt and tdmrep.json included)
    clients: int  # how many fetchers requested the host


def report(servers: Sequence[NewsServer]) -> list[HostReport]:
    out = []
    for server in servers:
        hits = sorted(server.request_hits)
        times = [t for t, _, _, _ in hits]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        out.append(
            HostReport(
                server.host,
                len(hits),
                min(gaps) if gaps else float("inf"),
                len({agent for _, _, _, agent in hits}),
            )
        )
    return out


def page_span_s(servers: Sequence[NewsServer]) -> float:
    """Seconds from the first request to any host to the last page answered."""
    hits = [(t, path) for s in servers for t, _, path, _ in s.request_hits]
    first = min(t for t, _ in hits)
    last = max(t for t, path in hits if path.endswith(".html"))
    return last - first
