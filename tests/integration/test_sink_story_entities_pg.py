"""The story entity map on PostgreSQL: the same scenario as on SQLite (members join,
move out, the whole story moves), written under the story's advisory lock."""

from __future__ import annotations

from tests.unit.test_sink_story_entities import check_story_entity_map
from wiredesk import db


def test_the_map_is_rewritten_when_members_change_on_postgresql(pg_url: str) -> None:
    engine = db.make_engine(pg_url)
    try:
        check_story_entity_map(engine)
    finally:
        engine.dispose()
