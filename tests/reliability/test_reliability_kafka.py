"""Catalogue 3.1 on the private broker: slow batches (K7), a frozen partition (K9),
poison messages (K11), graceful shutdown with sends in flight (K13), duplicates from
upstream (K14) and the offset-reset policy (K16)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from devserver.server import NewsServer, load_corpus
from ingest.urls import canonical_url
from tests.conftest import metric
from tests.reliability.harness import corpus, kafka_state, reconcile
from tests.reliability.harness.pipeline import loopback_ports, wait_until
from tests.reliability.harness.supervisor import metric_sum
from wiredesk.bus.kafka import KafkaBus
from wiredesk.records import DeadLetter, EnrichedArticle, Link, url_id
from wiredesk.runner import RunnerOptions, StageRunner
from wiredesk.stage import Stage
from wiredesk.topics import ALL_TOPICS, DLQ, ENRICHED, LINKS, Topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]

FAST = RunnerOptions(poll_timeout_s=0.5, retry_initial_backoff_s=0.1, retry_max_backoff_s=1)


def links(n: int, prefix: str = "k") -> list[Link]:
    out = []
    for i in range(n):
        url = f"http://127.0.0.1:9/{prefix}/{i}"
        out.append(Link(url=url, article_id=url_id(url)))
    return out


def produce(bootstrap: str, ns: str, topic: str, values: list[tuple[str | None, bytes]]) -> None:
    bus = KafkaBus(bootstrap, partitions=6, namespace=ns, client_id="test-producer")
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    bus.ensure_topics([topic])
    for key, value in values:
        bus.publish(topic, key, value)
    bus.flush()
    bus.close()


def test_k7_batch_slower_than_max_poll_interval_is_redelivered_not_lost(
    private_stack, namespace, report_row
):
    bootstrap, ns = private_stack.bootstrap, namespace
    src, out = Topic("k7.in", Link), Topic("k7.out", Link)
    records = links(30)
    produce(bootstrap, ns, out.name, [])
    produce(bootstrap, ns, src.name, [(r.key(), r.encode()) for r in records])
    slowed = threading.Event()

    def slow_once(record):
        if not slowed.is_set():
            slowed.set()
            time.sleep(15)  # longer than max_poll_interval_ms=10000
        yield record

    stage = Stage("k7_slow", src, slow_once, output=out, batch_size=10)
    failed_before = metric("wiredesk_commit_failed_total", stage="k7_slow")
    stop, errors = threading.Event(), []
    runners = []

    def run() -> None:
        bus = KafkaBus(bootstrap, partitions=6, namespace=ns, max_poll_interval_ms=10_000)
        runner = StageRunner(stage, bus, options=FAST, stop=stop)
        runners.append(runner)
        try:
            runner.run()
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            bus.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(2)]
    threads[0].start()
    wait_until(slowed.is_set, 30, 0.1)
    threads[1].start()
    done = wait_until(
        lambda: (
            kafka_state.partition_progress(bootstrap, ns + "k7_slow", ns + src.name)
            and sum(
                c
                for c, _ in kafka_state.partition_progress(
                    bootstrap, ns + "k7_slow", ns + src.name
                ).values()
            )
            == 30
        ),
        120,
    )
    stop.set()
    for t in threads:
        t.join(60)
    delivered = [Link.decode(r.value) for r in kafka_state.read_topic(bootstrap, ns + out.name)]
    failed = metric("wiredesk_commit_failed_total", stage="k7_slow") - failed_before
    report_row(
        fault="K7 batch slower than max_poll_interval",
        runs=1,
        lost=30 - len({d.url for d in delivered}),
        note=f"commit_failed_total +{failed:.0f}; {len(delivered)} outputs for 30 inputs",
    )
    assert errors == []
    assert done is not None, "every offset committed in the end"
    assert {d.url for d in delivered} == {r.url for r in records}
    assert failed >= 1, "the late commit was refused and counted, not taken as success"


def test_k9_frozen_partition_shows_in_the_per_partition_lag_gauge(
    private_stack, namespace, report_row
):
    bootstrap, ns = private_stack.bootstrap, namespace
    src, out = Topic("k9.in", Link), Topic("k9.out", Link)
    produce(bootstrap, ns, src.name, [])
    produce(bootstrap, ns, out.name, [])
    bus = KafkaBus(bootstrap, partitions=6, namespace=ns)
    runner = StageRunner(Stage("k9_frozen", src, output=out, batch_size=50), bus, options=FAST)
    wait_until(lambda: runner.run_batch() >= 0 and runner.consumer._consumer.assignment(), 30, 0.1)
    frozen = next(tp for tp in runner.consumer._consumer.assignment() if tp.partition == 3)
    runner.consumer._consumer.pause(frozen)  # the client stops fetching it (kafka-python #3131)
    records = links(120, "k9")
    # keyed by URL, not by their one host: every partition, the frozen one too, gets some
    produce(bootstrap, ns, src.name, [(r.url, r.encode()) for r in records])
    runner.consumer.LAG_REFRESH_S = 0.0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runner.run_batch()
    lag = {
        p: metric("wiredesk_consumer_lag", stage="k9_frozen", topic=src.name, partition=str(p))
        for p in range(6)
    }
    runner.consumer.close()
    bus.close()
    report_row(
        fault="K9 one partition stops being fetched", runs=1, note=f"lag gauge per partition {lag}"
    )
    assert lag[3] > 0
    assert all(v == 0 for p, v in lag.items() if p != 3)


def test_k9_an_alert_rule_watches_partitions_without_progress(report_row):
    """The lag gauge above feeds an alert: lag > 0 while the committed offset is still."""
    import yaml

    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    stuck = [r for r in alerts.values() if "consumer_lag" in r["expr"] and "offset" in r["expr"]]
    report_row(
        fault="K9 alert rule for a partition without progress",
        runs=1,
        note=", ".join(a["alert"] for a in stuck),
    )
    assert stuck and all(r.get("for") for r in stuck)


def test_k11_poison_messages_go_to_the_dlq_and_the_worker_goes_on(
    private_stack, namespace, pool, rel_db, report_row
):
    bootstrap, ns = private_stack.bootstrap, namespace
    good = [
        EnrichedArticle(
            article_id=f"{n:032d}",
            url=f"http://127.0.0.1:9/{n}",
            title=f"T{n}",
            text="body " * 50,
            extractor_version="t",
            content_hash=f"{n:064x}",
        )
        for n in range(200)
    ]
    poison = [
        ("poison-json", b"\x00\x01{not json"),
        ("poison-schema", b'{"schema": "news.enriched/9", "article_id": "x"}'),
        ("poison-big", b"\xff" * 900_000),  # just under the broker's 1 MB limit
    ]
    values = [(r.key(), r.encode()) for r in good]
    for i, item in enumerate(poison):
        values.insert(50 * (i + 1), item)
    produce(bootstrap, ns, ENRICHED.name, values)
    slot = pool.add("sink")[0]
    done = wait_until(
        lambda: kafka_state.committed_total(bootstrap, ns, "write_articles") == 203, 90
    )
    letters = [DeadLetter.decode(r.value) for r in kafka_state.read_topic(bootstrap, ns + DLQ.name)]
    dlq_metric = metric_sum(pool.scrape(slot), "wiredesk_dlq_total", stage="write_articles")
    rows = reconcile.row_counts(rel_db)
    report_row(
        fault="K11 poison messages (bad JSON, wrong schema, 900 KB garbage)",
        runs=3,
        lost=200 - rows["rows"],
        note=f"dlq_total={dlq_metric:.0f}, worker starts={slot.starts}",
    )
    assert done is not None, "offsets advanced past every poison message"
    assert slot.starts == 1, "the worker never crash-looped"
    assert rows["rows"] == rows["distinct_ids"] == 200
    assert sorted((d.source_key, d.reason) for d in letters) == [
        ("poison-big", "decode_not_json"),
        ("poison-json", "decode_not_json"),
        ("poison-schema", "decode_wrong_schema"),
    ]
    assert dlq_metric == 3
    big = next(d for d in letters if d.source_key == "poison-big")
    assert big.original_truncated and big.original_size == 900_000


def test_k13_sigterm_with_sends_in_flight_flushes_them_all(
    private_stack, namespace, pool, tmp_path, report_row
):
    bootstrap, ns = private_stack.bootstrap, namespace
    corpus_dir = corpus.write(tmp_path / "corpus", corpus.CorpusSpec(1000, use_bbc=False))
    with NewsServer(load_corpus(corpus_dir), feed_limit=1000) as server:
        pool.env["WIREDESK_FEEDS"] = json.dumps(server.feed_urls())
        pool.env["WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS"] = loopback_ports(server.base_url)
        pool.env["WIREDESK_POLL_INTERVAL_S"] = "3600"
        slot = pool.add("poll")[0]
        log = pool.log_dir / f"{slot.name}.log"
        wait_until(
            lambda: log.exists() and "feeds_polled" in log.read_text(errors="replace"), 60, 0.05
        )
        code = pool.retire(slot)  # SIGTERM right after the poll, while sending
        # links are keyed by host (one key here): count them by article id
        published = {
            Link.decode(r.value).article_id
            for r in kafka_state.read_topic(bootstrap, ns + LINKS.name)
        }
        report_row(
            fault="K13 SIGTERM of the poller with ~1000 sends in flight",
            runs=1,
            lost=1000 - len(published),
            note=f"exit code {code}",
        )
        assert code == 0, "exit 0 means every send future resolved OK"
        assert len(published) == 1000
        again = pool.add("poll")[0]  # a restart finds nothing new (confirmed after the flush)
        wait_until(
            lambda: (
                "poll_round" in (pool.log_dir / f"{again.name}.log").read_text(errors="replace")
            ),
            60,
        )
        assert sum(kafka_state.end_offsets(bootstrap, ns + LINKS.name).values()) == 1000


@pytest.fixture
def small_site(tmp_path):
    corpus_dir = corpus.write(tmp_path / "corpus", corpus.CorpusSpec(30, use_bbc=False))
    with NewsServer(load_corpus(corpus_dir), feed_limit=100) as server:
        yield server, corpus_dir


def test_k14_every_link_delivered_twice_gives_one_row_each(
    private_stack, namespace, pool, rel_db, small_site, report_row
):
    bootstrap, ns = private_stack.bootstrap, namespace
    server, corpus_dir = small_site
    ids = [a.id for a in load_corpus(corpus_dir).articles]
    twice = []
    for cid in ids:
        url = canonical_url(server.article_url(cid))
        link = Link(url=url, article_id=url_id(url))
        twice += [(link.key(), link.encode()), (link.key(), link.encode())]
    produce(bootstrap, ns, LINKS.name, twice)
    pool.env["WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS"] = loopback_ports(server.base_url)
    for command in ("fetch", "extract", "enrich", "sink"):
        pool.add(command)
    done = wait_until(
        lambda: (
            reconcile.row_counts(rel_db)["rows"] >= len(ids)
            and not any(kafka_state.group_lags(bootstrap, ns).values())
        ),
        120,
    )
    rows = reconcile.row_counts(rel_db)
    report_row(
        fault="K14 every link delivered twice",
        runs=len(ids),
        lost=len(ids) - rows["distinct_ids"],
        duplicates=rows["rows"] - rows["distinct_ids"],
        note=str(rows),
    )
    assert done is not None
    assert rows == {"rows": len(ids), "distinct_ids": len(ids), "distinct_urls": len(ids)}


def test_k14_skipped_duplicates_are_counted(private_stack, namespace, pool, report_row):
    record = EnrichedArticle(
        article_id="d" * 32,
        url="http://127.0.0.1:9/d",
        title="t",
        text="b " * 50,
        extractor_version="t",
        content_hash="d" * 64,
    )
    produce(
        private_stack.bootstrap, namespace, ENRICHED.name, [(record.key(), record.encode())] * 5
    )
    slot = pool.add("sink", WIREDESK_BATCH_SIZE="1")[0]  # each copy a batch of its own
    wait_until(
        lambda: (
            kafka_state.committed_total(private_stack.bootstrap, namespace, "write_articles") == 5
        ),
        60,
    )
    metrics = pool.scrape(slot)
    unchanged = metric_sum(
        metrics, "wiredesk_sink_rows_total", table="articles", outcome="unchanged"
    )
    inserted = metric_sum(metrics, "wiredesk_sink_rows_total", table="articles", outcome="inserted")
    report_row(
        fault="K14 the same record 5 times: skipped duplicates counted",
        runs=5,
        note=f"inserted {inserted:.0f}, unchanged {unchanged:.0f}",
    )
    assert (inserted, unchanged) == (1, 4)


def test_k14_trailing_slash_and_tracking_variants_are_the_same_article():
    plain = url_id(canonical_url("http://news.example/a/story"))
    variants = [
        "http://news.example/a/story/",
        "HTTP://News.Example:80/a/story/?utm_source=x",
        "http://news.example/a/story#comments",
    ]
    assert {url_id(canonical_url(v)) for v in variants} == {plain}
    assert url_id(canonical_url("http://news.example/")) != url_id(
        canonical_url("http://news.example/a")
    )
    assert url_id(canonical_url("http://news.example/a/Story")) != plain  # path case counts


def test_k16_consumer_groups_reset_to_earliest_with_manual_commits(private_stack, namespace):
    bus = KafkaBus(private_stack.bootstrap, namespace=namespace)
    bus.ensure_topics([ENRICHED.name])
    consumer = bus.consumer([ENRICHED.name], "write_articles")
    try:
        config = consumer._consumer.config
        assert config["auto_offset_reset"] == "earliest"  # never 'latest': nothing skipped
        assert config["enable_auto_commit"] is False  # commits only after durable output
    finally:
        consumer.close()
        bus.close()
