"""Politeness across fetcher replicas (issue 16): three ``wiredesk fetch`` processes of one
group on Kafka, six hosts serving ``Crawl-delay: 2``. news.links is keyed by host, so
each host is requested by one fetcher, and no two requests to a host (robots.txt and
tdmrep.json included) are less than 2 s apart as the host sees them. The same run with
URL keys (the old routing) is the baseline in bench/fetch_replicas.py: 0.002 s gaps."""

from __future__ import annotations

import pytest

from tests import hostroute_support as h

pytestmark = pytest.mark.integration

CRAWL_DELAY = 2.0
HOSTS, PER_HOST, FETCHERS, PARTITIONS = 6, 4, 3, 6


@pytest.mark.timeout(120)
def test_three_fetchers_keep_the_crawl_delay_of_every_host(
    kafka_bootstrap, pg_url, unique, tmp_path
):
    namespace = f"t{unique}."
    bus = h.make_topics(kafka_bootstrap, namespace, PARTITIONS)
    env = h.fetch_env(kafka_bootstrap, namespace, pg_url, PARTITIONS)
    with h.hosts(HOSTS, CRAWL_DELAY) as servers:
        fetchers = h.Fetchers.start(FETCHERS, env, tmp_path)
        try:
            h.wait_stable(kafka_bootstrap, namespace + "fetch_pages", FETCHERS)
            h.publish(bus, h.links(servers, PER_HOST), keying="host")
            h.wait_pages(servers, HOSTS * PER_HOST, timeout=60)
        except AssertionError:
            print(fetchers.logs())
            raise
        finally:
            codes = fetchers.stop()
            bus.close()
        reports = h.report(servers)
        agents = {a for s in servers for _, _, _, a in s.request_hits}
    assert codes == [0] * FETCHERS  # SIGTERM: batch finished, exit 0
    for r in reports:
        assert r.clients == 1, r  # one fetcher per host
        assert r.requests >= PER_HOST + 1, r  # its pages and robots.txt, at least
        assert r.min_gap_s >= CRAWL_DELAY, r
    assert len(agents) >= 2  # the hosts were spread over the replicas: not a 1-worker run
