"""On PostgreSQL too, an entity's name and label follow all its mentions, not the order of
the writes, including two sink workers writing at once (sink.entity_names)."""

from __future__ import annotations

import threading

import pytest

from sink.articles import ArticleWriter
from tests.unit.test_sink_entity_names import ARTICLES, assert_decided
from wiredesk import db

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2)])
def test_any_arrival_order_gives_the_same_name_and_label(pg_url, order):
    engine = db.make_engine(pg_url)
    writer = ArticleWriter(engine)
    for i in order:
        writer.write([ARTICLES[i]])
    assert_decided(engine)
    engine.dispose()


def test_two_writers_at_once_count_every_mention(pg_url):
    engines = [db.make_engine(pg_url) for _ in range(2)]
    halves = [ARTICLES[0::2], ARTICLES[1::2]]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(engine, articles) -> None:
        try:
            start.wait()
            for a in articles:
                ArticleWriter(engine).write([a])
        except BaseException as e:  # reported below: a thread cannot fail the test
            errors.append(e)

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(engines, halves, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert_decided(engines[0])
    for engine in engines:
        engine.dispose()
