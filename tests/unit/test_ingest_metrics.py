"""Label cardinality stays bounded (catalogue M1): after hundreds of distinct URLs and
feeds, the number of /metrics series does not grow with them, and no URL is a label."""

from __future__ import annotations

import contextlib
import urllib.request

from devserver.server import Faults, NewsServer, load_corpus
from ingest.registry import FeedSpec
from tests.ingest_support import fetch_stage, link, options
from wiredesk.metrics import Health, serve_metrics
from wiredesk.stage import BadInput


def _series(body: str) -> set[str]:
    return {
        line.split(" ")[0]
        for line in body.splitlines()
        if line.startswith("wiredesk_") and not line.startswith("#")
    }


def _scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def _fetch_round(server: NewsServer, fetcher, tag: str, n: int) -> None:
    for i in range(n):
        for url in (f"{server.base_url}/{tag}/missing-{i}", f"http://10.{i % 250}.0.{tag}/"):
            with contextlib.suppress(BadInput):
                list(fetcher(link(url)))


def test_series_count_does_not_grow_with_distinct_urls_and_feeds(sqlite_engine):
    from ingest.feeds import FeedPoller
    from ingest.http import make_client

    httpd = serve_metrics("127.0.0.1", 0, Health("test"))
    port = httpd.server_address[1]
    # other tests in this process may have registered series already: count from here
    before_test = _series(_scrape(port))
    faults = Faults(raw_bodies={"/feeds/*": (200, "application/rss+xml", b"<rss></rss>")})
    try:
        with NewsServer(load_corpus(), faults=faults, mirror_feeds=200) as server:
            _, fetcher = fetch_stage([server.port], robots=False)
            opts = options([server.port])

            def poll(urls: list[str]) -> None:
                specs = [FeedSpec(url=u) for u in urls]
                FeedPoller(sqlite_engine, make_client(opts), opts, config=specs).poll()

            _fetch_round(server, fetcher, "1", 50)
            poll(
                server.mirror_feed_urls()[:20] + [f"{server.base_url}/feeds/{i}" for i in range(5)]
            )
            warm = _series(_scrape(port))
            _fetch_round(server, fetcher, "2", 300)
            poll(
                server.mirror_feed_urls()[20:]
                + [f"{server.base_url}/feeds/{i}" for i in range(5, 200)]
            )
            body = _scrape(port)
            fetcher.close()
        after = _series(body)
        assert len(after) - len(warm) <= 10  # new histogram buckets at most, not per URL
        assert len(after - before_test) < 500
        assert "127.0.0.1" not in body and "missing-" not in body and "/feeds/" not in body
    finally:
        httpd.shutdown()
