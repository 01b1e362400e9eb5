"""Replay on the in-process bus: re-extraction from news.raw with a newer extractor
updates rows in place; time parsing for --from/--to; bounded consumers stop at --to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import ingest.extract
from devserver.server import NewsServer, load_corpus
from wiredesk.app.ops.replay import parse_time, replay
from wiredesk.app.ops.replay_consumers import MemoryReplayConsumer
from wiredesk.app.topology import build_pipeline
from wiredesk.bus.memory import MemoryBus
from wiredesk.db.tables import ArticleRow
from wiredesk.runner import StageRunner, drain, publish_from
from wiredesk.settings import Settings
from wiredesk.topics import ALL_TOPICS, LINKS, RAW


def test_re_extraction_with_a_newer_extractor_updates_rows_in_place(sqlite_engine, monkeypatch):
    bus = MemoryBus(partitions=2)
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    with NewsServer(load_corpus()) as server:
        settings = Settings(feeds=server.feed_urls(), allow_private_addresses=True)
        pipeline = build_pipeline(settings, sqlite_engine)
        runners = [StageRunner(s, bus) for s in pipeline.stages]
        publish_from(pipeline.source, bus, LINKS.name)
        drain(runners)

    def rows():
        with sqlite_engine.connect() as conn:
            query = select(
                ArticleRow.article_id,
                ArticleRow.extractor_version,
                ArticleRow.created_at,
                ArticleRow.updated_at,
            )
            return {r.article_id: r for r in conn.execute(query)}

    before = rows()
    assert len(before) == 30
    assert {r.extractor_version for r in before.values()} == {ingest.extract.EXTRACTOR_VERSION}

    monkeypatch.setattr(ingest.extract, "EXTRACTOR_VERSION", "trafilatura-99.0")
    extract = next(s for s in pipeline.stages if s.input == RAW)
    consumer = MemoryReplayConsumer(bus, RAW.name, "extract_articles.replay.t", None, None)
    result = replay(extract, bus, consumer, "extract_articles.replay.t")
    assert (result.replayed, result.total, result.interrupted) == (30, 30, False)
    drain(runners)  # the live enrich and sink groups pick up the re-extracted articles

    after = rows()
    assert set(after) == set(before)  # same rows, no new ones
    assert {r.extractor_version for r in after.values()} == {"trafilatura-99.0"}
    for article_id, row in after.items():
        assert row.created_at == before[article_id].created_at
    pipeline.close()  # after the replay: its extract stage runs in the pipeline's sandbox


def test_a_bounded_consumer_stops_at_to_and_skips_before_from():
    bus = MemoryBus(partitions=1)
    bus.ensure_topics([RAW.name])
    for i in range(10):
        bus.publish(RAW.name, str(i), b"x")
    messages = bus.messages(RAW.name)
    # give the messages distinct times 1 s apart
    part = bus._topics[RAW.name][0]
    for i, m in enumerate(messages):
        part[i] = m.__class__(**{**m.__dict__, "timestamp_ms": 1_000_000 + i * 1000})
    consumer = MemoryReplayConsumer(bus, RAW.name, "g", 1_003_000, 1_007_000)
    got = []
    while not consumer.caught_up():
        got += consumer.poll(3, 0)
    assert [m.offset for m in got] == [3, 4, 5, 6]
    assert (consumer.total, consumer.done_count) == (4, 4)


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("earliest", None),
        ("6h", NOW - timedelta(hours=6)),
        ("2d", NOW - timedelta(days=2)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T08:00:00Z", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("2026-11-20T08:00:00+02:00", datetime(2026, 11, 20, 6, tzinfo=UTC)),
    ],
)
def test_replay_times(text, expected):
    assert parse_time(text, now=NOW) == expected


def test_a_bad_time_says_what_is_accepted():
    with pytest.raises(ValueError, match="earliest"):
        parse_time("yesterday-ish")


def test_a_bounded_consumer_on_the_sql_bus_keeps_the_range_and_resumes_its_group(
    tmp_path, monkeypatch
):
    import wiredesk.bus.sql as sql_bus
    from wiredesk.app.ops.replay_consumers import SqlReplayConsumer

    bus = sql_bus.SqlBus(f"sqlite:///{tmp_path / 'bus.db'}", partitions=1)
    for i in range(10):  # ten flushes, 1 s apart
        monkeypatch.setattr(sql_bus, "_now_ms", lambda i=i: 1_000_000 + i * 1000)
        bus.publish(RAW.name, str(i), b"x")
        bus.flush()
    consumer = SqlReplayConsumer(bus, RAW.name, "g", 1_003_000, 1_007_000)
    assert consumer.total == 4
    first = consumer.poll(2, 0)
    assert [m.offset for m in first] == [3, 4]
    consumer.commit(first)  # interrupted here; the same group resumes after what it did
    resumed = SqlReplayConsumer(bus, RAW.name, "g", 1_003_000, 1_007_000)
    got = []
    while not resumed.caught_up():
        got += resumed.poll(3, 0)
    assert [m.offset for m in got] == [5, 6]
    assert (resumed.total, resumed.done_count) == (4, 4)
    everything = SqlReplayConsumer(bus, RAW.name, "fresh", None, None)
    assert everything.total == 10  # earliest, to the end taken at the start
