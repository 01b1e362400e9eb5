"""The runner hands a stage each batch first (``Stage.prepare``), and the fetcher uses it
to fetch a batch concurrently: a slow host delays only its own links."""

from __future__ import annotations

from devserver.server import Faults, NewsServer, load_corpus
from tests.ingest_support import fetch_stage, link, publish
from wiredesk.bus.memory import MemoryBus
from wiredesk.records import Link, RawPage, Record
from wiredesk.runner import RunnerOptions, StageRunner
from wiredesk.stage import Stage
from wiredesk.topics import DLQ, LINKS, RAW


def test_prepare_sees_the_decoded_batch_before_process():
    seen: list[list[str]] = []
    order: list[str] = []

    def prepare(records: list[Record]) -> None:
        seen.append([r.url for r in records if isinstance(r, Link)])
        order.append("prepare")

    def process(record: Record):
        order.append("process")
        yield record

    bus = MemoryBus()
    publish(bus, LINKS, [link("http://a.example/1"), link("http://a.example/2")])
    bus.publish(LINKS.name, "junk", b"not json")
    stage = Stage("s", LINKS, process, output=RAW, prepare=prepare)
    assert StageRunner(stage, bus, options=RunnerOptions(poll_timeout_s=0.1)).run_batch() == 3
    assert seen == [["http://a.example/1", "http://a.example/2"]]  # undecodable one left out
    assert order == ["prepare", "process", "process"]
    assert len(bus.messages(DLQ.name)) == 1


def test_a_slow_host_does_not_hold_up_the_others():
    corpus = load_corpus()
    with (
        NewsServer(
            corpus, faults=Faults(slow_drip_bytes_per_s=3000, slow_drip_paths=("/h",))
        ) as slow,
        NewsServer(corpus) as fast,
    ):
        slow_urls = [slow.base_url + a.path for a in corpus.articles[:2]]
        slow.faults.slow_drip_paths = tuple(a.path for a in corpus.articles[:2])
        fast_urls = [fast.base_url + a.path for a in corpus.articles[2:12]]
        bus = MemoryBus()
        publish(bus, LINKS, [link(u) for u in slow_urls + fast_urls])
        stage, fetcher = fetch_stage([slow.port, fast.port], concurrency=1)
        StageRunner(stage, bus, options=RunnerOptions(poll_timeout_s=0.1)).run_batch()
        fetcher.close()
        slow_starts = sorted(t for t, p in slow.request_times if p.endswith(".html"))
        fast_starts = sorted(t for t, p in fast.request_times if p.endswith(".html"))
    pages = [RawPage.decode(m.value) for m in bus.messages(RAW.name)]
    assert len(pages) == 12
    # one slow page at a time on the slow host (seconds each at 3 KB/s), and every fast
    # page was fetched while the first slow one was still dripping
    assert len(slow_starts) == 2 and slow_starts[1] - slow_starts[0] > 1.0
    assert len(fast_starts) == 10 and fast_starts[-1] < slow_starts[1]
