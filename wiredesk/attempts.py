"""Poison records that take a worker down: counted across restarts, then dead-lettered.

A record that kills its worker (the hard budget of :mod:`wiredesk.budget`, an OOM kill, a
segfault in C code) is never answered: the batch is redelivered to the restarted worker
or to another member, and without a memory of it the record moves from worker to worker
for ever. The ledger is that memory, shared by every member of the group (a table):

1. before a batch, each of its partitions gets a *batch* mark (first offset, attempts,
   open). A mark still open for the same first offset means the last try of this batch
   never finished: the partition is *suspect*;
2. on a suspect partition each record gets a *record* mark before ``process`` and closes
   it after; a record whose mark shows ``max_record_crashes - 1`` unfinished starts (plus
   the batch's own) is dead-lettered as ``crash_loop`` without being processed again;
3. after the commit the batch marks are closed.

Normal batches cost two small writes; only suspect batches pay one write per record.
The ledger is best effort: if the database is away, the stage goes on without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import Connection, Engine, and_, select, text, tuple_, update

from wiredesk.db import insert_for
from wiredesk.db.runner_tables import RecordAttemptRow

log = structlog.get_logger(__name__)
TP = tuple[str, int]


class Ledger(Protocol):
    def begin_batch(self, group: str, starts: Mapping[TP, int]) -> set[TP]:
        """Mark a batch started; return the partitions whose last try never finished."""

    def begin_record(self, group: str, tp: TP, offset: int) -> int:
        """Mark a record started on a suspect partition; returns its unfinished starts."""

    def end_record(self, group: str, tp: TP, offset: int) -> None: ...

    def end_batch(self, group: str, partitions: Iterable[TP]) -> None: ...


class MemoryLedger:
    """The ledger of one process (embedded mode, tests): a dict with the same rules."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int, str], tuple[int, int, bool]] = {}

    def _start(self, key: tuple[str, str, int, str], offset: int) -> int:
        was = self.rows.get(key)
        if key[3] == "record" and was is not None and was[2] and was[0] > offset:
            return 1  # replaying the records before an unfinished one: keep its mark
        attempts = was[1] + 1 if was is not None and was[0] == offset and was[2] else 1
        self.rows[key] = (offset, attempts, True)
        return attempts

    def _end(self, key: tuple[str, str, int, str], offset: int | None = None) -> None:
        was = self.rows.get(key)
        if was is not None and (offset is None or was[0] == offset):
            self.rows[key] = (was[0], was[1], False)

    def begin_batch(self, group: str, starts: Mapping[TP, int]) -> set[TP]:
        return {tp for tp, o in starts.items() if self._start((group, *tp, "batch"), o) > 1}

    def begin_record(self, group: str, tp: TP, offset: int) -> int:
        return self._start((group, *tp, "record"), offset)

    def end_record(self, group: str, tp: TP, offset: int) -> None:
        self._end((group, *tp, "record"), offset)

    def end_batch(self, group: str, partitions: Iterable[TP]) -> None:
        for tp in partitions:
            self._end((group, *tp, "batch"))


class SqlLedger:
    """The shared ledger: table ``record_attempts`` (PostgreSQL or SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A transaction that does not wait for its WAL flush on PostgreSQL: a mark lost
        in a database crash only delays a crash_loop letter by one try."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield conn

    def _start(self, group: str, kind: str, starts: Mapping[TP, int]) -> dict[TP, int]:
        t = RecordAttemptRow.__table__
        with self._begin() as conn:
            rows = conn.execute(
                select(t.c.topic, t.c.partition, t.c.offset, t.c.attempts, t.c.open).where(
                    t.c.group_name == group,
                    t.c.kind == kind,
                    tuple_(t.c.topic, t.c.partition).in_(sorted(starts)),
                )
            ).all()
            old = {(r.topic, r.partition): r for r in rows}
            attempts, keep = {}, set()
            for tp, offset in starts.items():
                was = old.get(tp)
                if kind == "record" and was is not None and was.open and was.offset > offset:
                    attempts[tp] = 1  # a record before the unfinished one: keep its mark
                    keep.add(tp)
                    continue
                same = was is not None and was.offset == offset and was.open
                attempts[tp] = was.attempts + 1 if same else 1
            if len(keep) == len(starts):
                return attempts
            stmt = insert_for(self.engine, t)
            columns = ("offset", "attempts", "open", "updated_at")
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["group_name", "topic", "partition", "kind"],
                    set_={c: stmt.excluded[c] for c in columns},
                ),
                [
                    {
                        "group_name": group,
                        "topic": tp[0],
                        "partition": tp[1],
                        "kind": kind,
                        "offset": starts[tp],
                        "attempts": attempts[tp],
                        "open": True,
                        "updated_at": datetime.now(UTC),
                    }
                    for tp in sorted(starts)
                    if tp not in keep
                ],
            )
        return attempts

    def _end(self, group: str, kind: str, tps: Iterable[TP], offset: int | None = None) -> None:
        t = RecordAttemptRow.__table__
        pairs = sorted(set(tps))
        if not pairs:
            return
        cond = and_(
            t.c.group_name == group,
            t.c.kind == kind,
            t.c.open.is_(True),
            tuple_(t.c.topic, t.c.partition).in_(pairs),
        )
        if offset is not None:
            cond = and_(cond, t.c.offset == offset)
        with self._begin() as conn:
            conn.execute(update(t).where(cond).values(open=False))

    def begin_batch(self, group: str, starts: Mapping[TP, int]) -> set[TP]:
        return {tp for tp, n in self._start(group, "batch", starts).items() if n > 1}

    def begin_record(self, group: str, tp: TP, offset: int) -> int:
        return self._start(group, "record", {tp: offset})[tp]

    def end_record(self, group: str, tp: TP, offset: int) -> None:
        self._end(group, "record", [tp], offset)

    def end_batch(self, group: str, partitions: Iterable[TP]) -> None:
        self._end(group, "batch", partitions)
