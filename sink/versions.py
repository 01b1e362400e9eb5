"""Article versions: a new ``article_versions`` row when the title or text changed.

The sink writes an article row when its record is newer than the row (``sink.fence``'s
total order); this module numbers the versions among those writes. A record makes a new
version when its title or its text hash (``content_hash``, of the normalised text)
differs from the version before it -- the stored row's, or an earlier record of the same
batch -- and it is not older than that version. The article row carries the latest
``version``; ``first_published_at`` is the first publication date ever stored.

Idempotent: the number comes from the stored row (``articles.version``) in the sink's
own transaction, a replay or redelivery of a version already stored is older than or
equal to the row (no new version), and rows are inserted with ON CONFLICT DO NOTHING on
``(article_id, version)``, so a replay after the article rows were deleted rewrites the
same numbers. Each version keeps a short diff summary (words added and removed, counted
as multisets of lower-cased words: linear, no alignment; whether the title changed) and
the correction notice found in it (:func:`wiredesk.corrections.find_notice`).

Versions are per fetch: a record from the same fetch as the current version (an extract
or enrich replay with another extractor) may rewrite the row but adds no version.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from sink import metrics
from wiredesk.corrections import find_notice
from wiredesk.db import insert_for
from wiredesk.db.tables import ArticleRow, ArticleVersionRow

_WORD = re.compile(r"\w+")


@dataclass
class _Version:
    number: int
    title: str
    content_hash: str
    text: str | None  # None: stored, not loaded yet
    article: Any  # the stored row, or the record's row dict


def _words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def diff_summary(old_title: str, old_text: str, title: str, text: str) -> dict[str, Any]:
    """Words added and removed (multiset difference) and whether the title changed."""
    before, after = _words(old_text), _words(text)
    return {
        "words_added": sum((after - before).values()),
        "words_removed": sum((before - after).values()),
        "title_changed": old_title != title,
        "chars_before": len(old_text),
        "chars_after": len(text),
    }


def assign(
    conn: Connection,
    history: dict[str, list[dict[str, Any]]],
    final: dict[str, dict[str, Any]],
    old: dict[str, Any],
    older: Callable[[dict[str, Any], Any], bool],
    hosts: dict[str, str | None],
) -> tuple[int, list[tuple[str, bool]]]:
    """Number the versions of the articles in ``final`` (the rows about to be written),
    insert their ``article_versions`` rows and set ``version``/``first_published_at`` on
    the rows. ``history``: every record of the batch per article, in arrival order;
    ``old``: the stored rows; ``older(record, stored)``: the sink's version order.
    Returns the versions inserted, and (source host, has a correction notice) per new
    version of a stored article, counted once the transaction committed (:func:`count`)."""
    texts = _stored_texts(conn, history, old)
    rows: list[dict[str, Any]] = []
    updates: list[tuple[str, bool]] = []
    for article_id in sorted(final):
        stored = old.get(article_id)
        prev = None
        if stored is not None:
            prev = _Version(stored.version, stored.title, stored.content_hash, None, stored)
        first = stored.first_published_at if stored is not None else None
        for item in history.get(article_id, [final[article_id]]):
            first = first or item.get("published_at")
            if stored is not None and older(item, stored):
                continue  # stale: the row holds a newer version (later items: batch order)
            if prev is not None and (_same(item, prev) or _same_fetch(item, prev)):
                continue
            number = 1 if prev is None else prev.number + 1
            before = None if prev is None else (prev.title, _text(prev, texts))
            rows.append(_row(item, number, before))
            if prev is not None:
                updates.append((hosts.get(article_id) or "unknown", rows[-1]["correction"]))
            prev = _Version(number, item["title"], item["content_hash"], item["text"], item)
        final[article_id]["version"] = prev.number if prev is not None else 1
        final[article_id]["first_published_at"] = first
    if rows:
        stmt = insert_for(conn.engine, ArticleVersionRow.__table__).on_conflict_do_nothing()
        conn.execute(stmt, rows)
    return len(rows), updates


def count(updates: list[tuple[str, bool]]) -> None:
    """Count new versions (per source) and their correction notices."""
    for host, correction in updates:
        metrics.UPDATES.labels(host).inc()
        if correction:
            metrics.CORRECTIONS.inc()


def _same_fetch(item: dict[str, Any], prev: _Version) -> bool:
    """A re-extraction of the fetch the version came from (a replay with another
    extractor): it updates the row, not the history of the page."""
    was = prev.article.get("fetched_at") if isinstance(prev.article, dict) else None
    if was is None and not isinstance(prev.article, dict):
        was = prev.article.fetched_at
    now = item.get("fetched_at")
    return now is not None and was is not None and _utc(now) == _utc(was)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _same(item: dict[str, Any], prev: _Version) -> bool:
    return (item["title"], item["content_hash"]) == (prev.title, prev.content_hash)


def _text(version: _Version, texts: dict[str, str]) -> str:
    if version.text is not None:
        return version.text
    return texts.get(version.article.article_id, "")


def _stored_texts(
    conn: Connection, history: dict[str, list[dict[str, Any]]], old: dict[str, Any]
) -> dict[str, str]:
    """The stored text of the articles whose batch brings a different title or text."""
    wanted = sorted(
        i
        for i, items in history.items()
        if i in old
        and any(
            (a["title"], a["content_hash"]) != (old[i].title, old[i].content_hash) for a in items
        )
    )
    if not wanted:
        return {}
    found = conn.execute(
        select(ArticleRow.article_id, ArticleRow.text).where(ArticleRow.article_id.in_(wanted))
    )
    return {r.article_id: r.text for r in found}


def _row(article: dict[str, Any], number: int, before: tuple[str, str] | None) -> dict[str, Any]:
    notice = find_notice(article["title"], article["text"])
    diff = None
    if before is not None:
        diff = diff_summary(before[0], before[1], article["title"], article["text"])
    return {
        "article_id": article["article_id"],
        "version": number,
        "title": article["title"],
        "text_hash": article["content_hash"],
        "text_chars": len(article["text"]),
        "fetched_at": article.get("fetched_at"),
        "modified_at": article.get("modified_at"),
        "diff": diff,
        "correction": notice is not None,
        "correction_notice": notice,
    }
