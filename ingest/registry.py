"""The feed registry: the ``feeds`` table, filled from the config, OPML and the CLI.

Sources of feeds, all ending up as rows of ``feeds`` (the poller reads only the table):

* settings ``feeds`` (URLs) and ``feeds_file``: ``*.opml``/``*.xml`` is OPML, ``*.toml``
  has ``[[feeds]]`` tables (``url``, ``interval_s``, ``enabled``, ``tags``, ``title``),
  anything else has one feed per line: ``URL [interval=600] [tags=world,europe]
  [disabled]`` (``#`` starts a comment). Config feeds are upserted at each poller start:
  the config wins for the fields it sets, feeds only in the database stay;
* ``wiredesk feeds add|remove|enable|disable|import|export|list``.

OPML is read with the same DTD/entity refusal as feeds (billion laughs works on OPML too).
A bad entry (a ``file://`` or other non-http(s) URL, an unreadable URL, a bad interval)
does not reject the whole document: it is skipped, and reported as ``(url, reason)`` in
the ``skipped`` list the caller passes.
Tags come from the ``category`` attribute and from enclosing folder outlines, as feed
readers export them; ``wiredeskInterval``/``wiredeskEnabled`` carry our own settings.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

import structlog
from sqlalchemy import Engine, delete, select, update

from ingest.feedparse import check_declarations
from ingest.normalise import clean_title, clean_url
from ingest.urls import canonical_url
from wiredesk.db import insert_for
from wiredesk.db.feed_tables import FeedRow
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)


class RegistryError(ValueError):
    """A feeds file or OPML document we cannot read; the message says where and why."""


def feed_id(url: str) -> str:
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FeedSpec:
    url: str
    interval_s: int | None = None
    enabled: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    title: str | None = None

    def __post_init__(self) -> None:
        problem = spec_problem(self.url, self.interval_s)
        if problem:
            raise RegistryError(f"{problem}: {self.url[:200]!r}")


def spec_problem(url: str, interval_s: int | None) -> str | None:
    """Why a feed entry cannot be registered, or None."""
    if not url.lower().startswith(("http://", "https://")):
        return "not an http(s) feed URL"
    if interval_s is not None and interval_s < 1:
        return "interval must be at least 1 s"
    return None


# -- files --------------------------------------------------------------------------
Skipped = list[tuple[str, str]]


def read_feeds_file(path: Path, skipped: Skipped | None = None) -> list[FeedSpec]:
    """The feeds of a file; an OPML file's bad entries go to ``skipped`` (url, reason)."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in (".opml", ".xml"):
        return read_opml(data, skipped)
    if suffix == ".toml":
        try:
            table = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RegistryError(f"{path}: {exc}") from exc
        return [_spec_from_mapping(item, path) for item in table.get("feeds", [])]
    return [
        spec
        for n, line in enumerate(data.decode("utf-8").splitlines(), 1)
        if (spec := _spec_from_line(line, path, n)) is not None
    ]


def _spec_from_mapping(item: Any, where: Path) -> FeedSpec:
    if not isinstance(item, dict) or "url" not in item:
        raise RegistryError(f"{where}: every [[feeds]] entry needs a url")
    tags = item.get("tags", [])
    return FeedSpec(
        url=str(item["url"]),
        interval_s=int(item["interval_s"]) if item.get("interval_s") else None,
        enabled=bool(item.get("enabled", True)),
        tags=tuple(str(t) for t in tags),
        title=item.get("title"),
    )


def _spec_from_line(line: str, where: Path, number: int) -> FeedSpec | None:
    line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
    if not line:
        return None
    url, *options = line.split()
    values: dict[str, Any] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key == "interval" and value.isdigit():
            values["interval_s"] = int(value)
        elif key == "tags":
            values["tags"] = tuple(t for t in value.split(",") if t)
        elif key == "disabled" and not value:
            values["enabled"] = False
        else:
            raise RegistryError(f"{where}:{number}: unknown option {option!r}")
    return FeedSpec(url=url, **values)


def read_opml(data: bytes, skipped: Skipped | None = None) -> list[FeedSpec]:
    """The feeds of an OPML document; bad entries are left out and listed in ``skipped``."""
    try:
        check_declarations(data)
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, ValueError, BadInput) as exc:
        raise RegistryError(f"not a readable OPML document: {exc}") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise RegistryError("not an OPML document (no <opml><body>)")
    specs: list[FeedSpec] = []
    _walk(body, (), specs, skipped if skipped is not None else [])
    return specs


