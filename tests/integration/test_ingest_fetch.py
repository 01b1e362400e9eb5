"""The page fetcher on Kafka against the local news server over real HTTP: safety
(catalogue F7-F12), hostile responses (F1-F6, F16), broker-size limits (K12).

Every refusal is checked three ways: the record's DLQ reason, the refusal counter, and
a socket guard proving no connection was made to a forbidden destination.
"""

from __future__ import annotations

import gzip
import os
import random
import resource
import time

import pytest

from devserver.server import Faults, NewsServer, gzip_bomb, load_corpus
from tests import ingest_support
from tests.conftest import metric
from tests.ingest_support import (
    dead_letters,
    fetch_stage,
    link,
    publish,
    read_topic,
    run_stage,
)
from wiredesk.records import RawPage
from wiredesk.topics import LINKS, RAW

pytestmark = pytest.mark.integration
kafka_bus = ingest_support.kafka_bus  # fixture
socket_guard = ingest_support.socket_guard  # fixture

FORBIDDEN = {
    # F7: loopback and internal services, in every spelling
    "http://127.0.0.1:5432/": "loopback",
    "http://localhost:9092/": "loopback",
    "http://[::1]/": "loopback",
    "http://2130706433/": "loopback",
    "http://0x7f.1/": "loopback",
    "http://127.1/": "loopback",
    "http://[::ffff:127.0.0.1]/": "loopback",
    "http://0.0.0.0/": "unspecified",
    "http://10.1.2.3/": "private",
    "http://192.168.0.1/": "private",
    "http://100.64.0.1/": "cgnat",
    "http://169.254.10.10/": "link_local",
    "http://224.0.0.1/": "multicast",
    "http://240.0.0.1/": "reserved",
    "http://[64:ff9b::a00:1]/": "nat64",
    # F8: cloud metadata
    "http://169.254.169.254/latest/meta-data/": "metadata",
    "http://[fd00:ec2::254]/": "metadata",
    "http://100.100.100.200/": "metadata",
    # F11: other schemes
    "file:///etc/passwd": "scheme",
    "gopher://example.com/": "scheme",
    "ftp://example.com/": "scheme",
    "data:text/html,hi": "scheme",
    "javascript:alert(1)": "scheme",
}


