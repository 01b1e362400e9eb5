"""P3 found on the merged sink: a NUL byte in an entity's canonical id reached
PostgreSQL as a key of the entities rows (DataError, the article dead-lettered)."""

from __future__ import annotations

from sink.rows import rows_for
from tests.reliability.harness.badinput import hostile_enriched


def test_no_nul_byte_survives_in_any_row_value_or_key():
    record = hostile_enriched()[0]  # NUL in every text and JSON field, the entity id too
    assert "\x00" in record.entities[0].canonical_id
    rows = rows_for(record)
    assert "\\x00" not in repr(rows) and "\x00" not in repr(rows)
    assert set(rows.entities) == {"loc:x"}
    assert rows.mentions["loc:x"]["canonical_id"] == "loc:x"
