"""Acceptance of the raw archive on the sql bus (`wiredesk run`'s bus) and SQLite: the
pipeline archives every fetched page; once news.raw's retention has deleted the pages
and the article rows are gone, `replay --stage extract --source archive` restores the
rows exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from devserver.server import NewsServer, load_corpus
from ingest.archive import ArchiveOptions, WarcArchive
from ingest.archive_index import SqlArchiveIndex
from tests.conftest import metric
from tests.unit.test_archive import page
from wiredesk.app.cli import main
from wiredesk.app.ops.replay import replay
from wiredesk.app.ops.replay_archive import (
    EVERYTHING,
    ArchiveReplayConsumer,
    oldest_message,
    replay_plan,
)
from wiredesk.app.ops.replay_consumers import SqlReplayConsumer
from wiredesk.app.topology import build_pipeline
from wiredesk.bus.sql import SqlBus
from wiredesk.db.tables import (
    ArticleEntityRow,
    ArticleRow,
    EntityRow,
    SourceRow,
    StoryEntityRow,
    StoryRow,
)
from wiredesk.records import RawPage
from wiredesk.runner import StageRunner, drain, publish_from
from wiredesk.settings import Settings
from wiredesk.stage import Stage
from wiredesk.topics import ALL_TOPICS, LINKS, RAW

# how a row was written, not what it says: a restored row is new (created/updated now)
# and came from a later news.enriched offset
WHEN_AND_WHERE = {"created_at", "updated_at", "source_partition", "source_offset"}
TABLES = (ArticleRow, ArticleEntityRow, StoryRow, StoryEntityRow, EntityRow, SourceRow)


def contents(engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for row_type in TABLES:
            table = row_type.__table__
            columns = [c for c in table.c if c.name not in WHEN_AND_WHERE]
            out[table.name] = sorted(
                tuple(map(repr, r)) for r in conn.execute(select(*columns)).all()
            )
    return out


def restored(after: dict[str, list[tuple]], before: dict[str, list[tuple]]) -> bool:
    """Every row equal, entities' preferred names and labels included (they are decided
    by all mentions, not by the order articles arrive in: sink.entity_names)."""
    return after == before


def test_replay_from_the_archive_restores_the_rows_exactly(
    sqlite_url, sqlite_engine, tmp_path, monkeypatch, capsys
):
    bus_url = f"sqlite:///{tmp_path / 'bus.db'}"
    bus = SqlBus(bus_url, partitions=2, keep_hours=1)
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    with NewsServer(load_corpus()) as server:
        settings = Settings(
            feeds=server.feed_urls(),
            allow_private_addresses=True,
            archive_url=str(tmp_path / "warc"),
            archive_max_bytes=10_000,  # several files
        )
        pipeline = build_pipeline(settings, sqlite_engine)
        runners = [StageRunner(s, bus) for s in pipeline.stages]
        publish_from(pipeline.source, bus, LINKS.name)
        drain(runners)
    before = contents(sqlite_engine)
    assert len(before["articles"]) == 30
    assert oldest_message(bus, RAW.name) == EVERYTHING  # nothing deleted yet: topic only
    index = SqlArchiveIndex(sqlite_engine)
    assert index.count(None, None) == 30
    assert len(list((tmp_path / "warc").rglob("*.warc.gz"))) > 1

    # news.raw's retention deletes the pages (consumed, older than keep_hours)...
    far_future_ms = 4_102_444_800_000  # 2100-01-01
    assert bus.prune(now_ms=far_future_ms) > 0
    topic = SqlReplayConsumer(bus, RAW.name, "extract_articles.replay.topic", None, None)
    assert topic.total == 0
    assert oldest_message(bus, RAW.name) is None  # so a replay reads the archive
    # ... and the rows are lost
    with sqlite_engine.begin() as conn:
        for row_type in (ArticleEntityRow, StoryEntityRow, StoryRow, ArticleRow):
            conn.execute(delete(row_type))
    assert contents(sqlite_engine)["articles"] == []

    # the command, as an operator runs it
    monkeypatch.setenv("WIREDESK_BUS", "sql")
    monkeypatch.setenv("WIREDESK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("WIREDESK_BUS_URL", bus_url)
    monkeypatch.setenv("WIREDESK_ARCHIVE_URL", str(tmp_path / "warc"))
    # the default, --source auto: news.raw holds nothing any more, so all from the archive
    assert main(["replay", "--stage", "extract", "--from", "earliest"]) == 0
    assert "replayed 30 of 30 records of the raw archive" in capsys.readouterr().out
    drain(runners)  # the live enrich and sink groups take the re-extracted articles
    pipeline.close()
    bus.close()
    assert restored(contents(sqlite_engine), before)


def test_an_archive_replay_reads_only_its_range_and_skips_an_unreadable_page(
    sqlite_engine, tmp_path, memory_bus
):
    index = SqlArchiveIndex(sqlite_engine)
    arch = WarcArchive(ArchiveOptions(str(tmp_path / "warc"), max_bytes=1), index)
    pages = [page(n) for n in range(6)]  # fetched 1 s apart, one file each
    entries = [arch.write(p) for p in pages]
    arch.close()
    assert all(entries) and len({e.file for e in entries}) == 6
    Path(entries[3].file).unlink()  # one file lost
    seen: list[RawPage] = []
    stage = Stage("extract_articles", RAW, lambda r: seen.append(r) or [], output=RAW)
    memory_bus.ensure_topics([RAW.name])
    consumer = ArchiveReplayConsumer(index, pages[1].fetched_at, pages[5].fetched_at)
    unreadable = metric("wiredesk_archive_reads_total", outcome="missing")
    result = replay(stage, memory_bus, consumer, "extract_articles.replay.t")
    assert (result.total, result.replayed, result.interrupted) == (4, 4, False)
    assert seen == [pages[1], pages[2], pages[4]]
    assert consumer.unreadable == 1
    assert metric("wiredesk_archive_reads_total", outcome="missing") == unreadable + 1


def test_only_extract_replays_from_the_archive(sqlite_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WIREDESK_BUS", "sql")
    monkeypatch.setenv("WIREDESK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("WIREDESK_BUS_URL", f"sqlite:///{tmp_path / 'bus.db'}")
    argv = ["replay", "--stage", "sink", "--from", "earliest", "--source", "archive"]
    assert main(argv) == 2
    assert "--source archive replays the extract stage only" in capsys.readouterr().err


T = [datetime(2026, 12, 1, h, tzinfo=UTC) for h in range(24)]


@pytest.mark.parametrize(
    "source, start, end, held, expected",
    [
        # the topic holds pages from T[10]: older ones come from the archive
        ("auto", T[5], T[20], T[10], [("archive", T[5], T[10]), ("topic", T[5], T[20])]),
        ("auto", None, None, T[10], [("archive", None, T[10]), ("topic", None, None)]),
        ("auto", T[5], T[8], T[10], [("archive", T[5], T[8])]),  # all before the topic
        ("auto", T[12], None, T[10], [("topic", T[12], None)]),  # all in the topic
        ("auto", T[5], None, None, [("archive", T[5], None)]),  # the topic holds nothing
        ("auto", None, None, EVERYTHING, [("topic", None, None)]),  # it never lost any
        ("topic", T[5], None, None, [("topic", T[5], None)]),
        ("archive", T[12], None, T[10], [("archive", T[12], None)]),
    ],
)
def test_replay_plan(source, start, end, held, expected):
    assert replay_plan(source, "extract_articles", start, end, lambda: held) == expected


def test_other_stages_replay_their_topic():
    def never():
        raise AssertionError("only extract asks the topic where it starts")

    assert replay_plan("auto", "write_articles", None, None, never) == [("topic", None, None)]
