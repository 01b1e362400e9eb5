"""The network layer under :mod:`ingest.http`: resolve once, check, connect to the
checked address, and honour the fetch's wall-clock deadline on every socket operation.

:class:`GuardedBackend` is an httpcore network backend. ``connect_tcp`` resolves the host
once, refuses the connection if any address is forbidden (:mod:`ingest.addresses`), then
connects the socket to that same checked address: there is no second lookup for a
rebinding DNS server to answer differently. The URL keeps its host name, so the Host
header, TLS SNI and certificate verification are untouched. :class:`DeadlineStream` cuts
each read and write to what is left of the running fetch's deadline.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import certifi
import httpcore
import httpx

from ingest.addresses import NEVER_ALLOWED, refusal_reason
from wiredesk.stage import BadInput

MAX_REDIRECTS = 5
_deadline = threading.local()  # the running fetch's wall-clock deadline, per thread


def set_deadline(value: float | None) -> None:
    """Set (a ``time.monotonic()`` value) or clear this thread's fetch deadline."""
    _deadline.value = value


class Refused(BadInput):
    """The URL or a redirect hop points somewhere we never fetch."""


@dataclass(frozen=True)
class FetchOptions:
    user_agent: str
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    max_bytes: int = 5_000_000
    allow_private: bool = False
    # TEST ONLY: 127.0.0.1, spelled exactly so, on these ports (a local test server).
    allow_loopback_ports: frozenset[int] = frozenset()
    max_redirects: int = MAX_REDIRECTS


# -- the network backend: resolve once, check, connect to the checked address ---------
class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, options: FetchOptions) -> None:
        self.options = options

    def vet(self, host: str, port: int) -> list[tuple[int, Any]]:
        """Resolve ``host`` and return its socket addresses; raise if any is forbidden."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise BadInput("dns", f"{host}: {exc}") from exc
        for _family, _type, _proto, _name, sockaddr in infos:
            reason = refusal_reason(sockaddr[0].split("%")[0])
            if reason is None or self._allowed(host, port, sockaddr[0], reason):
                continue
            raise Refused(reason, f"{host}:{port} resolves to {sockaddr[0]} ({reason})")
        return [(info[0], info[4]) for info in infos]

    def _allowed(self, host: str, port: int, address: str, reason: str) -> bool:
        if reason in NEVER_ALLOWED:
            return False
        if self.options.allow_private:
            return True
        return host == address == "127.0.0.1" and port in self.options.allow_loopback_ports

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.vet(host, port)
        timeout = _bounded(timeout)
        last: OSError | None = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)  # the checked address itself, never a fresh lookup
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return DeadlineStream(sock)
            except TimeoutError as exc:
                sock.close()
                raise httpcore.ConnectTimeout(str(exc)) from exc
            except OSError as exc:
                sock.close()
                last = exc
        raise httpcore.ConnectError(f"{host}:{port}: {last}")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of this thread's fetch deadline."""
    deadline = getattr(_deadline, "value", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("wall-clock deadline exceeded")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write honours the fetch's wall-clock deadline."""

    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._sock.settimeout(_bounded(timeout))
        try:
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._sock.settimeout(_bounded(timeout))
        try:
            self._sock.sendall(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._sock.settimeout(_bounded(timeout))
        try:
            tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            self.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return _is_readable(self._sock)
        return None


def _is_readable(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with our backend: no proxies, no environment, HTTP/1.1."""

    def __init__(self, options: FetchOptions, max_connections: int = 50) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(options),
        )


def make_client(options: FetchOptions, max_connections: int = 50) -> httpx.Client:
    """The one way to build the HTTP client ingest fetches with."""
    return httpx.Client(
        transport=GuardedTransport(options, max_connections),
        follow_redirects=False,
        trust_env=False,
    )
