"""The sink schema on PostgreSQL: migrations match the models, the full-text index exists
and serves `wiredesk search`, and the read-side commands print their tables."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from sink.articles import ArticleWriter
from sink.search import SEARCH_DOCUMENT, search
from tests.integration.sink_data import article
from tests.integration.test_ops_replay import wiredesk
from wiredesk import db
from wiredesk.db.tables import Base

pytestmark = pytest.mark.integration


def test_migrations_match_the_models_on_postgresql(pg_url):
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": db.include_in_autogenerate}
        )
        assert compare_metadata(context, Base.metadata) == []
        indexes = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_articles_search'")
        ).scalar_one()
    engine.dispose()
    assert "gin" in indexes and "to_tsvector('english'::regconfig" in indexes


def test_full_text_search_uses_the_gin_index_and_ranks_hits(pg_url):
    engine = db.make_engine(pg_url)
    ArticleWriter(engine).write([article(n) for n in range(40)])
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    f"EXPLAIN SELECT article_id FROM articles WHERE {SEARCH_DOCUMENT} "
                    "@@ websearch_to_tsquery('english', 'Kharnivka')"
                )
            ).scalars()
        )
        assert "ix_articles_search" in plan
        hits = search(conn, '"Mara Velt" Kharnivka', limit=50)
    engine.dispose()
    assert hits
    expected = {
        f"{n:032x}"
        for n in range(40)
        if n % 2 == 0 and (n // 3) % 2 == 1 and "Mara Velt" in article(n).text
    }
    assert {h.article_id for h in hits} == expected


def test_read_side_commands_print_tables(pg_url, workers):
    engine = db.make_engine(pg_url)
    ArticleWriter(engine).write([article(n) for n in range(12)])
    engine.dispose()
    stories = wiredesk(workers.env, "stories", "--limit", "3")
    assert stories.returncode == 0, stories.stderr
    assert "3 latest stories" in stories.stdout and "story-" in stories.stdout
    one = wiredesk(workers.env, "stories", "--story", "story-1")
    assert "story story-1: 3 articles" in one.stdout
    found = wiredesk(workers.env, "search", "Port", "Velmar")
    assert found.returncode == 0 and "articles matching 'Port Velmar'" in found.stdout
    missing = wiredesk(workers.env, "search", "zzzyzzx")
    assert missing.returncode == 3 and "0 articles matching" in missing.stdout
    feeds = wiredesk(workers.env, "feeds")
    assert feeds.returncode == 0 and "no feeds polled yet" in feeds.stdout