def test_forbidden_destinations_are_refused_before_any_connection(kafka_bus, socket_guard):
    corpus = load_corpus()
    with NewsServer(corpus) as internal, NewsServer(corpus) as site:
        # F9: an allowed site redirecting to an internal host, metadata and file:
        site.faults.redirects = {
            "/to-internal": f"http://127.0.0.1:{internal.port}/admin",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-file": "file:///etc/passwd",
        }
        redirecting = {
            f"{site.base_url}/to-internal": "loopback",
            f"{site.base_url}/to-metadata": "metadata",
            f"{site.base_url}/to-file": "scheme",
        }
        # the 127.0.0.1 exception for the test server is exact: other spellings still fail
        redirecting[f"http://localhost:{site.port}/"] = "loopback"
        redirecting[f"http://127.1:{site.port}/"] = "loopback"
        cases = {**FORBIDDEN, **redirecting}
        blocked_before = {
            r: metric("wiredesk_fetch_blocked_total", kind="page", reason=r)
            for r in set(cases.values())
        }
        stage, fetcher = fetch_stage([site.port])
        publish(kafka_bus, LINKS, [link(url) for url in cases])
        run_stage(stage, kafka_bus, len(cases))
        fetcher.close()

        assert dead_letters(kafka_bus) == cases
        assert read_topic(kafka_bus, RAW) == []
        for reason in set(cases.values()):
            expected = sum(1 for r in cases.values() if r == reason)
            after = metric("wiredesk_fetch_blocked_total", kind="page", reason=reason)
            assert after - blocked_before[reason] == expected, reason
        # 0 requests reached the internal server; no socket went anywhere but the site
        assert internal.requests_log == []
        kafka_port = int(os.environ["WIREDESK_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1])
        assert socket_guard.outside([site.port, kafka_port]) == []
        assert socket_guard.to_port(internal.port) == 0


def test_hostile_responses_are_cut_off_with_a_reason_and_good_pages_still_flow(
    kafka_bus, socket_guard
):
    corpus = load_corpus()
    good = [a for a in corpus.articles if a.id in ("hh-0001", "np-0001", "ml-0005")]
    page_html = b"<html><body><article><p>" + b"words " * 400 + b"</p></article></body></html>"
    chain = {f"/chain{i}": f"/chain{i + 1}" for i in range(20)}
    faults = Faults(
        huge_body_paths={"/huge-length": 2_147_483_648, "/huge-chunked": 2_147_483_648},
        huge_body_chunked_paths=("/huge-chunked",),
        gzip_bomb_paths=("/bomb",),
        slow_drip_bytes_per_s=2,
        slow_drip_paths=("/drip",),
        hang_paths=("/hang",),
        redirects={"/loop-a": "/loop-b", "/loop-b": "/loop-a", **chain},
        wrong_charset_paths=(good[0].path,),
        raw_bodies={
            "/double.html": (200, "text/html; charset=utf-8", gzip.compress(page_html)),
            "/doc.pdf": (200, "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
            "/photo.jpg": (200, "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(500)),
            "/empty.html": (200, "text/html", b""),
            "/untyped.html": (200, "", page_html),
            "/untyped.bin": (200, "", b"\x00\x01\x02" * 100),
            "/feed-not-page": (200, "application/rss+xml", b"<rss></rss>"),
        },
        fail_paths={"/gone": 404, "/broken": 500},
    )
    bomb = gzip_bomb(faults.gzip_bomb_bytes)  # built once up front (takes the server seconds)
    assert len(bomb) < 1_000_000 and faults.gzip_bomb_bytes == 500 * 1024 * 1024
    with NewsServer(corpus, faults=faults) as site:
        base = site.base_url
        cases = {
            f"{base}/huge-length": "too_large",  # F1, Content-Length: 2 GB
            f"{base}/huge-chunked": "too_large",  # F1, chunked, no length
            f"{base}/bomb": "too_large",  # F3, 500 MB of zeros in ~500 KB of gzip
            f"{base}/double.html": "binary_body",  # F4, gzip inside gzip
            f"{base}/drip": "timeout",  # F5, 2 bytes/s
            f"{base}/hang": "timeout",  # F6, never answers
            f"{base}/loop-a": "redirects",  # F12, A -> B -> A
            f"{base}/chain0": "redirects",  # F12, 20 hops
            f"{base}/doc.pdf": "binary_body",  # F16
            f"{base}/photo.jpg": "binary_body",
            f"{base}/empty.html": "empty_body",
            f"{base}/untyped.bin": "binary_body",
            f"{base}/feed-not-page": "not_html",
            f"{base}/gone": "http_4xx",
            f"{base}/broken": "http_5xx",
        }
        rejected_before = metric("wiredesk_fetch_rejected_total", kind="page", reason="too_large")
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stage, fetcher = fetch_stage([site.port], timeout_s=3.0)
        ok_urls = [base + a.path for a in good] + [f"{base}/untyped.html"]
        links = [link(u) for u in list(cases) + ok_urls]
        publish(kafka_bus, LINKS, links)
        started = time.monotonic()
        run_stage(stage, kafka_bus, len(links))
        elapsed = time.monotonic() - started
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before) / 1024

        assert dead_letters(kafka_bus) == cases
        raw = {r.url: r for r in read_topic(kafka_bus, RAW) if isinstance(r, RawPage)}
        assert set(raw) == set(ok_urls)
        mislabelled = raw[base + good[0].path]  # says iso-8859-1, is UTF-8
        assert "\u201c" in mislabelled.html and "Ã" not in mislabelled.html
        after = metric("wiredesk_fetch_rejected_total", kind="page", reason="too_large")
        assert after - rejected_before == 3
        # the 3 s wall-clock deadline held for the drip and the hang, fetched in parallel
        # with everything else; the bomb never inflated past the 5 MB cap
        assert elapsed < 20
        assert grown_mb < 100

        # F6: no leaked sockets over many failing fetches
        fds_before = len(os.listdir("/proc/self/fd"))
        for _ in range(200):
            with pytest.raises(Exception, match="http_4xx"):
                list(fetcher(link(f"{base}/gone")))
        assert len(os.listdir("/proc/self/fd")) - fds_before < 5
        fetcher.close()


def test_pages_travel_compressed_within_the_broker_limit(kafka_bus):
    corpus = load_corpus()
    paragraphs = "".join(
        f"<p>Paragraph {i} of the long report on the harbour dispute, with many words.</p>"
        for i in range(40_000)
    ).encode()
    big = b"<html><head><title>Long</title></head><body><article>" + paragraphs + b"</article>"
    noise = random.Random(7).randbytes(1_500_000).hex().encode()  # 3 MB, incompressible-ish
    faults = Faults(
        raw_bodies={
            "/long.html": (200, "text/html; charset=utf-8", big),
            "/noise.html": (200, "text/html; charset=utf-8", b"<html><body>" + noise),
        }
    )
    with NewsServer(corpus, faults=faults) as site:
        stage, fetcher = fetch_stage([site.port], max_bytes=5_000_000)
        long_url, noise_url = f"{site.base_url}/long.html", f"{site.base_url}/noise.html"
        publish(kafka_bus, LINKS, [link(long_url), link(noise_url)])
        run_stage(stage, kafka_bus, 2)
        fetcher.close()
    assert len(big) > 3_000_000
    (page,) = read_topic(kafka_bus, RAW)
    assert isinstance(page, RawPage) and page.url == long_url
    assert len(page.encode()) < 1_000_000 and page.html == big.decode()
    assert dead_letters(kafka_bus) == {noise_url: "too_large"}  # over 1 MB even compressed
