"""P3 found on the merged sink: a NUL byte in an entity's canonical id reached
PostgreSQL as a key of the entities rows (DataError, the article dead-lettered)."""

from __future__ import annotations

from sink.rows import rows_for
from wiredesk.records import EnrichedArticle, Entity


def test_no_nul_byte_survives_in_any_row_value_or_key():
    record = EnrichedArticle(
        article_id="b" * 32,
        url="http://127.0.0.1:9/nul\x00url",
        title="ab\x00cd",
        text="Vel\x00mar body " * 30,
        authors=["Ann\x00 Writer"],
        extractor_version="t\x00",
        content_hash="b" * 64,
        entities=[
            Entity(
                canonical_id="loc:x\x00",
                name="Vel\x00mar",
                label="LOC",
                surface="Vel\x00mar",
                start=0,
                end=7,
            )
        ],
    )
    rows = rows_for(record)
    assert "\\x00" not in repr(rows) and "\x00" not in repr(rows)
    assert set(rows.entities) == {"loc:x"}
    assert rows.mentions["loc:x"]["canonical_id"] == "loc:x"
