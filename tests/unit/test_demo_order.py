"""The embedded demo pipeline gives the same verdicts whatever order pages are fetched in,
and the earliest copy of each wire group is its original."""

from __future__ import annotations

import random
from dataclasses import replace
from io import StringIO
from urllib.parse import urlsplit

from rich.console import Console
from sqlalchemy import select

from devserver.server import NewsServer, load_corpus
from wiredesk import db as database
from wiredesk.app.commands import print_summary, run_embedded
from wiredesk.db.tables import ArticleRow
from wiredesk.settings import load_settings


def _run(tmp_path, seed: int) -> tuple[dict[str, tuple], str]:
    corpus = load_corpus()
    rng = random.Random(seed)
    sites, articles = list(corpus.sites), list(corpus.articles)
    rng.shuffle(sites)
    rng.shuffle(articles)
    url = f"sqlite:///{tmp_path / f'demo{seed}.db'}"
    database.upgrade(url)
    engine = database.make_engine(url)
    with NewsServer(replace(corpus, sites=sites, articles=articles)) as server:
        settings = load_settings(
            feeds=server.feed_urls(),
            database_url=url,
            fetch_allow_loopback_ports=[server.port],
            fetch_host_delay_s=0.0,
        )
        counts = run_embedded(settings, engine)
    with engine.connect() as conn:
        rows = conn.execute(select(ArticleRow)).all()
    console = Console(file=StringIO(), width=200)
    print_summary(console, engine, counts)
    engine.dispose()
    path = {r.article_id: urlsplit(r.url).path for r in rows}
    story_path = {}  # a story named by the path of its earliest article
    for r in sorted(rows, key=lambda r: (r.published_at, path[r.article_id])):
        story_path.setdefault(r.story_id, path[r.article_id])
    verdicts = {
        path[r.article_id]: (path.get(r.duplicate_of), story_path[r.story_id]) for r in rows
    }
    return verdicts, console.file.getvalue()


def test_three_shuffled_fetch_orders_store_and_print_the_same(tmp_path):
    runs = [_run(tmp_path, seed) for seed in (1, 2, 3)]
    (first, table), *others = runs
    assert len(first) == len(load_corpus().articles)
    for verdicts, printed in others:
        assert verdicts == first
        assert printed == table
    ids = {a.path: a.id for a in load_corpus().articles}
    verdicts = {ids[p]: (ids.get(dup), ids[story]) for p, (dup, story) in first.items()}
    groups: dict[str, list] = {}
    for a in load_corpus().articles:
        groups.setdefault(a.wire_of or a.id, []).append(a)
    wire_groups = [g for g in groups.values() if len(g) > 1]
    assert len(wire_groups) == 3
    for group in wire_groups:
        earliest = min(group, key=lambda a: (a.published, a.id))
        assert verdicts[earliest.id][0] is None, f"{earliest.id}: the earliest is the original"
        for a in group:
            if a is not earliest:
                assert verdicts[a.id][0] == earliest.id
                assert verdicts[a.id][1] == verdicts[earliest.id][1]  # and in its story
