"""Embedded mode: the same stages on the in-process bus and SQLite, against the local
news server over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import create_engine, func, select

from devserver.server import NewsServer, load_corpus
from ingest.urls import canonical_url
from wiredesk.app.cli import main
from wiredesk.app.commands import run_embedded
from wiredesk.db.tables import ArticleRow
from wiredesk.settings import load_settings


def test_demo_corpus_flows_into_sqlite_and_a_second_run_adds_nothing(sqlite_url, sqlite_engine):
    corpus = load_corpus()
    with NewsServer(corpus) as server:
        settings = load_settings(
            feeds=server.feed_urls(),
            database_url=sqlite_url,
            allow_private_addresses=True,
            fetch_host_delay_s=0.0,
        )
        counts = run_embedded(settings, sqlite_engine)
        expected = {canonical_url(server.article_url(a.id)): a for a in corpus.articles}
        with sqlite_engine.connect() as conn:
            rows = {r.url: r for r in conn.execute(select(ArticleRow)).all()}
        assert counts["links"] == len(expected) == len(rows)
        assert counts["dead_letters"] == 0
        for url, row in rows.items():
            article = expected[url]
            assert row.title == article.title
            assert article.paragraphs[0][:60] in row.text  # the body, not boilerplate
            assert row.site_name and row.published_at and row.extractor_version

        again = run_embedded(settings, sqlite_engine)  # re-poll: every feed answers 304
        assert again["links"] == 0
        with sqlite_engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(ArticleRow)) == len(expected)


def test_private_addresses_are_refused_unless_explicitly_allowed(sqlite_url, sqlite_engine):
    with NewsServer(load_corpus()) as server:
        settings = load_settings(feeds=server.feed_urls(), database_url=sqlite_url)
        counts = run_embedded(settings, sqlite_engine)
    assert counts["links"] == 0  # the feeds on 127.0.0.1 were never fetched
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ArticleRow)) == 0


def test_demo_command_prints_a_summary_of_what_it_ingested(tmp_path):
    # a process of its own, as a user runs it (logging is configured once per process)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREDESK_")}
    db = tmp_path / "demo.db"
    done = subprocess.run(
        [sys.executable, "-m", "wiredesk.app.cli", "demo", "--db", str(db)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # an interactive command logs only problems: no info lines around its table
    assert '"level": "info"' not in done.stderr and "[info" not in done.stderr
    n = len(load_corpus().articles)
    assert f"{n} articles ingested" in out
    assert f"articles stored: {n}" in out
    assert db.exists()


def test_help_lists_every_service_and_command(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for command in (
        "demo",
        "local",
        "run",
        "poll",
        "fetch",
        "extract",
        "enrich",
        "sink",
        "topics",
        "db",
        "devserver",
        "config",
    ):
        assert f"\n    {command} " in out


def test_config_hides_the_database_password(monkeypatch, capsys):
    monkeypatch.setenv("WIREDESK_DATABASE_URL", "postgresql+psycopg://u:s3cret@h:5432/d")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "u:***@h" in out


def test_local_keeps_its_dead_letters_and_a_resend_then_a_second_pass_stores_them(
    tmp_path, monkeypatch, capsys
):
    from devserver.faults import Faults

    corpus = load_corpus()
    faults = Faults(fail_paths={"/harbourherald/2026/*": 500})
    faulted = {a.id for a in corpus.articles if a.path.startswith("/harbourherald/2026/")}
    with NewsServer(corpus, faults=faults) as server:
        db_url = f"sqlite:///{tmp_path / 'news.db'}"
        for name, value in {
            "WIREDESK_DATABASE_URL": db_url,
            "WIREDESK_FEEDS": json.dumps(server.feed_urls()),
            "WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS": str(server.port),
            "WIREDESK_FETCH_HOST_DELAY_S": "0",
        }.items():
            monkeypatch.setenv(name, value)

        def stored() -> int:
            engine = create_engine(db_url)
            with engine.connect() as conn:
                count = conn.scalar(select(func.count()).select_from(ArticleRow))
            engine.dispose()
            return int(count or 0)

        assert main(["local"]) == 0
        assert f"dead letters: {len(faulted)}" in capsys.readouterr().out
        assert stored() == len(corpus.articles) - len(faulted)
        server.faults.fail_paths = {}  # the outlet is fixed; its links were marked seen
        monkeypatch.setenv("WIREDESK_BUS", "sql")  # where `local` keeps its letters
        assert main(["dlq", "resend", "--stage", "fetch_pages"]) == 0
        assert f"re-published {len(faulted)} dead letters" in capsys.readouterr().out
        assert main(["local"]) == 0  # drains what the resend put back on the bus
        assert stored() == len(corpus.articles)
