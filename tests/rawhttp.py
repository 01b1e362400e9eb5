"""A tiny HTTP/1.1 server on 127.0.0.1 that answers every request with canned bytes
(anything, including malformed headers and truncated bodies) and records the requests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class RawServer:
    """``responses(path) -> bytes`` is sent verbatim, then the connection is closed; or,
    with ``converse``, each accepted connection is handed to it (and closed after)."""

    def __init__(
        self,
        responses: Callable[[str], bytes] = lambda path: b"",
        converse: Callable[[socket.socket], None] | None = None,
    ) -> None:
        self.responses = responses
        self.converse = converse
        self.requests: list[bytes] = []
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._sock.close()
        self._thread.join(timeout=5)

    def headers_of(self, index: int) -> dict[str, str]:
        head = self.requests[index].split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")[1:]
        return {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                if self.converse is not None:
                    with contextlib.suppress(OSError):
                        self.converse(conn)
                    continue
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                path = data.split(b" ", 2)[1].decode("latin-1") if data.count(b" ") >= 2 else "/"
                with contextlib.suppress(OSError):
                    conn.sendall(self.responses(path))


def response(status: str = "200 OK", body: bytes = b"", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Connection: close"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if "Content_Length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
