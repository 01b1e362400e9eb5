"""HTTP plumbing of the dev news server: the threaded server, the request handler, and
the serving half of :class:`~devserver.server.NewsServer` (faults, conditional GET, gzip,
chunked and slow-drip bodies)."""

from __future__ import annotations

import gzip
import hashlib
import socket
import time
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from devserver import pages
from devserver.faults import DROP, POST_ROUTE_FAULTS, PRE_ROUTE_FAULTS, Response, match


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    news: Serving

    def __init__(self, addr: tuple[str, int], news: Serving) -> None:
        self.news = news
        self.conns: set[socket.socket] = set()
        super().__init__(addr, Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.conns.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (deadlines, caps) are routine here, not worth a traceback."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wiredesk-devserver/1.0"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    timeout = 30
    server: HTTPServer

    def do_GET(self) -> None:
        self.server.news._serve(self, head=False)

    def do_HEAD(self) -> None:
        self.server.news._serve(self, head=True)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(self.server.news.clock() if timestamp is None else timestamp, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: see :attr:`NewsServer.requests_log`."""


class Serving:
    """How :class:`NewsServer` answers a request; it provides the state used here."""

    def _serve(self, req: Handler, head: bool) -> None:
        method, path = req.command, urlsplit(req.path).path
        self.tick()
        faults = self.faults
        resp = next(
            (r for f in PRE_ROUTE_FAULTS if (r := f(faults, path, self._stopping)) is not None),
            None,
        )
        if resp is None:
            resp = self._route(path)
            for fault in POST_ROUTE_FAULTS:
                resp = fault(faults, path, resp)
        if resp.cacheable and resp.status == 200:
            resp = self._conditional(req, resp)
        with self._lock:
            self._log.append((method, path, resp.status))
            now, agent = time.monotonic(), req.headers.get("User-Agent", "")
            self._times.append((now, path))
            self._hits.append((now, req.headers.get("Host", ""), path, agent))
            self._agents[agent] += 1
            self._counts[resp.status] += 1
        if resp is DROP:
            req.close_connection = True
            return
        try:
            self._send(req, path, resp, head)
        except (BrokenPipeError, ConnectionResetError, _Aborted):
            req.close_connection = True

    def _conditional(self, req: Handler, r: Response) -> Response:
        etag = '"' + hashlib.sha1(r.body).hexdigest()[:20] + '"'
        gz = _accepts_gzip(req.headers.get("Accept-Encoding", ""))
        r.headers["ETag"] = etag[:-1] + '-gzip"' if gz else etag
        if r.last_modified is not None:
            r.headers["Last-Modified"] = pages.http_date(r.last_modified)
        if inm := req.headers.get("If-None-Match"):
            tags = {t.strip().removeprefix("W/").replace("-gzip", "") for t in inm.split(",")}
            fresh = "*" in tags or etag in tags
        elif (ims := req.headers.get("If-Modified-Since")) and r.last_modified is not None:
            try:
                fresh = int(r.last_modified) <= parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                fresh = False
        else:
            fresh = False
        r.headers["Vary"] = "Accept-Encoding"
        if fresh:
            return Response(304, headers=r.headers, ctype="")
        if gz:
            r.body = self._cached(f"gz:{etag}", lambda: gzip.compress(r.body, 6, mtime=0))
            r.headers["Content-Encoding"] = "gzip"
        return r

    def _send(self, req: Handler, path: str, r: Response, head: bool) -> None:
        req.send_response(r.status)
        if r.ctype:
            req.send_header("Content-Type", r.ctype)
        for k, v in r.headers.items():
            req.send_header(k, v)
        chunked = r.stream is not None and r.length is None
        if chunked:
            req.send_header("Transfer-Encoding", "chunked")
        elif r.status != 304:
            req.send_header("Content-Length", str(len(r.body) if r.stream is None else r.length))
        req.end_headers()
        if head or r.status == 304:
            return
        f = self.faults
        drip = (
            f.slow_drip_bytes_per_s
            if f.slow_drip_bytes_per_s > 0 and match(f.slow_drip_paths, path)
            else 0.0
        )
        for chunk in r.stream() if r.stream is not None else (r.body,):
            if self._stopping.is_set():
                raise _Aborted
            data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
            with self._lock:
                self._bytes_sent += len(chunk)
            if not drip:
                req.wfile.write(data)
                continue
            for i in range(len(data)):
                req.wfile.write(data[i : i + 1])
                if self._stopping.wait(1.0 / drip):
                    raise _Aborted
        if chunked:
            req.wfile.write(b"0\r\n\r\n")


class _Aborted(Exception):
    """The server is stopping mid-response."""


def _accepts_gzip(header: str) -> bool:
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False
