"""Hostile HTTP answers get precise reasons, and credentials in a URL are never sent
(issue 13): a local server sends canned bytes (truncated bodies, unparseable Content-Length
and Location headers) and records each request's headers."""

from __future__ import annotations

import pytest

from ingest.http import fetch, make_client
from tests.ingest_support import options
from tests.rawhttp import RawServer, response
from wiredesk.stage import BadInput

PAGE = b"<html><body><p>hello</p></body></html>"
ANSWERS = {
    "/page": response(body=PAGE, Content_Type="text/html"),
    "/to-page-with-credentials": b"",  # filled in per server (needs the port)
    # truncated bodies: Content-Length longer than what arrives, a cut chunked body
    "/truncated": response(body=PAGE[:10], Content_Length="1000"),
    "/truncated-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n<html>",
    # Content-Length no parser should do arithmetic on
    "/length-30-digits": response(body=PAGE, Content_Length="9" * 30),
    "/length-5000-digits": response(body=PAGE, Content_Length="9" * 5_000),
    "/length-negative": response(body=PAGE, Content_Length="-1"),
    "/length-arabic-indic": response(body=PAGE, Content_Length="\u0663\u0668"),
    # bad redirect Location headers
    "/bad-location-ipv6": response("302 Found", Location="http://[::1"),
    "/bad-location-control": response("302 Found", Location="http://a.example/\x01"),
    "/bad-location-idna": response("302 Found", Location="http://\u00e4" + "a" * 300 + ".com/"),
    "/bad-location-port": response("302 Found", Location="http://a.example:99999/"),
    # not HTTP at all after the status line
    "/bad-header-line": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nno colon\r\n\r\nhello",
}
EXPECTED = {
    "/truncated": "truncated_body",
    "/truncated-chunked": "truncated_body",
    "/length-30-digits": "bad_response",
    "/length-5000-digits": "bad_response",
    "/length-negative": "bad_response",
    "/length-arabic-indic": "bad_response",
    "/bad-location-ipv6": "bad_redirect",
    "/bad-location-control": "bad_redirect",
    "/bad-location-idna": "bad_redirect",
    "/bad-location-port": "bad_redirect",
    "/bad-header-line": "bad_response",
}


@pytest.fixture
def server():
    with RawServer(lambda path: ANSWERS.get(path, response("404 Not Found"))) as srv:
        yield srv


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_hostile_answers_get_precise_reasons(server, path):
    opts = options([server.port])
    with pytest.raises(BadInput) as caught:
        fetch(make_client(opts), server.base_url + path, opts)
    assert caught.value.reason == EXPECTED[path], caught.value.detail


@pytest.mark.parametrize(
    "userinfo", ["user:secret@", "user@", ":secret@", "user:secret%40x@", "a:b@c:d@"]
)
def test_url_userinfo_is_never_sent(userinfo):
    def answer(path: str) -> bytes:
        if path == "/redirect":
            return response("302 Found", Location=f"http://{userinfo}127.0.0.1:{srv.port}/page")
        return ANSWERS["/page"]

    with RawServer(answer) as srv:
        opts = options([srv.port])
        client = make_client(opts)
        for url in (
            f"http://{userinfo}127.0.0.1:{srv.port}/page",
            f"http://127.0.0.1:{srv.port}/redirect",
        ):
            try:
                resp = fetch(client, url, opts)
            except BadInput as exc:  # refusing the URL is fine too; sending it is not
                assert exc.reason in ("userinfo", "bad_url", "bad_redirect"), exc.detail
            else:
                assert resp.status == 200 and "@" not in resp.url
        assert srv.requests, "the server must have been asked at least once"
        for i in range(len(srv.requests)):
            headers = srv.headers_of(i)
            assert "authorization" not in headers, headers
            assert b"secret" not in srv.requests[i]
