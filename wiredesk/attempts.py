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
On PostgreSQL each of the two is one statement on a connection of the ledger's own, in
autocommit mode and without waiting for the WAL flush (a mark lost in a database crash
only delays a crash_loop letter by one try): two round trips per batch instead of about
ten (BENCHMARKS.md, Cut 10).
The ledger is best effort: if the database is away, the stage goes on without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Engine, and_, select, text, tuple_, update

from wiredesk.db import insert_for, make_engine
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


# A batch mark per partition in one statement: a mark still open at the same first
# offset counts one more attempt, any other starts again at 1.
BEGIN_BATCH_PG = text(
    "INSERT INTO record_attempts AS r"
    ' (group_name, topic, partition, kind, "offset", attempts, open, updated_at)'
    " SELECT :group, s.topic, s.partition, 'batch', s.first, 1, true, now()"
    " FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS integer[]),"
    " CAST(:firsts AS bigint[])) AS s(topic, partition, first)"
    " ON CONFLICT (group_name, topic, partition, kind) DO UPDATE SET"
    ' attempts = CASE WHEN r.open AND r."offset" = excluded."offset"'
    " THEN r.attempts + 1 ELSE 1 END,"
    ' "offset" = excluded."offset", open = true, updated_at = excluded.updated_at'
    " RETURNING r.topic, r.partition, r.attempts"
)
END_BATCH_PG = text(
    "UPDATE record_attempts SET open = false"
    " WHERE group_name = :group AND kind = 'batch' AND open"
    " AND (topic, partition) IN (SELECT * FROM unnest(CAST(:topics AS text[]),"
    " CAST(:partitions AS integer[])))"
)


class SqlLedger:
    """The shared ledger: table ``record_attempts`` (PostgreSQL or SQLite)."""

    def __init__(self, engine: Engine, own_connection: bool = True) -> None:
        """``own_connection=False`` keeps PostgreSQL's batch marks in transactions of
        ``engine`` as on SQLite (the code before cut 10: ``bench/budget_overhead.py``)."""
        self.engine = engine
        self._marks: Engine | None = None  # PostgreSQL: the batch marks' own connection
        self._held: Connection | None = None
        if engine.dialect.name == "postgresql" and own_connection:
            self._marks = make_engine(
                engine.url.render_as_string(hide_password=False),
                statement_timeout_s=30,
                lock_timeout_s=10,
                synchronous_commit=False,
                isolation_level="AUTOCOMMIT",
                pool_size=1,
                max_overflow=0,
            )

    def _marks_statement(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        """One autocommit statement on the held connection (opened again after an error)."""
        assert self._marks is not None
        try:
            if self._held is None:
                self._held = self._marks.connect()
            result = self._held.execute(statement, params)
            return list(result) if result.returns_rows else []
        except Exception:
            if self._held is not None:
                self._held.invalidate()
                self._held.close()
                self._held = None
            raise

    def close(self) -> None:
        """Return the held connection and dispose of the ledger's own engine."""
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._marks is not None:
            self._marks.dispose()

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
        if self._marks is None:
            return {tp for tp, n in self._start(group, "batch", starts).items() if n > 1}
        tps = sorted(starts)
        params = {
            "group": group,
            "topics": [t for t, _ in tps],
            "partitions": [p for _, p in tps],
            "firsts": [starts[tp] for tp in tps],
        }
        rows = self._marks_statement(BEGIN_BATCH_PG, params)
        return {(r.topic, r.partition) for r in rows if r.attempts > 1}

    def begin_record(self, group: str, tp: TP, offset: int) -> int:
        return self._start(group, "record", {tp: offset})[tp]

    def end_record(self, group: str, tp: TP, offset: int) -> None:
        self._end(group, "record", [tp], offset)

    def end_batch(self, group: str, partitions: Iterable[TP]) -> None:
        if self._marks is None:
            self._end(group, "batch", partitions)
            return
        tps = sorted(set(partitions))
        if tps:
            params = {"group": group, "topics": [t for t, _ in tps]}
            self._marks_statement(END_BATCH_PG, {**params, "partitions": [p for _, p in tps]})
