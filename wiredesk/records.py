"""Versioned record schemas: the payloads that travel on the topics.

Every record is JSON with a ``schema`` field such as ``"news.articles/2"``. Decoding
checks it, so a message from another producer, an older version we no longer read,
or plain garbage is rejected with a clear reason (and routed to the DLQ by the runner)
instead of half-parsed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from wiredesk.hostroute import link_key


def utcnow() -> datetime:
    return datetime.now(UTC)


def url_id(canonical_url: str) -> str:
    """Stable article id: the first 32 hex digits of SHA-256 of the canonical URL.

    A trailing slash on a path other than ``/`` is ignored (``/a/story/`` and ``/a/story``
    are one article, catalogue K14). The URL itself keeps its slash, since that is the
    spelling the server linked to and is fetched as is.
    """
    scheme, sep, rest = canonical_url.partition("://")
    path_end = len(rest.split("?", 1)[0])
    head, tail = rest[:path_end], rest[path_end:]
    if head.endswith("/") and "/" in head[:-1]:  # not the root path
        rest = head.rstrip("/") + tail
    return hashlib.sha256(f"{scheme}{sep}{rest}".encode()).hexdigest()[:32]


class DecodeError(ValueError):
    """A message that is not a valid record of the expected schema."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Record(BaseModel):
    """Base of every topic payload: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    SCHEMA: ClassVar[str]
    OLDER_SCHEMAS: ClassVar[tuple[str, ...]] = ()  # still decoded (upgraded by a validator)
    # Other record types that travel on the same topic, decoded as themselves.
    ALTERNATIVES: ClassVar[tuple[type[Record], ...]] = ()
    schema_name: str = Field(alias="schema", default="")

    def model_post_init(self, context: Any) -> None:
        if not self.schema_name or self.schema_name in self.OLDER_SCHEMAS:
            object.__setattr__(self, "schema_name", self.SCHEMA)  # read old, write current

    def key(self) -> str:
        """The partitioning key: records sharing it stay in order on one partition."""
        raise NotImplementedError

    def encode(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode("utf-8")

    @classmethod
    def decode(cls, value: bytes | None) -> Record:
        """Parse ``value`` as this record type or raise :class:`DecodeError`."""
        if value is None:
            raise DecodeError("empty", "message has no value (tombstone)")
        try:
            data = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError("not_json", str(exc)[:200]) from exc
        if not isinstance(data, dict):
            raise DecodeError("not_object", f"expected a JSON object, got {type(data).__name__}")
        if _SURROGATE_HINT.search(value):  # rare: only then walk the strings
            data = _without_lone_surrogates(data)
        schema = data.get("schema")
        target = next((alt for alt in cls.ALTERNATIVES if schema == alt.SCHEMA), cls)
        if target is cls and schema != cls.SCHEMA and schema not in cls.OLDER_SCHEMAS:
            raise DecodeError("wrong_schema", f"expected {cls.SCHEMA!r}, got {schema!r}")
        try:
            return target.model_validate(data)
        except ValidationError as exc:
            raise DecodeError("invalid", _summarise(exc)) from exc


# A lone surrogate ("\ud800" escaped, or its raw bytes, which json accepts) cannot be
# encoded as UTF-8, so it would crash whatever comes next (spaCy, lxml, psycopg) on one
# record: every decoded string has them replaced by U+FFFD (issue 13, found by fuzzing).
_SURROGATE_HINT = re.compile(rb"\\u[dD][89abAB]|\xed[\xa0-\xbf]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _summarise(exc: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]]
    return "; ".join(parts)


class Link(Record):
    """news.links: a URL discovered in a feed, keyed by its registrable host
    (:mod:`wiredesk.hostroute`), so one fetcher at a time requests a host.

    /2 adds the re-fetch of a page already published (``ingest.recheck``): ``recheck``
    says why (``schedule``: the n-th scheduled re-check, ``feed``: its feed entry
    changed), with the validators and body hash of the last fetch for a conditional GET.
    """

    SCHEMA: ClassVar[str] = "news.links/2"
    OLDER_SCHEMAS: ClassVar[tuple[str, ...]] = ("news.links/1",)
    url: str
    article_id: str
    feed_id: str | None = None
    feed_url: str | None = None
    entry_title: str | None = None
    entry_published: datetime | None = None
    discovered_at: datetime = Field(default_factory=utcnow)
    recheck: str | None = Field(None, description="None (first fetch), schedule or feed")
    recheck_round: int = Field(0, description="which scheduled re-check (1, 2, ...)")
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = Field(None, description="SHA-256 of the last body fetched")
    # set by the poller for a host split into sub-keys; not part of the message
    _route: str | None = PrivateAttr(default=None)

    def key(self) -> str:
        return self._route or link_key(self.url)

    def routed(self, shards: Mapping[str, int]) -> Link:
        """This link, keyed ``host#i`` if its host is split in ``shards`` (in place)."""
        self._route = link_key(self.url, shards)
        return self


