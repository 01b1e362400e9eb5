"""JSON columns read through orjson, with the standard library for what orjson refuses."""

from __future__ import annotations

import math

from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select, text

from wiredesk import db


def test_json_loads_reads_what_orjson_refuses_and_the_standard_library_accepts():
    assert db.json_loads('{"t": {"a": 0.25}, "k": ["x"]}') == {"t": {"a": 0.25}, "k": ["x"]}
    assert math.isnan(db.json_loads('{"x": NaN}')["x"])
    assert db.json_loads('{"x": Infinity}')["x"] == math.inf
    assert db.json_loads("[18446744073709551616]") == [2**64]


def test_an_engine_reads_json_columns_through_it(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'j.db'}")
    table = Table("docs", MetaData(), Column("id", Integer, primary_key=True), Column("v", JSON))
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "v": {"a": [1, 2.5, "x"]}}])
        # a value the old writer could leave (json.dumps writes NaN)
        conn.execute(text("INSERT INTO docs (id, v) VALUES (2, '{\"a\": NaN}')"))
        rows = dict(conn.execute(select(table.c.id, table.c.v)).all())
    assert rows[1] == {"a": [1, 2.5, "x"]}
    assert math.isnan(rows[2]["a"])
    engine.dispose()
