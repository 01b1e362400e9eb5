"""A GET whose pooled keep-alive connection fails before any answer is sent again once on a
fresh connection (found in a 2-enricher end-to-end run: one page dead-lettered with
``ReadError(EBADF)``, httpcore#1110); a connection that fails twice is still
``connect_error``, and a body cut after the answer began is never sent again."""

from __future__ import annotations

import socket

import pytest

from ingest import metrics
from ingest.http import fetch, make_client
from tests.ingest_support import options
from tests.rawhttp import RawServer
from wiredesk.stage import BadInput

PAGE = b"<html><body><p>hello</p></body></html>"


class KeepAlive:
    """A keep-alive HTTP/1.1 conversation (:class:`RawServer` ``converse``) whose
    connections end as ``mode`` says:

    * ``drop-second``: the first request is answered (keep-alive); the second is read and
      the connection closed without a byte of answer;
    * ``drop-all``: every request is read and its connection closed unanswered;
    * ``cut-body``: the answer begins (headers, 10 of 1000 bytes), then the connection ends.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0

    def __call__(self, conn: socket.socket) -> None:
        for n in (1, 2):
            if not _read_request(conn):
                return
            self.requests += 1
            if self.mode == "drop-all" or (self.mode == "drop-second" and n == 2):
                return  # closed without a byte of answer
            if self.mode == "cut-body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + PAGE[:10])
                return
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(PAGE)}\r\n\r\n".encode() + PAGE)


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    return True


def _retries() -> float:
    return metrics.FETCH_STALE_RETRIES._value.get()


def test_a_dropped_keep_alive_connection_is_retried_once_on_a_fresh_one():
    talk = KeepAlive("drop-second")
    with RawServer(converse=talk) as srv:
        opts = options([srv.port])
        client = make_client(opts)
        assert fetch(client, srv.base_url + "/a", opts).body == PAGE
        before = _retries()
        # the pooled connection takes the second request and is closed unanswered
        assert fetch(client, srv.base_url + "/b", opts).body == PAGE
        assert _retries() == before + 1
        assert (srv.connections, talk.requests) == (2, 3)


def test_a_connection_that_fails_twice_is_a_connect_error():
    talk = KeepAlive("drop-all")
    with RawServer(converse=talk) as srv:
        before = _retries()
        reason, detail = _failure(srv)
        assert reason == "connect_error" and "(retried)" in detail
        assert _retries() == before + 1
        assert (srv.connections, talk.requests) == (2, 2)  # one try and one retry, no more


def test_a_body_cut_after_the_answer_began_is_not_sent_again():
    talk = KeepAlive("cut-body")
    with RawServer(converse=talk) as srv:
        before = _retries()
        assert _failure(srv)[0] == "truncated_body"
        assert _retries() == before
        assert (srv.connections, talk.requests) == (1, 1)


def _failure(srv: RawServer) -> tuple[str, str]:
    """The reason and detail of fetching ``/page`` from ``srv``, which must fail."""
    opts = options([srv.port])
    with pytest.raises(BadInput) as caught:
        fetch(make_client(opts), srv.base_url + "/page", opts)
    return caught.value.reason, caught.value.detail