class RawPage(Record):
    """news.raw: a fetched page, kept so extraction can be re-run on replay.

    /2 carries the HTML gzip-compressed and base64-encoded in ``html_gzip`` so a page of
    up to several MB fits the broker's 1 MB message limit (news pages compress 5-10x).
    ``RawPage(html=...)`` compresses; ``page.html`` decompresses. Messages of /1 (plain
    ``html``) are still read and upgraded in memory. /3 adds ``rights_evidence``.
    """

    SCHEMA: ClassVar[str] = "news.raw/3"
    OLDER_SCHEMAS: ClassVar[tuple[str, ...]] = ("news.raw/1", "news.raw/2")
    MAX_HTML_BYTES: ClassVar[int] = 20_000_000
    article_id: str
    url: str
    final_url: str
    status: int
    content_type: str | None = None
    html_gzip: str = Field(description="gzip of the UTF-8 HTML, base64")
    fetched_at: datetime = Field(default_factory=utcnow)
    feed_id: str | None = None
    entry_title: str | None = None
    entry_published: datetime | None = None
    discovered_at: datetime | None = None
    source: str | None = Field(None, description="how it was obtained: fetch, warc")
    rights_evidence: list[str] | None = Field(
        None,
        description="rights evidence of the response headers, robots.txt and tdmrep.json "
        "(ingest.rights); None: not checked (WARC backfill, older records)",
    )

    @model_validator(mode="before")
    @classmethod
    def _compress_html(cls, data: Any) -> Any:
        if isinstance(data, dict) and "html" in data:
            data = dict(data)
            html = data.pop("html")
            data["html_gzip"] = base64.b64encode(
                gzip.compress(html.encode("utf-8", "surrogatepass"), 6, mtime=0)
            ).decode("ascii")
            if data.get("schema") in cls.OLDER_SCHEMAS:
                data["schema"] = cls.SCHEMA
        return data

    @property
    def html(self) -> str:
        """The HTML; DecodeError("html_too_large") past MAX_HTML_BYTES (no bomb inflates)."""
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(base64.b64decode(self.html_gzip), self.MAX_HTML_BYTES + 1)
        except (ValueError, zlib.error) as exc:
            raise DecodeError("html_corrupt", str(exc)) from exc
        if len(raw) > self.MAX_HTML_BYTES:
            raise DecodeError("html_too_large", f"HTML over {self.MAX_HTML_BYTES} bytes")
        return raw.decode("utf-8", "replace")

    def key(self) -> str:
        return self.article_id


