"""Replay of extract from the raw archive: pages news.raw no longer holds.

:func:`replay_plan` splits a replay of extract (``--source auto``, the default) in two
once news.raw has lost messages (retention): the part of [FROM, TO) before the oldest
message it still holds comes from the archive, the rest from the topic. A page fetched
just before that message (in its batch) may come from both: harmless, re-extraction is
idempotent downstream. A topic that never lost a message is replayed alone.
``--source archive|topic`` forces one.

:class:`ArchiveReplayConsumer` is a bounded consumer (the runner's ``Consumer``) that
reads the archive index (``archive_pages``) in fetch-time order over [FROM, TO) and
hands each page to the extract stage as a news.raw message, rebuilt exactly as the
fetcher published it (:func:`ingest.archive.read_page`). It presents one partition whose
offsets count the index entries of the range; nothing is committed (an interrupted
archive replay starts again from FROM: re-extraction is idempotent downstream). A page
whose file is missing or corrupt is logged, counted in
``wiredesk_archive_reads_total{outcome}`` and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Engine

from ingest import metrics
from ingest.archive import ArchivedPage, ArchiveError
from ingest.archive_index import SqlArchiveIndex
from ingest.archive_read import read_page, read_range
from wiredesk.app.ops.replay_consumers import _Bounded
from wiredesk.bus import Bus, Message
from wiredesk.settings import SettingsError
from wiredesk.topics import RAW

log = structlog.get_logger("wiredesk")


class ArchiveReplayConsumer(_Bounded):
    def __init__(
        self, index: SqlArchiveIndex, start: datetime | None, end: datetime | None
    ) -> None:
        self.index = index
        self.topic = RAW.name
        self.range = (start, end)
        total = index.count(start, end)
        self.start, self.stop, self.position = {0: 0}, {0: total}, {0: 0}
        self._after: tuple[datetime, str] | None = None
        self.unreadable = 0

    def poll(self, max_records: int, timeout_s: float) -> list[Message]:
        want = min(max_records, self.stop[0] - self.position[0])
        if want <= 0:
            return []
        entries = self.index.entries(*self.range, after=self._after, limit=want)
        if not entries:  # the index shrank since the count: nothing more to read
            self.position[0] = self.stop[0]
            return []
        self._after = (entries[-1].fetched_at, entries[-1].article_id)
        messages = []
        for entry in entries:
            offset = self.position[0]
            self.position[0] += 1
            value = self._value(entry)
            if value is not None:
                messages.append(
                    Message(
                        self.topic,
                        0,
                        offset,
                        entry.article_id,
                        value,
                        _millis(entry.fetched_at),
                    )
                )
        return messages

    def _value(self, entry: ArchivedPage) -> bytes | None:
        try:
            page = read_page(read_range(entry.file, entry.offset, entry.length))
        except ArchiveError as exc:
            self.unreadable += 1
            metrics.ARCHIVE_READS.labels(exc.reason).inc()
            log.error(
                "archive_read_failed",
                article_id=entry.article_id,
                file=entry.file,
                offset=entry.offset,
                reason=exc.reason,
                error=str(exc)[:300],
            )
            return None
        metrics.ARCHIVE_READS.labels("read").inc()
        return page.encode()

    def commit(self, messages: Sequence[Message]) -> None:
        """Nothing to commit: an archive replay is re-run from FROM."""

    def close(self) -> None:
        pass


def _millis(when: datetime) -> int:
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def archive_consumer(
    stage_name: str, engine: Engine, start: datetime | None, end: datetime | None
) -> ArchiveReplayConsumer:
    """``--source archive``: the index of the archive over [start, end)."""
    check_archive_stage(stage_name)
    return ArchiveReplayConsumer(SqlArchiveIndex(engine), start, end)


def check_archive_stage(stage_name: str) -> None:
    """Only extraction reads raw pages."""
    if stage_name != "extract_articles":
        raise SettingsError(
            f"--source archive replays the extract stage only (the archive holds raw pages), "
            f"not {stage_name}"
        )


Part = tuple[str, datetime | None, datetime | None]  # ("archive" | "topic", start, end)


def replay_plan(
    source: str,
    stage_name: str,
    start: datetime | None,
    end: datetime | None,
    held_since: Callable[[], datetime | None],
) -> list[Part]:
    """Where each part of [start, end) is read from; ``held_since()``: see
    :func:`oldest_message` (asked only when it matters)."""
    if source == "archive":
        check_archive_stage(stage_name)
        return [("archive", start, end)]
    if source == "topic" or stage_name != "extract_articles":
        return [("topic", start, end)]
    since = held_since()
    if since is None:
        return [("archive", start, end)]
    if since == EVERYTHING:  # nothing was ever deleted: the topic has every page
        return [("topic", start, end)]
    parts: list[Part] = []
    if start is None or start < since:
        parts.append(("archive", start, since if end is None or end > since else end))
    if end is None or end > since:
        parts.append(("topic", start, end))
    return parts


# held_since() of a topic that never lost a message: it holds the whole range
EVERYTHING = datetime.min.replace(tzinfo=UTC)


def oldest_message(bus: Bus, topic: str) -> datetime | None:
    """Since when ``topic`` holds its messages: EVERYTHING if none was ever deleted, else
    the time of the oldest one it still holds (None: it holds none)."""
    from wiredesk.bus.kafka import KafkaBus
    from wiredesk.bus.sql import SqlBus

    if isinstance(bus, SqlBus):
        complete, ms = _sql_oldest(bus, topic)
    elif isinstance(bus, KafkaBus):
        complete, ms = _kafka_oldest(bus, topic)
    else:  # the in-process bus keeps nothing worth replaying
        return None
    if complete:
        return EVERYTHING
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _sql_oldest(bus: Any, topic: str) -> tuple[bool, int | None]:
    from sqlalchemy import func, select

    from wiredesk.bus.sql_tables import heads, messages

    with bus.reader.connect() as conn:
        held, oldest = conn.execute(
            select(func.count(), func.min(messages.c.timestamp_ms)).where(messages.c.topic == topic)
        ).one()
        published = conn.scalar(select(func.sum(heads.c.next_seq)).where(heads.c.topic == topic))
    return int(held) == int(published or 0), oldest


def _kafka_oldest(bus: Any, topic: str) -> tuple[bool, int | None]:
    from kafka import KafkaConsumer, TopicPartition

    name = bus.namespace + topic
    consumer = KafkaConsumer(bootstrap_servers=bus.bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or set()]
        complete = all(offset == 0 for offset in consumer.beginning_offsets(tps).values())
        # the first offset at/after time 0 is the oldest held message, with its time
        found = consumer.offsets_for_times({tp: 0 for tp in tps})
        stamps = [f.timestamp for f in found.values() if f is not None]
    finally:
        consumer.close(autocommit=False)
    return complete, (min(stamps) if stamps else None)
