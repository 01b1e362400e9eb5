"""Reconcile what was served with what was stored, and compare duplicate verdicts.

Article ids depend on the server's URL (port included), so every comparison goes
through the corpus id, found from the stored URL's path. Verdicts are compared as
*groupings*: which articles were flagged as copies of one another. Which member is
the canonical copy is reported separately (it may depend on arrival order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
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


def order_dependent(db_url: str, paths: dict[str, str]) -> set[str]:
    """Corpus ids whose grouping may depend on arrival order.

    Similarity is not transitive: with A ~ B ~ C but A !~ C, the first of them to arrive
    decides whether B joins A or C (a streaming decision is never revised). These are
    the articles of a connected component of the similarity graph (the dedup stage's own
    check over band-sharing pairs of ``db_url``'s dedup state) that is not a clique.
    """
    from transform.dedup import DedupIndex, Fingerprint
    from wiredesk.db.dedup_tables import DedupBandRow, DedupEntryRow

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            entries = {r.seq: r for r in conn.execute(select(DedupEntryRow.__table__))}
            by_band: dict[int, list[int]] = defaultdict(list)
            for band, seq in conn.execute(select(DedupBandRow.band_key, DedupBandRow.entry_seq)):
                by_band[band].append(seq)
    finally:
        engine.dispose()
    check = DedupIndex(engine).similarity
    edges: dict[int, set[int]] = defaultdict(set)
    pairs = {(a, b) for seqs in by_band.values() for a in seqs for b in seqs if a < b}
    for a, b in pairs:
        x, y = entries[a], entries[b]
        if check(Fingerprint("", x.shingle_count, x.signature, x.lead_signature, []), y):
            edges[a].add(b)
            edges[b].add(a)
    ids = {seq: e.article_id for seq, e in entries.items()}
    stored = {a.article_id: a.corpus_id for a in stored_articles(db_url, paths)}
    unsure: set[str] = set()
    seen: set[int] = set()
    for start in list(edges):
        if start in seen:
            continue
        component, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node not in component:
                component.add(node)
                todo.extend(edges[node] - component)
        seen |= component
        if any(len(edges[n]) < len(component) - 1 for n in component):  # not a clique
            unsure |= {stored[ids[n]] for n in component if stored.get(ids[n])}
    return unsure


@dataclass
class Comparison:
    groups_expected: int
    groups_found: int
    groups_equal: bool  # on the articles whose grouping does not depend on order
    flagged_expected: int
    flagged_found: int
    canonical_same: int  # groups whose canonical copy is the same article in both runs
    order_dependent: int = 0  # articles left out of groups_equal (see order_dependent)
    order_dependent_differ: int = 0  # of those, grouped differently in the two runs

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def compare(reference: Verdicts, found: Verdicts, unsure: set[str] = frozenset()) -> Comparison:
    ref_groups, got_groups = reference.dup_groups(), found.dup_groups()
    ref_canon = {g: _canonical(reference, g) for g in ref_groups}
    same = sum(1 for g in ref_groups & got_groups if _canonical(found, g) == ref_canon[g])

    def sure(groups: set[frozenset[str]]) -> set[frozenset[str]]:
        return {g for g in groups if not g & unsure}

    def group_of(groups: set[frozenset[str]], cid: str) -> frozenset[str]:
        return next((g for g in groups if cid in g), frozenset({cid}))

    differ = sum(1 for c in unsure if group_of(ref_groups, c) != group_of(got_groups, c))
    return Comparison(
        groups_expected=len(ref_groups),
        groups_found=len(got_groups),
        groups_equal=sure(ref_groups) == sure(got_groups),
        flagged_expected=len(reference.flagged() - unsure),
        flagged_found=len(found.flagged() - unsure),
        canonical_same=same,
        order_dependent=len(unsure),
        order_dependent_differ=differ,
    )


def _canonical(verdicts: Verdicts, group: frozenset[str]) -> str | None:
    return next((cid for cid in sorted(group) if not verdicts.duplicate_of.get(cid)), None)
