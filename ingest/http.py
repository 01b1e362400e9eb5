"""A guarded HTTP GET for feeds, robots.txt and pages.

Safety (catalogue F7-F12):

* only ``http``/``https`` URLs, checked before every hop (the first request and each of
  at most 5 redirects);
* name resolution happens once, inside ``GuardedBackend.connect_tcp``
  (:mod:`ingest.netguard`): every address the host resolves to must be public
  (:mod:`ingest.addresses`), and the socket then connects to that checked address. A
  DNS answer that changes between a check and the connect (rebinding) has nothing to
  slip through: there is no second lookup. The URL keeps its host name, so the Host
  header, TLS SNI and certificate checks are unchanged.

Bounds (F1-F6): the body is decoded by us with a cap on *decoded* bytes (a gzip bomb
stops at the cap without inflating further), and a wall-clock deadline covers the whole
fetch, including every socket read, because per-read timeouts never fire on a server
that drips one byte at a time.

Credentials in a URL (``http://user:pass@host/``, in a link or a redirect) are dropped
before the request: httpx would send them as Basic auth to whoever the link names.

Failures of the remote side are ``BadInput`` with a short reason (``timeout``,
``connect_error`` before an answer, ``truncated_body`` when the connection ends inside
the body, ``bad_redirect`` for a Location that is not a usable URL, ``bad_response`` for
a malformed status line, header or Content-Length); refusals are :class:`Refused`. Both
are counted here (``wiredesk_fetch_blocked_total`` and ``wiredesk_fetch_rejected_total``)
and logged with the URL.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import structlog

from ingest import metrics
from ingest.netguard import (
    FetchOptions,
    GuardedBackend,
    Refused,
    make_client,
    set_deadline,
)
from wiredesk.stage import BadInput

__all__ = ["FetchOptions", "Refused", "Response", "fetch", "make_client", "preflight"]

log = structlog.get_logger(__name__)

REDIRECT_STATUSES = (301, 302, 303, 307, 308)


@dataclass
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)
    truncated: bool = False


# -- bounded decoding of Content-Encoding ----------------------------------------------
class _Decoder:
    """Decodes gzip/deflate chains without ever producing more than ``limit`` bytes."""

    def __init__(self, encodings: list[str], limit: int, url: str) -> None:
        self.limit, self.url, self.produced = limit, url, 0
        self.layers: list[Any] = []
        for enc in reversed(encodings):
            if enc in ("gzip", "x-gzip"):
                self.layers.append(zlib.decompressobj(16 + zlib.MAX_WBITS))
            elif enc == "deflate":
                self.layers.append(zlib.decompressobj(zlib.MAX_WBITS))
            elif enc not in ("identity", ""):
                raise BadInput("content_encoding", f"{url}: unsupported encoding {enc!r}")

    def feed(self, data: bytes) -> bytes:
        for layer in self.layers:
            data = self._inflate(layer, data)
        self.produced += len(data)
        if self.produced > self.limit:
            raise BadInput("too_large", f"{self.url}: body over {self.limit} bytes")
        return data

    def _inflate(self, layer: Any, data: bytes) -> bytes:
        out: list[bytes] = []
        size = 0
        try:
            while data:
                piece = layer.decompress(data, self.limit - self.produced - size + 1)
                out.append(piece)
                size += len(piece)
                if self.produced + size > self.limit:
                    raise BadInput("too_large", f"{self.url}: decoded body over {self.limit} bytes")
                data = layer.unconsumed_tail
        except zlib.error as exc:
            raise BadInput("bad_encoding", f"{self.url}: {exc}") from exc
        return b"".join(out)


# -- the fetch --------------------------------------------------------------------------
def fetch(
    client: httpx.Client,
    url: str,
    opts: FetchOptions,
    headers: dict[str, str] | None = None,
    *,
    kind: str = "page",
    truncate: bool = False,
) -> Response:
    """GET ``url`` following checked redirects, within the deadline and byte cap.

    ``truncate=True`` keeps the first ``max_bytes`` instead of failing (robots.txt).
    """
    started = time.monotonic()
    set_deadline(started + opts.timeout_s)
    try:
        with counted(kind, url):
            return _follow(client, url, opts, headers or {}, truncate)
    finally:
        set_deadline(None)
        metrics.FETCH_SECONDS.labels(kind).observe(time.monotonic() - started)


def preflight(url: str, opts: FetchOptions, kind: str = "page") -> None:
    """Refuse ``url`` early (scheme, forbidden address) before robots.txt or a host slot.

    Only a pre-check: the connection itself is vetted again when it is made.
    """
    with counted(kind, url):
        check_scheme(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        GuardedBackend(opts).vet(parts.hostname or "", port)


@contextmanager
def counted(kind: str, url: str) -> Iterator[None]:
    """Count and log refusals and failures raised inside, then re-raise them."""
    try:
        yield
    except Refused as exc:
        metrics.FETCH_BLOCKED.labels(kind, exc.reason).inc()
        log.warning("fetch_blocked", kind=kind, url=url[:300], reason=exc.reason, detail=exc.detail)
        raise
    except BadInput as exc:
        metrics.FETCH_REJECTED.labels(kind, exc.reason).inc()
        log.info("fetch_failed", kind=kind, url=url[:300], reason=exc.reason, detail=exc.detail)
        raise


def check_scheme(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError as exc:
        raise Refused("bad_url", f"{url[:200]!r}: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise Refused("scheme", f"{parts.scheme or 'no'} scheme in {url[:200]!r}")
    if not parts.hostname:
        raise Refused("no_host", url[:200])


def without_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` (counted as ``sanitized_total{kind="userinfo"}``)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    metrics.SANITIZED.labels("userinfo").inc()
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _follow(
    client: httpx.Client, url: str, opts: FetchOptions, headers: dict[str, str], truncate: bool
) -> Response:
    hops: list[str] = []
    current = url
    while True:
        _check_hop(current, first=not hops)
        current = without_userinfo(current)
        resp = _get_once(client, current, opts, headers, truncate)
        location = resp.headers.get("location")
        if resp.status not in REDIRECT_STATUSES or not location:
            resp.redirects = hops
            return resp
        if len(hops) >= opts.max_redirects:
            raise BadInput("redirects", f"more than {opts.max_redirects} redirects from {url}")
        hops.append(current)
        try:
            current = urljoin(current, location.strip())
        except ValueError as exc:
            raise BadInput("bad_redirect", f"{current}: Location {location[:200]!r}") from exc


def _check_hop(url: str, first: bool) -> None:
    """:func:`check_scheme`; on a redirect hop an unusable URL is ``bad_redirect``."""
    try:
        check_scheme(url)
    except Refused as exc:
        if first or exc.reason not in ("bad_url", "no_host"):
            raise
        raise BadInput("bad_redirect", exc.detail) from exc


def _protocol_reason(exc: httpx.RemoteProtocolError) -> str:
    text = str(exc).lower()
    if "location header" in text:
        return "bad_redirect"
    if "peer closed connection" in text or "incomplete chunked" in text:
        return "truncated_body"
    return "bad_response"


def _stale_connection(exc: httpx.TransportError) -> bool:
    """The request failed on its connection before any answer began: a pooled keep-alive
    connection the server closed meanwhile ("disconnected without sending a response"), or
    one the pool itself closed under a request it had just assigned it to (httpcore#1110:
    the read then fails with EBADF). Not a timeout, not a refused or failed connect."""
    if isinstance(exc, httpx.RemoteProtocolError):
        return "without sending a response" in str(exc)
    return isinstance(exc, httpx.ReadError | httpx.WriteError)


def _get_once(
    client: httpx.Client, url: str, opts: FetchOptions, headers: dict[str, str], truncate: bool
) -> Response:
    """One GET; once more on a fresh connection if its connection was stale
    (:func:`_stale_connection`): a GET is idempotent, as browsers and urllib3 retry it."""
    try:
        return _get(client, url, opts, headers, truncate)
    except _Stale:
        metrics.FETCH_STALE_RETRIES.inc()
        try:
            return _get(client, url, opts, headers, truncate)
        except _Stale as again:
            raise BadInput("connect_error", f"{url}: {again.__cause__!r} (retried)") from again


class _Stale(Exception):
    """A request's connection failed before any answer (see :func:`_stale_connection`)."""


