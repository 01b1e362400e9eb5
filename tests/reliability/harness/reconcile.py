"""Reconcile what was served with what was stored, and compare duplicate verdicts.

Article ids depend on the server's URL (port included), so every comparison goes
through the corpus id, found from the stored URL's path. Verdicts are compared exactly:
the duplicate groups (connected components of the "is a copy" graph), the canonical of
each group (its earliest copy) and the story groups must be the same in both runs,
whatever the arrival order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, func, select

from devserver.server import NewsServer, load_corpus
from wiredesk import db as database
from wiredesk.app.commands import run_embedded
from wiredesk.db.tables import ArticleRow
from wiredesk.settings import Settings


@dataclass
class StoredArticle:
    article_id: str
    corpus_id: str | None
    duplicate_of: str | None  # an article_id
    story_id: str | None
    content_hash: str
    updated_at: object = None


@dataclass
class Verdicts:
    """corpus id -> (canonical corpus id or None, story id) for every stored article."""

    duplicate_of: dict[str, str | None] = field(default_factory=dict)
    story: dict[str, str | None] = field(default_factory=dict)

    def dup_groups(self) -> set[frozenset[str]]:
        return _groups((cid, canon or cid) for cid, canon in self.duplicate_of.items())

    def story_groups(self) -> set[frozenset[str]]:
        return _groups((cid, story or cid) for cid, story in self.story.items())

    def flagged(self) -> set[str]:
        return {cid for cid, canon in self.duplicate_of.items() if canon}


def _groups(pairs: Iterable[tuple[str, str]]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for member, key in pairs:
        groups[key].add(member)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def corpus_paths(corpus_dir: Path) -> dict[str, str]:
    return {a.path: a.id for a in load_corpus(corpus_dir).articles}


def stored_articles(url: str, paths: dict[str, str]) -> list[StoredArticle]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    ArticleRow.article_id,
                    ArticleRow.url,
                    ArticleRow.duplicate_of,
                    ArticleRow.story_id,
                    ArticleRow.content_hash,
                    ArticleRow.updated_at,
                )
            ).all()
    finally:
        engine.dispose()
    return [
        StoredArticle(
            r.article_id,
            paths.get(urlsplit(r.url).path),
            r.duplicate_of,
            r.story_id,
            r.content_hash,
            r.updated_at,
        )
        for r in rows
    ]


def verdicts_of(articles: Iterable[StoredArticle]) -> Verdicts:
    articles = list(articles)
    by_id = {a.article_id: a.corpus_id for a in articles}
    verdicts = Verdicts()
    for a in articles:
        if a.corpus_id is None:
            continue
        verdicts.duplicate_of[a.corpus_id] = by_id.get(a.duplicate_of) if a.duplicate_of else None
        verdicts.story[a.corpus_id] = a.story_id
    return verdicts


def newest(records: Iterable[Any]) -> dict[str, Any]:
    """Per article id, its record (enriched article or verdict revision) of the newest
    revision: what the sink ends with, whatever order the records came in."""
    out: dict[str, Any] = {}
    for r in records:
        if r.article_id not in out or r.revision > out[r.article_id].revision:
            out[r.article_id] = r
    return out


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "rows": conn.scalar(select(func.count()).select_from(ArticleRow)) or 0,
                "distinct_ids": conn.scalar(
                    select(func.count(func.distinct(ArticleRow.article_id)))
                )
                or 0,
                "distinct_urls": conn.scalar(select(func.count(func.distinct(ArticleRow.url))))
                or 0,
            }
    finally:
        engine.dispose()


def rows_like(url: str, pattern: str) -> int:
    """Rows whose URL matches the SQL LIKE ``pattern``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(ArticleRow.url.like(pattern))
            return conn.scalar(query.select_from(ArticleRow)) or 0
    finally:
        engine.dispose()


def reference_run(corpus_dir: Path, workdir: Path) -> tuple[Verdicts, dict[str, int]]:
    """The fault-free verdicts: the same corpus through the embedded mode (memory bus)."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'reference.db'}"
    database.upgrade(url)
    engine = database.make_engine(url)
    corpus = load_corpus(corpus_dir)
    try:
        with NewsServer(corpus, feed_limit=len(corpus.articles)) as server:
            settings = Settings(
                feeds=server.feed_urls(),
                database_url=url,
                # our own server on 127.0.0.1: allow exactly its port, no politeness delay
                fetch_allow_loopback_ports=[server.port],
                fetch_host_delay_s=0.0,
            )
            counts = run_embedded(settings, engine)
    finally:
        engine.dispose()
    stored = stored_articles(url, corpus_paths(corpus_dir))
    return verdicts_of(stored), {**counts, "stored": len(stored)}


@dataclass
class Comparison:
    groups_expected: int
    groups_found: int
    groups_equal: bool  # the same duplicate groups, every article compared
    flagged_expected: int
    flagged_found: int
    canonical_same: int  # groups whose canonical copy is the same article in both runs
    duplicate_of_equal: bool  # every article's duplicate_of is the same (as corpus ids)
    stories_equal: bool  # the same story groups
    # up to three groups (sorted corpus ids) found in one run and not the other
    groups_only_expected: list[list[str]] = field(default_factory=list)
    groups_only_found: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def compare(reference: Verdicts, found: Verdicts) -> Comparison:
    ref_groups, got_groups = reference.dup_groups(), found.dup_groups()
    ref_canon = {g: _canonical(reference, g) for g in ref_groups}
    same = sum(1 for g in ref_groups & got_groups if _canonical(found, g) == ref_canon[g])
    return Comparison(
        groups_expected=len(ref_groups),
        groups_found=len(got_groups),
        groups_equal=ref_groups == got_groups,
        flagged_expected=len(reference.flagged()),
        flagged_found=len(found.flagged()),
        canonical_same=same,
        duplicate_of_equal=reference.duplicate_of == found.duplicate_of,
        stories_equal=reference.story_groups() == found.story_groups(),
        groups_only_expected=_some(ref_groups - got_groups),
        groups_only_found=_some(got_groups - ref_groups),
    )


def _some(groups: set[frozenset[str]], most: int = 3) -> list[list[str]]:
    return sorted(sorted(g) for g in groups)[:most]


def _canonical(verdicts: Verdicts, group: frozenset[str]) -> str | None:
    return next((cid for cid in sorted(group) if not verdicts.duplicate_of.get(cid)), None)
