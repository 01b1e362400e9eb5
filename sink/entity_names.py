"""An entity's preferred name and label, decided by all its mentions, not the last write.

Each article names its entities its own way (the transform's per-article majority
spelling and label, kept on the article's ``article_entities`` row). ``entity_names``
counts mentions per ``(entity, name, label)`` over every stored article, kept current by
the difference each batch makes to ``article_entities``; the ``entities`` row takes the
most-mentioned name and the label with the most mentions (ties: the smaller string).
Sums do not depend on the order articles arrive in, so any order, any number of sink
workers and a replay all give the same row. Counting per spelling instead of re-reading
every mention keeps the cost per batch flat as an entity gathers thousands of articles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from wiredesk.db import insert_for, upsert_many
from wiredesk.db.tables import EntityNameRow, EntityRow

Spelling = tuple[str, str, str]  # (canonical_id, name, label)


def mention_deltas(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> Counter[Spelling]:
    """What replacing the ``before`` article_entities rows by ``after`` adds to each count."""
    deltas: Counter[Spelling] = Counter()
    for row in before:
        deltas[(row["canonical_id"], row["name"], row["label"])] -= row["mentions"]
    for row in after:
        deltas[(row["canonical_id"], row["name"], row["label"])] += row["mentions"]
    return Counter({k: n for k, n in deltas.items() if n})


def lock(conn: Connection, ids: Iterable[str]) -> None:
    """Serialise sink workers that touch one entity (sorted: no lock-order deadlock).

    SQLite has one writer at a time already; PostgreSQL locks the rows until commit, so
    two workers cannot each count without the other's mentions and write a stale name."""
    if conn.dialect.name == "postgresql":
        wanted = sorted(set(ids))
        if wanted:
            conn.execute(
                select(EntityRow.canonical_id)
                .where(EntityRow.canonical_id.in_(wanted))
                .order_by(EntityRow.canonical_id)
                .with_for_update()
            )


def apply(conn: Connection, deltas: Counter[Spelling]) -> None:
    """Add ``deltas`` to the counts and drop spellings no stored article uses any more."""
    if not deltas:
        return
    table = EntityNameRow.__table__
    stmt = insert_for(conn.engine, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["canonical_id", "name", "label"],
        set_={"mentions": table.c.mentions + stmt.excluded.mentions},
    )
    rows = [
        {"canonical_id": cid, "name": name, "label": label, "mentions": n}
        for (cid, name, label), n in sorted(deltas.items())
    ]
    upsert_many(conn, stmt, rows)
    conn.execute(
        table.delete().where(
            table.c.canonical_id.in_(sorted({cid for cid, _, _ in deltas})),
            table.c.mentions <= 0,
        )
    )


def preferred(counts: Mapping[tuple[str, str], int]) -> tuple[str, str]:
    """(name, label) from mention counts per (name, label): each the most mentioned."""
    names: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for (name, label), n in counts.items():
        names[name] += n
        labels[label] += n
    return (
        min(names, key=lambda s: (-names[s], s)),
        min(labels, key=lambda s: (-labels[s], s)),
    )


def refresh(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Set each entity's name and label from its counts; the (name, label) pairs changed.

    An entity no stored article mentions any more keeps its row and its last name."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    counts: dict[str, dict[tuple[str, str], int]] = {}
    table = EntityNameRow.__table__
    for cid, name, label, n in conn.execute(
        select(table.c.canonical_id, table.c.name, table.c.label, table.c.mentions).where(
            table.c.canonical_id.in_(wanted), table.c.mentions > 0
        )
    ):
        counts.setdefault(cid, {})[(name, label)] = n
    stored = {
        r.canonical_id: (r.name, r.label)
        for r in conn.execute(
            select(EntityRow.canonical_id, EntityRow.name, EntityRow.label).where(
                EntityRow.canonical_id.in_(wanted)
            )
        )
    }
    changed = {
        cid: best
        for cid, per_spelling in sorted(counts.items())
        if (best := preferred(per_spelling)) != stored.get(cid)
    }
    if changed:
        t = EntityRow.__table__
        conn.execute(
            update(t)
            .where(t.c.canonical_id == bindparam("b_id"))
            .values(name=bindparam("b_name"), label=bindparam("b_label"), updated_at=func.now()),
            [{"b_id": c, "b_name": n, "b_label": lab} for c, (n, lab) in changed.items()],
        )
    return changed
