"""``/.well-known/tdmrep.json`` (W3C TDMRep): fetched at most once per host and cached.

The file goes through the same guarded client as robots.txt (address checks, decoded
size cap of 64 KiB, deadline, our user agent) and is cached per ``scheme://host:port``
like it. Only a 2xx answer with a readable file gives rules; a 4xx means the host has no
such file (no rules: nothing reserved by it); anything else -- 5xx, 429, unreachable,
refused, too big, not JSON -- is *unknown* for ``error_ttl_s`` and never raises: the page
is fetched and stored all the same, its ``tdm_reserved`` left unknown unless a header or
meta tag says more.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import structlog

from ingest import metrics
from ingest.hostcache import HostCache
from ingest.http import FetchOptions, fetch
from ingest.politeness import HostGate, host_key, no_gate
from ingest.rights import TDMREP_MAX_BYTES, TdmRule, parse_tdmrep, tdmrep_evidence

log = structlog.get_logger(__name__)
TDMREP_PATH = "/.well-known/tdmrep.json"
TDMREP_TIMEOUT_S = 10.0  # a slow host must not eat the page's fetch budget


class TdmRepCache:
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
        self.gate = gate  # the request takes a slot of the host's gate, as a page does
        self.options = FetchOptions(
            **{
                **options.__dict__,
                "max_bytes": TDMREP_MAX_BYTES,
                "timeout_s": min(options.timeout_s, TDMREP_TIMEOUT_S),
            }
        )
        self.ttl_s = min(ttl_s, 86_400)
        self.error_ttl_s = min(error_ttl_s, self.ttl_s)
        self._cache: HostCache[list[TdmRule] | None] = HostCache(self._load, clock)

    def evidence(self, url: str) -> list[str]:
        """Evidence of the host's tdmrep.json for ``url`` (``tdmrep:unknown`` on failure)."""
        try:
            rules = self._cache.get(host_key(url))
        except Exception as exc:  # never let a side file cost the page
            log.warning("tdmrep_failed", host=host_key(url), error=repr(exc)[:200])
            metrics.TDMREP.labels("unknown").inc()
            rules = None
        return tdmrep_evidence(rules, url)

    def _load(self, key: str) -> tuple[list[TdmRule] | None, float]:
        try:
            with self.gate.slot(key, kind="tdmrep") if self.gate else no_gate():
                resp = fetch(self.client, key + TDMREP_PATH, self.options, kind="tdmrep")
        except Exception as exc:  # BadInput (refused, timeout, too large, ...) or worse
            log.info("tdmrep_unreachable", host=key, reason=getattr(exc, "reason", repr(exc)))
            return self._outcome("unknown", None)
        if 400 <= resp.status < 500 and resp.status != 429:
            return self._outcome("absent", [])
        if not 200 <= resp.status < 300:
            return self._outcome("unknown", None)
        rules = parse_tdmrep(resp.body)
        return self._outcome("found" if rules is not None else "invalid", rules)

    def _outcome(
        self, outcome: str, rules: list[TdmRule] | None
    ) -> tuple[list[TdmRule] | None, float]:
        metrics.TDMREP.labels(outcome).inc()
        return rules, self.ttl_s if rules is not None else self.error_ttl_s