def _get(
    client: httpx.Client, url: str, opts: FetchOptions, headers: dict[str, str], truncate: bool
) -> Response:
    timeout = httpx.Timeout(opts.timeout_s, connect=opts.connect_timeout_s)
    request_headers = {
        "User-Agent": opts.user_agent,
        "Accept-Encoding": "gzip, deflate",
        **headers,
    }
    try:
        with client.stream("GET", url, headers=request_headers, timeout=timeout) as resp:
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            # every body is read (capped), even a 304's or a redirect's: a response left
            # unread cannot hand its keep-alive connection back to the pool
            body, truncated = _read_body(resp, resp_headers, opts.max_bytes, url, truncate)
            return Response(url, resp.status_code, resp_headers, body, truncated=truncated)
    except httpx.TimeoutException as exc:
        raise BadInput("timeout", f"{url}: deadline {opts.timeout_s}s: {exc!r}") from exc
    except httpx.TransportError as exc:
        if _stale_connection(exc):
            raise _Stale() from exc
        raise _failed(url, exc) from exc
    except httpx.InvalidURL as exc:
        raise Refused("bad_url", f"{url[:200]}: {exc}") from exc


def _failed(url: str, exc: httpx.TransportError) -> BadInput:
    if isinstance(exc, httpx.RemoteProtocolError):
        return BadInput(_protocol_reason(exc), f"{url}: {exc!r}"[:500])
    return BadInput("connect_error", f"{url}: {exc!r}")


def _read_body(
    resp: httpx.Response, headers: dict[str, str], limit: int, url: str, truncate: bool
) -> tuple[bytes, bool]:
    encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",")]
    decoder = _Decoder([e for e in encodings if e], limit, url)
    chunks: list[bytes] = []
    size = 0
    try:
        for raw in resp.iter_raw(65536):
            data = decoder.feed(raw)
            size += len(data)
            chunks.append(data)
    except (httpx.ReadError, httpx.RemoteProtocolError) as exc:  # the answer had begun
        raise BadInput("truncated_body", f"{url}: {exc!r} after {size} bytes"[:500]) from exc
    except BadInput as exc:
        if not (truncate and exc.reason == "too_large"):
            raise
        return b"".join(chunks)[:limit], True
    return b"".join(chunks), False
