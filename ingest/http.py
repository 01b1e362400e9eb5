"""A guarded HTTP GET for feeds and pages.

Every hop (the first request and each redirect) is checked before any connection: the
scheme must be http(s) and every address the host resolves to must be public, unless
the test-only ``allow_private`` is set. Bodies are capped in decoded bytes and the whole
request runs under a wall-clock deadline, because per-read timeouts never fire on a
server that drips one byte at a time.

Failures of the remote side (timeouts, refused connections) are ``BadInput`` with a
reason: one slow site must not stall the stage; the record is parked in the DLQ and can
be re-sent later (``wiredesk dlq resend``).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from wiredesk.stage import BadInput

MAX_REDIRECTS = 5


class Refused(BadInput):
    """The URL or a redirect hop points somewhere we never fetch."""


@dataclass(frozen=True)
class FetchOptions:
    user_agent: str
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    max_bytes: int = 5_000_000
    allow_private: bool = False


@dataclass
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)


def check_url(url: str, allow_private: bool) -> None:
    """Raise :class:`Refused` unless ``url`` is http(s) to public addresses only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused("scheme", f"{parts.scheme or 'no'} scheme in {url[:200]!r}")
    host = parts.hostname
    if not host:
        raise Refused("no_host", url[:200])
    try:
        infos = socket.getaddrinfo(host, parts.port or 80, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BadInput("dns", f"{host}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global and not allow_private:
            raise Refused("private_address", f"{host} resolves to {address}")


def fetch(
    client: httpx.Client, url: str, opts: FetchOptions, headers: dict[str, str] | None = None
) -> Response:
    """GET ``url`` following at most 5 checked redirects, within the deadline and byte cap."""
    deadline = time.monotonic() + opts.timeout_s
    hops: list[str] = []
    current = url
    while True:
        check_url(current, opts.allow_private)
        status, resp_headers, body = _get_once(client, current, opts, headers or {}, deadline)
        if status in (301, 302, 303, 307, 308) and "location" in resp_headers:
            if len(hops) >= MAX_REDIRECTS:
                raise BadInput("redirects", f"more than {MAX_REDIRECTS} redirects from {url}")
            hops.append(current)
            current = urljoin(current, resp_headers["location"])
            continue
        return Response(current, status, resp_headers, body, hops)


def _get_once(
    client: httpx.Client, url: str, opts: FetchOptions, headers: dict[str, str], deadline: float
) -> tuple[int, dict[str, str], bytes]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise BadInput("timeout", f"deadline of {opts.timeout_s}s exceeded for {url}")
    timeout = httpx.Timeout(min(remaining, opts.timeout_s), connect=opts.connect_timeout_s)
    request_headers = {"User-Agent": opts.user_agent, **headers}
    try:
        with client.stream("GET", url, headers=request_headers, timeout=timeout) as resp:
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():  # decoded (gzip etc.) bytes: the cap applies here
                size += len(chunk)
                if size > opts.max_bytes:
                    raise BadInput("too_large", f"{url}: body over {opts.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise BadInput("timeout", f"deadline of {opts.timeout_s}s exceeded for {url}")
                chunks.append(chunk)
            return (
                resp.status_code,
                {k.lower(): v for k, v in resp.headers.items()},
                b"".join(chunks),
            )
    except httpx.TimeoutException as exc:
        raise BadInput("timeout", f"{url}: {exc!r}") from exc
    except httpx.TransportError as exc:
        raise BadInput("connect_error", f"{url}: {exc!r}") from exc