class Article(Record):
    """news.articles: text and metadata extracted from one page.

    /3 adds the rights flags (None: unknown), their evidence and ``text_withheld`` (the
    rights policy ``metadata`` kept the text out: ``text`` is empty). /4 adds
    ``modified_at``, the page's own date of modification (its metadata)."""

    SCHEMA: ClassVar[str] = "news.articles/4"
    # /1: no ``truncated``; /2: no rights fields; /3: no modified_at
    OLDER_SCHEMAS: ClassVar[tuple[str, ...]] = (
        "news.articles/1",
        "news.articles/2",
        "news.articles/3",
    )
    article_id: str
    url: str
    canonical_url: str | None = None
    title: str
    text: str
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    site_name: str | None = None
    feed_id: str | None = None
    discovered_at: datetime | None = None
    fetched_at: datetime | None = None
    extractor_version: str
    content_hash: str
    truncated: bool = Field(False, description="text was cut at ingest.normalise's cap")
    paywalled: bool | None = None
    tdm_reserved: bool | None = None
    ai_opt_out: bool | None = None
    rights_evidence: list[str] = Field(default_factory=list)
    text_withheld: bool = False
    modified_at: datetime | None = None

    def key(self) -> str:
        return self.article_id


class Entity(BaseModel):
    """One entity mention: which canonical entity, its label, and where it stands.

    ``canonical_id`` is shared by every spelling of the same entity (Zelensky, Zelenskyy
    and Zelenskiy are one id); ``name`` is its preferred spelling; ``surface`` is the text
    exactly as it stands in the article at ``text[start:end]``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    canonical_id: str
    name: str
    label: str
    surface: str
    start: int
    end: int


class VerdictRevision(Record):
    """news.enriched, besides articles: a newer verdict for an article already emitted.

    The enricher emits one when a later arrival changes what it said about the article
    (an earlier copy became the canonical, two dedup groups or two stories merged).
    ``revision`` increases with every change of the article's verdict; the sink applies
    a revision only over an older one. Keyed by article id, like the article's record.
    """

    SCHEMA: ClassVar[str] = "news.revisions/1"
    article_id: str
    revision: int
    duplicate_of: str | None = None
    similarity: float | None = None
    story_id: str | None = None

    def key(self) -> str:
        return self.article_id


class EnrichedArticle(Article):
    """news.enriched: an article with its dedup verdict, story and entities.

    /3 adds ``revision`` (of the verdict, see :class:`VerdictRevision`) and
    ``published_at_claimed``: the page's publication date when it was not believable
    (before 1990 or over a day after the fetch); ``published_at`` is then None. /4 adds
    the rights fields of :class:`Article` /3, /5 its ``modified_at`` (/4).
    """

    SCHEMA: ClassVar[str] = "news.enriched/5"
    OLDER_SCHEMAS: ClassVar[tuple[str, ...]] = (
        "news.enriched/1",
        "news.enriched/2",
        "news.enriched/3",
        "news.enriched/4",
    )
    ALTERNATIVES: ClassVar[tuple[type[Record], ...]] = (VerdictRevision,)
    duplicate_of: str | None = None
    similarity: float | None = None
    story_id: str | None = None
    entities: list[Entity] = Field(default_factory=list)
    detected_language: str | None = Field(
        None, description="ISO 639-1 code detected from the text (language is the declared one)"
    )
    revision: int = 0
    published_at_claimed: datetime | None = None


class DeadLetter(Record):
    """news.dlq: a message a stage could not handle, with the reason and the original bytes."""

    SCHEMA: ClassVar[str] = "news.dlq/1"
    stage: str
    source_topic: str
    partition: int
    offset: int
    source_key: str | None = None
    reason: str
    detail: str
    attempts: int = 1
    original: str = Field(description="the original value, base64")
    original_size: int | None = Field(None, description="bytes of the original value")
    original_truncated: bool = Field(False, description="original holds only its first bytes")
    original_sha256: str | None = Field(None, description="SHA-256 of the whole original value")
    source_key_truncated: bool = Field(
        False, description="source_key holds only a prefix, with the key's hash and size"
    )
    failed_at: datetime = Field(default_factory=utcnow)

    def key(self) -> str:
        return f"{self.source_topic}:{self.partition}:{self.offset}"
