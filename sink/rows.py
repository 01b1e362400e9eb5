"""From an EnrichedArticle to the rows of every sink table, sanitised for PostgreSQL.

PostgreSQL refuses NUL (``\\x00``) in text and JSON, and a lone UTF-16 surrogate (which
JSON escapes like ``\\ud800`` can produce) cannot be encoded to UTF-8 at all. NULs are
removed, surrogates become U+FFFD, and entity offsets into the text are shifted to match.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sink import metrics
from wiredesk.records import EnrichedArticle
from wiredesk.versions import extractor_rank

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` without NULs and with lone surrogates replaced; counts what it changed."""
    if "\x00" in value:
        metrics.SANITISED.labels("nul").inc()
        value = value.replace("\x00", "")
    if _SURROGATE.search(value):
        metrics.SANITISED.labels("surrogate").inc()
        value = _SURROGATE.sub("\ufffd", value)
    return value


def clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    return value


def host_of(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host.removeprefix("www.") or None


def stable_id(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _shift(text: str) -> tuple[str, list[int]]:
    """The text without NULs, and the sorted positions of the removed NULs."""
    if "\x00" not in text:
        return text, []
    removed = [i for i, ch in enumerate(text) if ch == "\x00"]
    return text.replace("\x00", ""), removed


@dataclass
class ArticleRows:
    article: dict[str, Any]
    source: dict[str, Any] | None
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    mentions: dict[str, dict[str, Any]] = field(default_factory=dict)


def rows_for(record: EnrichedArticle) -> ArticleRows:
    """Every row ``record`` stands for, keyed by the tables' stable ids."""
    _, removed = _shift(record.text)
    data = record.model_dump(exclude={"schema_name", "entities"}, mode="python")
    article = {k: clean(v) for k, v in data.items()}

    def moved(offset: int) -> int:
        return offset - bisect.bisect_left(removed, offset)

    entities: dict[str, dict[str, Any]] = {}
    mentions: dict[str, dict[str, Any]] = {}
    copies = []
    for e in sorted(record.entities, key=lambda e: (e.start, e.end, e.canonical_id)):
        start, end = moved(e.start), moved(e.end)
        surface = clean_text(e.surface)
        copy = {**e.model_dump(), "surface": surface, "start": start, "end": end}
        copies.append({k: clean(v) for k, v in copy.items()})
        cid = clean_text(e.canonical_id)  # a key too: NUL-free like every text value
        entities.setdefault(
            cid,
            {
                "canonical_id": cid,
                "name": clean_text(e.name),
                "label": clean_text(e.label),
            },
        )
        row = mentions.setdefault(
            cid,
            {
                "article_id": record.article_id,
                "canonical_id": cid,
                "surfaces": [],
                "offsets": [],
                "mentions": 0,
                "name": entities[cid]["name"],
                "label": entities[cid]["label"],
            },
        )
        if surface not in row["surfaces"]:
            row["surfaces"].append(surface)
        row["offsets"].append([start, end])
        row["mentions"] += 1
    article["entities"] = copies

    host = host_of(record.canonical_url or record.url)
    source = None
    if host is not None:
        source = {"source_id": stable_id(host), "host": host, "name": article["site_name"]}
    article["source_id"] = source["source_id"] if source else None
    article["record_hash"] = record_hash(article)
    # derived from extractor_version (already in the hash): the version order's key
    article["extractor_rank"] = extractor_rank(record.extractor_version)
    return ArticleRows(article, source, entities, mentions)


# The verdict is versioned by ``revision`` instead (sink.revisions): not in the hash.
VERDICT = frozenset({"duplicate_of", "similarity", "story_id", "revision"})


def record_hash(article: dict[str, Any]) -> str:
    """Fingerprint of what a row says besides its verdict (a replay gives the same)."""
    body = {k: v for k, v in article.items() if k != "record_hash" and k not in VERDICT}
    encoded = json.dumps(body, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()
