"""An entity's name and label come from all its mentions, whatever order articles arrive in
(sink.entity_names); the same writer runs on PostgreSQL in tests/integration."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from sqlalchemy import select

from sink.articles import ArticleWriter
from sink.entity_names import mention_deltas, preferred
from tests.unit.test_sink_sqlite import enriched
from wiredesk.db.tables import EntityNameRow, EntityRow
from wiredesk.records import Entity


def naming(n: int, name: str, label: str, mentions: int, **kw):
    """Article ``n`` naming entity ``per:zelensky`` ``mentions`` times as ``name``."""
    text = " ".join([name] * mentions) + f" spoke in article {n}."
    starts = [i * (len(name) + 1) for i in range(mentions)]
    entities = [
        Entity(
            canonical_id="per:zelensky",
            name=name,
            label=label,
            surface=name,
            start=s,
            end=s + len(name),
        )
        for s in starts
    ]
    return enriched(n, text=text, entities=entities, **kw)


ARTICLES = [
    naming(1, "Zelensky", "PER", 2),
    naming(2, "Zelenskyy", "PER", 3),
    naming(3, "Zelensky", "ORG", 2),
    naming(4, "Zelenskiy", "PER", 1),
]


def entity(engine) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(select(EntityRow.name, EntityRow.label)).one()
    return row.name, row.label


def counts(engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        return {(r.name, r.label): r.mentions for r in conn.execute(select(EntityNameRow)).all()}


def test_preferred_takes_the_most_mentioned_name_and_label_ties_by_the_smaller():
    assert preferred({("Zelensky", "PER"): 2, ("Zelenskyy", "PER"): 3, ("Zelensky", "ORG"): 2}) == (
        "Zelensky",
        "PER",
    )
    assert preferred({("B", "PER"): 1, ("A", "LOC"): 1}) == ("A", "LOC")


def test_mention_deltas_subtract_the_old_rows_and_add_the_new():
    old = [{"canonical_id": "x", "name": "A", "label": "PER", "mentions": 2}]
    new = [{"canonical_id": "x", "name": "B", "label": "PER", "mentions": 2}]
    assert mention_deltas(old, new) == Counter({("x", "A", "PER"): -2, ("x", "B", "PER"): 2})
    assert mention_deltas(old, old) == Counter()


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(ARTICLES)))))
def test_any_arrival_order_gives_the_same_name_and_label(sqlite_engine, order):
    writer = ArticleWriter(sqlite_engine)
    for i in order:
        writer.write([ARTICLES[i]])
    assert_decided(sqlite_engine)


def assert_decided(engine) -> None:
    """Zelensky: 4 mentions (2 PER + 2 ORG), Zelenskyy 3, Zelenskiy 1; PER 6 vs ORG 2."""
    assert entity(engine) == ("Zelensky", "PER")
    assert counts(engine) == {
        ("Zelensky", "PER"): 2,
        ("Zelenskyy", "PER"): 3,
        ("Zelensky", "ORG"): 2,
        ("Zelenskiy", "PER"): 1,
    }


def test_a_new_version_of_an_article_moves_its_mentions_and_a_replay_changes_nothing(
    sqlite_engine,
):
    writer = ArticleWriter(sqlite_engine)
    writer.write(ARTICLES)
    assert entity(sqlite_engine) == ("Zelensky", "PER")
    # article 1 re-extracted: now spells it Zelenskyy, three times
    writer.write([naming(1, "Zelenskyy", "PER", 3, title="Re-extracted")])
    assert counts(sqlite_engine)[("Zelenskyy", "PER")] == 6
    assert ("Zelensky", "PER") not in counts(sqlite_engine)  # no stored article left
    assert entity(sqlite_engine) == ("Zelenskyy", "PER")
    before = counts(sqlite_engine)
    writer.write([*ARTICLES[1:], naming(1, "Zelenskyy", "PER", 3, title="Re-extracted")])
    assert counts(sqlite_engine) == before
    assert entity(sqlite_engine) == ("Zelenskyy", "PER")
