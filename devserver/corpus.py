"""The news corpus format served by :mod:`devserver.server`.

``sites.json`` (list of outlets) + ``articles.jsonl`` (one article per line); see
``wiredesk/demo/corpus/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

FEED_FORMATS = ("rss", "atom", "json", "rdf", "rss091")


@dataclass(frozen=True)
class Site:
    """One outlet."""

    site: str
    name: str
    feed_format: str = "rss"  # rss (2.0), atom, json (JSON Feed 1.1), rdf (RSS 1.0), rss091
    language: str = "en"

    def __post_init__(self) -> None:
        if self.feed_format not in FEED_FORMATS:
            raise ValueError(f"{self.site}: feed_format must be one of {FEED_FORMATS}")


@dataclass(frozen=True)
class CorpusArticle:
    """One article; ``wire_of`` names the wire original this copy republishes."""

    id: str
    site: str
    slug: str
    title: str
    author: str
    published: str  # ISO 8601 UTC, e.g. "2026-11-20T08:15:00Z"
    paragraphs: tuple[str, ...]
    wire_of: str | None = None
    story: str = ""
    tags: tuple[str, ...] = ()
    modified: str | None = None  # ISO 8601 UTC of its last update (NewsServer.revise)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CorpusArticle:
        d = dict(d)
        d["paragraphs"], d["tags"] = tuple(d["paragraphs"]), tuple(d.get("tags", ()))
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["paragraphs"], d["tags"] = list(self.paragraphs), list(self.tags)
        return d

    @cached_property
    def published_at(self) -> datetime:
        return datetime.fromisoformat(self.published.replace("Z", "+00:00")).astimezone(UTC)

    @cached_property
    def modified_at(self) -> datetime:
        """When it was last changed: ``modified``, else its publication."""
        if self.modified is None:
            return self.published_at
        return datetime.fromisoformat(self.modified.replace("Z", "+00:00")).astimezone(UTC)

    @cached_property
    def path(self) -> str:
        """``/<site>/<yyyy>/<mm>/<dd>/<slug>.html``."""
        return f"/{self.site}/{self.published_at:%Y/%m/%d}/{self.slug}.html"


@dataclass
class Corpus:
    sites: list[Site]
    articles: list[CorpusArticle]


class _Readable(Protocol):
    def joinpath(self, name: str) -> Any: ...


def _bundled_corpus() -> _Readable:
    try:
        from importlib.resources import files

        res = files("wiredesk.demo").joinpath("corpus")
        if res.is_dir():
            return res
    except Exception:  # not installed as a package: fall back to the source tree
        pass
    return Path(__file__).resolve().parents[1] / "wiredesk" / "demo" / "corpus"


def load_corpus(path: Path | str | None = None) -> Corpus:
    """Read ``sites.json`` + ``articles.jsonl`` from *path* (None: the bundled demo corpus)."""
    root: _Readable = _bundled_corpus() if path is None else Path(path)
    sites = [Site(**s) for s in json.loads(root.joinpath("sites.json").read_text("utf-8"))]
    lines = root.joinpath("articles.jsonl").read_text("utf-8").splitlines()
    articles = [CorpusArticle.from_dict(json.loads(line)) for line in lines if line.strip()]
    known, ids = {s.site for s in sites}, set()
    for a in articles:
        if a.site not in known or a.id in ids:
            raise ValueError(f"{a.id}: unknown site {a.site!r} or duplicate id")
        ids.add(a.id)
    return Corpus(sites, articles)


def write_corpus(
    directory: Path | str,
    sites: Iterable[Site | Mapping[str, Any]],
    articles: Iterable[CorpusArticle | Mapping[str, Any]],
) -> Path:
    """Write a corpus in the bundled format (dicts or dataclasses); returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    site_list = [s if isinstance(s, Site) else Site(**s) for s in sites]
    (out / "sites.json").write_text(
        json.dumps([asdict(s) for s in site_list], indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
    with (out / "articles.jsonl").open("w", encoding="utf-8") as f:
        for a in articles:
            art = a if isinstance(a, CorpusArticle) else CorpusArticle.from_dict(a)
            f.write(json.dumps(art.to_dict(), ensure_ascii=False) + "\n")
    return out