def _walk(
    node: ElementTree.Element, folders: tuple[str, ...], out: list[FeedSpec], skipped: Skipped
) -> None:
    for outline in node.findall("outline"):
        raw = outline.get("xmlUrl")
        if raw is None:
            folder = clean_title(outline.get("title") or outline.get("text"))
            _walk(outline, folders + ((folder,) if folder else ()), out, skipped)
            continue
        url = clean_url(raw)
        if url is None:
            skipped.append((raw[:300], "URL too long or unreadable"))
            continue
        categories = [c.strip().strip("/") for c in (outline.get("category") or "").split(",")]
        interval = outline.get("wiredeskInterval", "")
        interval_s = int(interval) if interval.isascii() and interval.isdigit() else None
        problem = spec_problem(url, interval_s)
        if problem:
            skipped.append((url[:300], problem))
            continue
        out.append(
            FeedSpec(
                url=url,
                interval_s=interval_s,
                enabled=outline.get("wiredeskEnabled", "true").lower() != "false",
                tags=tuple(dict.fromkeys([*folders, *(c for c in categories if c)])),
                title=clean_title(outline.get("title") or _unless(outline.get("text"), url)),
            )
        )


def _unless(text: str | None, url: str) -> str | None:
    return None if text == url else text


def write_opml(specs: Iterable[FeedSpec], title: str = "wiredesk feeds") -> bytes:
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<opml version="2.0">']
    lines.append(f"<head><title>{_escape(title)}</title></head>")
    lines.append("<body>")
    for s in specs:
        attrs = {"type": "rss", "text": s.title or s.url, "xmlUrl": s.url}
        if s.title:
            attrs["title"] = s.title
        if s.tags:
            attrs["category"] = ",".join(s.tags)
        if s.interval_s:
            attrs["wiredeskInterval"] = str(s.interval_s)
        if not s.enabled:
            attrs["wiredeskEnabled"] = "false"
        rendered = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
        lines.append(f"<outline {rendered}/>")
    lines += ["</body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def _escape(text: str) -> str:
    return quoteattr(text)[1:-1]


# -- the table ----------------------------------------------------------------------
def upsert(engine: Engine, specs: Sequence[FeedSpec], added_from: str) -> int:
    """Add or update feeds; returns how many were given. Validators and health are kept."""
    with engine.begin() as conn:
        for s in specs:
            values = {
                "url": s.url,
                "enabled": s.enabled,
                "interval_s": s.interval_s,
                "tags": list(s.tags),
            }
            if s.title:
                values["title"] = s.title
            stmt = insert_for(engine, FeedRow.__table__).values(
                feed_id=feed_id(s.url), added_from=added_from, consecutive_failures=0, **values
            )
            conn.execute(stmt.on_conflict_do_update(index_elements=["feed_id"], set_=values))
    return len(specs)


def remove(engine: Engine, url: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(delete(FeedRow).where(FeedRow.feed_id == feed_id(url)))
    return bool(result.rowcount)


def set_enabled(engine: Engine, url: str, enabled: bool) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(FeedRow).where(FeedRow.feed_id == feed_id(url)).values(enabled=enabled)
        )
    return bool(result.rowcount)


def all_feeds(engine: Engine) -> list[Any]:
    """Every registered feed (rows with the ``feeds`` columns), by URL."""
    with engine.connect() as conn:
        return list(conn.execute(select(FeedRow.__table__).order_by(FeedRow.url)))


def specs_of(rows: Iterable[Any]) -> list[FeedSpec]:
    return [
        FeedSpec(
            url=r.url,
            interval_s=r.interval_s,
            enabled=bool(r.enabled),
            tags=tuple(r.tags or ()),
            title=r.title,
        )
        for r in rows
    ]


def config_feeds(urls: Sequence[str], feeds_file: Path | None) -> list[FeedSpec]:
    """The feeds named by the settings ``feeds`` and ``feeds_file``."""
    specs = [FeedSpec(url=u) for u in urls]
    if feeds_file is not None:
        skipped: Skipped = []
        specs += read_feeds_file(feeds_file, skipped)
        for url, reason in skipped:
            log.warning("feed_entry_skipped", file=str(feeds_file), url=url, reason=reason)
    return specs
