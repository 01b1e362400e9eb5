"""Per-host politeness: a concurrency cap, a minimum delay between request starts
(raised by robots.txt ``Crawl-delay``), and Retry-After blocks after 429/503.

One :class:`HostGate` is shared by all fetch threads of a process. A fetch waits for its
host's turn without holding up fetches to other hosts; a wait longer than
``max_wait_s`` (a Retry-After of minutes) is not waited out: :class:`HostBackoff` is
raised and the record goes to the DLQ with reason ``host_backoff``, to be re-sent later,
and no request reaches that host until the block ends (catalogue F14). A block lasts at
most ``MAX_HOLD_S`` (24 h), whatever the server asked, and a robots.txt Crawl-delay is
honoured up to ``MAX_CRAWL_DELAY_S`` (B6).

The gate is per process. Across fetcher replicas it holds by construction: ``news.links``
is keyed by host (:mod:`wiredesk.hostroute`), so one fetcher of the group owns a host at
a time. A process that takes a host over starts polite: robots.txt and tdmrep.json are
requests too and take a slot (``kind="robots"``), and the Crawl-delay they reveal spaces
the next request from that first one (:meth:`HostGate.set_crawl_delay`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from ingest import metrics
from ingest.schedule import clamp_hold, digits_seconds
from wiredesk.stage import BadInput

MAX_CRAWL_DELAY_S = 30.0  # longer would hold a fetch thread past the batch's budget


class HostBackoff(BadInput):
    """The host asked us to stay away (Retry-After) for longer than we wait in-line."""


def host_key(url: str) -> str:
    """``scheme://host:port``: the unit politeness applies to."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = (parts.hostname or "").lower()
    return f"{parts.scheme.lower()}://{f'[{host}]' if ':' in host else host}:{port}"


def retry_after_seconds(value: str | None, now: float, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (ASCII delta-seconds or HTTP-date) within
    ``[0, MAX_HOLD_S]``; ``default`` if absent or unreadable (the 429/503 still holds)."""
    value = (value or "").strip()
    if not value:
        return default
    if value.isascii() and value.isdigit():
        return digits_seconds(value)
    try:
        return clamp_hold(parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return default


@contextmanager
def no_gate() -> Iterator[None]:
    """Stands in for :meth:`HostGate.slot` where no gate is used."""
    yield


@dataclass
class _Host:
    active: int = 0
    next_start: float = 0.0
    last: float | None = None  # when the last request started, or ended once it did
    delay: float = 0.0
    blocked_until: float = 0.0


class HostGate:
    def __init__(
        self,
        concurrency: int = 2,
        min_delay_s: float = 1.0,
        max_wait_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.concurrency = concurrency
        self.min_delay_s = min_delay_s
        self.max_wait_s = max_wait_s
        self.clock = clock
        self._hosts: dict[str, _Host] = {}
        self._cond = threading.Condition()

    def _host(self, key: str) -> _Host:
        if key not in self._hosts:
            self._hosts[key] = _Host(delay=self.min_delay_s)
        return self._hosts[key]

    def set_crawl_delay(self, key: str, seconds: float | None) -> None:
        """Space requests to ``key`` by ``seconds`` (at most ``MAX_CRAWL_DELAY_S``), counted
        from the last request already made (e.g. the robots.txt that told us)."""
        with self._cond:
            host = self._host(key)
            host.delay = max(self.min_delay_s, clamp_hold(seconds, MAX_CRAWL_DELAY_S))
            if host.last is not None:
                host.next_start = host.last + host.delay

    def crawl_delay(self, key: str) -> float:
        with self._cond:
            return self._host(key).delay

    def block(self, key: str, seconds: float) -> None:
        """No request to ``key`` for ``seconds`` (Retry-After), at most ``MAX_HOLD_S``."""
        with self._cond:
            host = self._host(key)
            host.blocked_until = max(host.blocked_until, self.clock() + clamp_hold(seconds))
            self._cond.notify_all()

    def blocked_for(self, key: str) -> float:
        with self._cond:
            return max(0.0, self._host(key).blocked_until - self.clock())

    @contextmanager
    def slot(self, key: str, kind: str = "page") -> Iterator[None]:
        """Hold one of the host's request slots, once its delay and any block have passed.

        The delay runs from the start of the last request and from its end: the server
        sees at least the delay between two requests, however long one took."""
        waited = 0.0
        with self._cond:
            host = self._host(key)
            while True:
                now = self.clock()
                blocked = host.blocked_until - now
                if blocked > self.max_wait_s:
                    raise HostBackoff("host_backoff", f"{key} asked for {blocked:.0f}s of quiet")
                ready_at = max(host.next_start, host.blocked_until)
                if host.active < self.concurrency and now >= ready_at:
                    host.active += 1
                    host.last = now
                    host.next_start = now + host.delay
                    break
                pause = max(0.01, ready_at - now) if host.active < self.concurrency else 1.0
                started = time.monotonic()
                self._cond.wait(timeout=pause)
                waited += time.monotonic() - started
        if waited:
            metrics.POLITENESS_WAIT.labels(kind).inc(waited)
        try:
            yield
        finally:
            with self._cond:  # the delay also runs from the end of this request
                host.active -= 1
                now = self.clock()
                host.last = max(host.last or now, now)
                host.next_start = max(host.next_start, now + host.delay)
                self._cond.notify_all()
