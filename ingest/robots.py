"""robots.txt: fetched through the guarded client, cached, honoured (catalogue F13).

* 2xx: parsed (protego; the first ``max_bytes`` = 500 KiB only, like Google);
* 4xx (404 included): no rules, everything allowed (RFC 9309 "unavailable");
* 5xx or unreachable: everything disallowed (RFC 9309 "unreachable"), re-checked after
  ``error_ttl_s`` rather than the day-long cache of a real answer;
* verdicts are cached per ``scheme://host:port`` for at most ``ttl_s`` (24 h);
* ``Crawl-delay`` for our user agent (or ``*``) is handed to the :class:`HostGate`;
* the robots.txt request itself takes a slot of the host's gate (when one is given), so
  a fetcher new to a host spaces its first page from it by the Crawl-delay it reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog
from protego import Protego

from ingest import metrics
from ingest.hostcache import HostCache
from ingest.http import FetchOptions, Refused, fetch
from ingest.politeness import HostGate, host_key, no_gate
from ingest.rights import robots_evidence
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)
ROBOTS_MAX_BYTES = 500 * 1024


@dataclass
class _Rules:
    ttl_s: float
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
        gate: HostGate | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.gate = gate
        self.agent = options.user_agent.split("/")[0]
        self.ttl_s = min(ttl_s, 86_400)
        self.error_ttl_s = min(error_ttl_s, self.ttl_s)
        self.clock = clock
        self._cache: HostCache[_Rules] = HostCache(self._load, clock)

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

    def ai_evidence(self, url: str) -> list[str]:
        """The AI crawlers the host's robots.txt keeps off ``url`` (:mod:`ingest.rights`);
        ``robots:unknown`` when it cannot be read. Never raises."""
        try:
            rules = self._get(host_key(url))
        except Exception as exc:  # e.g. a redirect's host whose robots.txt is refused
            log.info("robots_unknown_for_rights", host=host_key(url), error=repr(exc)[:200])
            return ["robots:unknown"]
        if rules.parser is None:
            return [] if rules.allow_all else ["robots:unknown"]
        return robots_evidence(rules.parser, url)

    def _get(self, key: str) -> _Rules:
        return self._cache.get(key)

    def _load(self, key: str) -> tuple[_Rules, float]:
        rules = self._fetch(key)
        return rules, rules.ttl_s

    def _fetch(self, key: str) -> _Rules:
        opts = FetchOptions(**{**self.options.__dict__, "max_bytes": ROBOTS_MAX_BYTES})
        metrics.ROBOTS.labels("fetched").inc()
        with self.gate.slot(key, kind="robots") if self.gate else no_gate():
            try:
                resp = fetch(self.client, f"{key}/robots.txt", opts, kind="robots", truncate=True)
            except Refused:
                raise
            except BadInput as exc:
                log.warning("robots_unreachable", host=key, reason=exc.reason)
                return _Rules(self.error_ttl_s, None, allow_all=False)
        if resp.status >= 500 or resp.status == 429:
            log.warning("robots_server_error", host=key, status=resp.status)
            return _Rules(self.error_ttl_s, None, allow_all=False)
        if resp.status >= 400 or resp.status < 200 or resp.status >= 300:
            return _Rules(self.ttl_s, None, allow_all=True)
        text = resp.body.decode("utf-8", "replace")
        parser = Protego.parse(text)
        delay = parser.crawl_delay(self.agent)
        return _Rules(self.ttl_s, parser, allow_all=True, crawl_delay=delay)
