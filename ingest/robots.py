"""robots.txt: fetched through the guarded client, cached, honoured (catalogue F13).

* 2xx: parsed (protego; the first ``max_bytes`` = 500 KiB only, like Google);
* 4xx (404 included): no rules, everything allowed (RFC 9309 "unavailable");
* 5xx or unreachable: everything disallowed (RFC 9309 "unreachable"), re-checked after
  ``error_ttl_s`` rather than the day-long cache of a real answer;
* verdicts are cached per ``scheme://host:port`` for at most ``ttl_s`` (24 h);
* ``Crawl-delay`` for our user agent (or ``*``) is handed to the :class:`HostGate`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog
from protego import Protego

from ingest import metrics
from ingest.http import FetchOptions, Refused, fetch
from ingest.politeness import host_key
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)
ROBOTS_MAX_BYTES = 500 * 1024


@dataclass
class _Rules:
    expires: float
    parser: Protego | None  # None: allow or deny everything, per ``allow_all``
    allow_all: bool
    crawl_delay: float | None = None


class RobotsCache:
    def __init__(
        self,
        client: httpx.Client,
        options: FetchOptions,
        *,
        ttl_s: float = 86_400,
        error_ttl_s: float = 600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.options = options
        self.agent = options.user_agent.split("/")[0]
        self.ttl_s = min(ttl_s, 86_400)
        self.error_ttl_s = min(error_ttl_s, self.ttl_s)
        self.clock = clock
        self._rules: dict[str, _Rules] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def check(self, url: str) -> float | None:
        """Raise ``BadInput`` unless robots.txt allows ``url``; return its Crawl-delay."""
        rules = self._get(host_key(url))
        if rules.parser is None:
            allowed = rules.allow_all
        else:
            allowed = rules.parser.can_fetch(url, self.agent)
        if not allowed:
            outcome = "disallowed" if rules.parser is not None else "unavailable"
            metrics.ROBOTS.labels(outcome).inc()
            reason = f"robots_{outcome}"
            raise BadInput(reason, f"robots.txt of {host_key(url)} disallows {url[:300]}")
        metrics.ROBOTS.labels("allowed").inc()
        return rules.crawl_delay

    def _get(self, key: str) -> _Rules:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one robots.txt fetch per host at a time
            rules = self._rules.get(key)
            if rules is None or rules.expires <= self.clock():
                rules = self._fetch(key)
                self._rules[key] = rules
            return rules

    def _fetch(self, key: str) -> _Rules:
        now = self.clock()
        opts = FetchOptions(**{**self.options.__dict__, "max_bytes": ROBOTS_MAX_BYTES})
        metrics.ROBOTS.labels("fetched").inc()
        try:
            resp = fetch(self.client, f"{key}/robots.txt", opts, kind="robots", truncate=True)
        except Refused:
            raise
        except BadInput as exc:
            log.warning("robots_unreachable", host=key, reason=exc.reason)
            return _Rules(now + self.error_ttl_s, None, allow_all=False)
        if resp.status >= 500 or resp.status == 429:
            log.warning("robots_server_error", host=key, status=resp.status)
            return _Rules(now + self.error_ttl_s, None, allow_all=False)
        if resp.status >= 400 or resp.status < 200 or resp.status >= 300:
            return _Rules(now + self.ttl_s, None, allow_all=True)
        text = resp.body.decode("utf-8", "replace")
        parser = Protego.parse(text)
        delay = parser.crawl_delay(self.agent)
        return _Rules(now + self.ttl_s, parser, allow_all=True, crawl_delay=delay)
