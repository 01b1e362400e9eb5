"""Rights and access end to end in embedded mode (issue 15, part 3): the local news server
serves the demo corpus with invented rights signals -- a response header, a robots.txt
AI-crawler rule, a tdmrep.json, page markup -- and every one lands on the article rows,
under each of the three rights policies, and in ``wiredesk stories`` / ``search``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from devserver.server import Faults, NewsServer, load_corpus
from tests.conftest import metric
from tests.rights_support import (
    CB_LOCKED,
    CB_META,
    CORPUS,
    EXPECTED,
    FAULTS,
    OPTED_OUT,
    check_flags,
)
from wiredesk import db
from wiredesk.app.cli import main
from wiredesk.app.commands import run_embedded
from wiredesk.db.tables import ArticleRow
from wiredesk.settings import load_settings


@pytest.fixture(scope="module")
def server():
    with NewsServer(load_corpus(), faults=Faults(**FAULTS)) as srv:
        yield srv


def _run(server: NewsServer, tmp_path, policy: str, **extra) -> tuple[str, dict, dict]:
    url = f"sqlite:///{tmp_path / f'{policy}.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    settings = load_settings(
        feeds=server.feed_urls(),
        database_url=url,
        fetch_allow_loopback_ports=[server.port],
        fetch_host_delay_s=0.0,
        rights_policy=policy,
        **extra,
    )
    try:
        counts = run_embedded(settings, engine)
        with engine.connect() as conn:
            rows = {r.url: r for r in conn.execute(select(ArticleRow)).all()}
    finally:
        engine.dispose()
    by_id = {a.id: rows.get(server.base_url + a.path) for a in CORPUS.articles}
    return url, counts, by_id


def test_store_records_every_signal_and_keeps_all_text(server, tmp_path, monkeypatch, capsys):
    stored_before = metric("wiredesk_rights_policy_total", action="store")
    url, counts, rows = _run(server, tmp_path, "store", ner_enabled=False)
    assert counts["dead_letters"] == 0
    assert all(row is not None for row in rows.values())
    check_flags(rows)
    assert all(row.text and not row.text_withheld for row in rows.values())
    assert metric("wiredesk_rights_policy_total", action="store") - stored_before == len(OPTED_OUT)
    # tdmrep.json was read once for the host, like robots.txt
    paths = [p for _, p, _ in server.requests_log]
    assert paths.count("/.well-known/tdmrep.json") == paths.count("/robots.txt") >= 1

    # the read side shows the flags
    monkeypatch.setenv("WIREDESK_DATABASE_URL", url)
    capsys.readouterr()
    gated = rows[CB_LOCKED]
    assert main(["stories", "--story", gated.story_id, "--json"]) == 0
    listed = {r["article_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[gated.article_id]["paywalled"] is True
    assert main(["stories", "--story", rows["hh-0001"].story_id]) == 0
    assert "noai" in capsys.readouterr().out
    assert main(["stories", "--json", "--limit", "100"]) == 0
    stories = json.loads(capsys.readouterr().out)
    assert sum(s["ai_opt_out"] for s in stories) == sum(r.ai_opt_out for r in rows.values())
    assert sum(s["paywalled"] for s in stories) == sum(bool(r.paywalled) for r in rows.values())
    word = CORPUS.articles[0].title.split()[0]
    assert main(["search", word, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(
        (h["paywalled"], h["tdm_reserved"], h["ai_opt_out"])
        == EXPECTED[next(i for i, r in rows.items() if r.article_id == h["article_id"])][:3]
        for h in hits
    )


def test_metadata_policy_stores_opted_out_articles_without_text(
    server, tmp_path, monkeypatch, capsys
):
    withheld_before = metric("wiredesk_rights_policy_total", action="metadata")
    url, counts, rows = _run(server, tmp_path, "metadata")  # NER on: it must skip them
    assert counts["dead_letters"] == 0
    assert all(row is not None for row in rows.values())
    check_flags(rows)
    for article_id, row in rows.items():
        if article_id in OPTED_OUT:
            assert row.text == "" and row.text_withheld and row.entities == []
            assert row.title and row.published_at  # the metadata is kept
            assert row.duplicate_of is None  # no text, no copy verdict
        else:
            article = next(a for a in CORPUS.articles if a.id == article_id)
            assert article.paragraphs[0][:60] in row.text and not row.text_withheld
    assert any(rows[i].entities for i in rows if i not in OPTED_OUT)  # NER ran on the rest
    assert metric("wiredesk_rights_policy_total", action="metadata") - withheld_before == len(
        OPTED_OUT
    )
    monkeypatch.setenv("WIREDESK_DATABASE_URL", url)
    capsys.readouterr()
    assert main(["search", rows[CB_META].title, "--json"]) == 0  # found by its title
    [hit] = [
        h
        for h in json.loads(capsys.readouterr().out)
        if h["article_id"] == rows[CB_META].article_id
    ]
    assert hit["text_withheld"] and hit["ai_opt_out"] and hit["snippet"] == "(text withheld)"


def test_skip_policy_drops_opted_out_articles_without_dead_letters(server, tmp_path):
    skipped_before = metric("wiredesk_rights_policy_total", action="skip")
    _, counts, rows = _run(server, tmp_path, "skip", ner_enabled=False)
    assert counts["dead_letters"] == 0  # a policy decision, not an error
    assert {i for i, row in rows.items() if row is None} == OPTED_OUT
    check_flags(rows)
    assert metric("wiredesk_rights_policy_total", action="skip") - skipped_before == len(OPTED_OUT)
