"""Extractor: news.raw -> news.articles (trafilatura, in a bounded worker process).

trafilatura runs in :class:`ingest.sandbox.Sandbox` (a time and memory bound per page,
catalogue E2) and only ever gets a decoded ``str`` (E4). Missing title and date fall back
to the feed entry's. An empty or too-short extraction is ``BadInput`` with a reason
(``depth_or_empty`` when trafilatura returns nothing, as it does for pages nested deeper
than lxml's 255 levels, E1). The extractor version travels with every article, so a
replay of news.raw with a newer trafilatura can be told apart. The language is
trafilatura's when it detects one (with its optional language detector installed), else
the one the page declares.

Rights (:mod:`ingest.rights`): the page's markup is read for paywall, TDM and AI opt-out
signals, combined with the fetcher's evidence (headers, robots.txt, tdmrep.json), and
counted. For an article whose publisher reserved TDM or opted out of AI use, the rights
policy decides: ``store`` keeps it whole, ``metadata`` stores it without its text
(``text_withheld``), ``skip`` drops it before extraction (counted and logged; a policy
decision, not a dead letter).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import re2
import structlog
import trafilatura

from ingest import metrics, rights, sandbox_tasks
from ingest.normalise import (
    TEXT_MAX,
    TEXT_MAX_BYTES,
    URL_MAX,
    cap_text,
    clean,
    clean_markup,
    clean_title,
)
from ingest.sandbox import Sandbox, SandboxError
from wiredesk.records import Article, DecodeError, RawPage, Record
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)

EXTRACTOR_VERSION = f"trafilatura-{trafilatura.__version__}"
RightsPolicy = Literal["store", "metadata", "skip"]
_SPACE = re.compile(r"\s+")
# Run on page text in this (the consumer's) process, outside the sandbox: RE2 (linear
# time) because the backtracking version took ~30 s on a 20 KB head of unclosed tags.
_HTML_LANG = re2.compile(
    rb"""(?i)<html\b[^>]*?\blang\s*=\s*["']?([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)?"""
)
_META_LANG = re2.compile(
    rb"""(?i)<meta[^>]+(?:http-equiv=["']?content-language|property=["']og:locale)["']?[^>]*"""
    rb"""content=["']?([A-Za-z]{2,3})"""
)


# The page's own date of modification: Open Graph / article meta, itemprop, JSON-LD.
_MODIFIED = re2.compile(
    rb"""(?i)(?:<meta[^>]+(?:property|name|itemprop)=["']?(?:article:modified_time|"""
    rb"""og:updated_time|dateModified|last-modified)["']?[^>]*?content=["']?"""
    rb"""([0-9T:.+\-Z ]{10,40})"""
    rb"""|"dateModified"\s*:\s*"([0-9T:.+\-Z ]{10,40})")"""
)


def page_modified(html: str) -> datetime | None:
    """The date of modification the page declares in its metadata, or None."""
    head = html[:100_000].encode("utf-8", "replace")
    match = _MODIFIED.search(head)
    if match is None:
        return None
    value = (match.group(1) or match.group(2) or b"").decode("ascii", "replace").strip()
    return _date(value.replace("Z", "+00:00"))


def page_language(html: str) -> str | None:
    """The language the page declares (``<html lang>``, Content-Language, og:locale)."""
    head = html[:20_000].encode("utf-8", "replace")  # lone surrogates become "?"
    match = _HTML_LANG.search(head) or _META_LANG.search(head)
    return match.group(1).decode("ascii").lower() if match else None


def content_hash(text: str) -> str:
    """SHA-256 of the whitespace- and case-normalised text."""
    return hashlib.sha256(_SPACE.sub(" ", text).strip().lower().encode("utf-8")).hexdigest()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _published(page: datetime | None, entry: datetime | None) -> datetime | None:
    """The page's date, unless the feed gives the same day with a time of day too."""
    if page is None:
        return entry
    if entry is not None and entry.date() == page.date():
        return entry
    return page


def page_rights(record: RawPage, html: str) -> rights.Rights:
    """The fetcher's evidence (or ``UNCHECKED``) with the page's own markup."""
    fetched = record.rights_evidence
    host = rights.UNCHECKED if fetched is None else fetched
    return rights.verdict([*host, *rights.html_evidence(html)])


class ExtractArticles:
    """Options in the constructor, work in ``__call__``; ``sandbox=None`` runs in-process
    (only for benchmarks and evaluation on trusted files)."""

    def __init__(
        self, sandbox: Sandbox | None, min_chars: int = 200, rights_policy: RightsPolicy = "store"
    ) -> None:
        self.sandbox = sandbox
        self.min_chars = min_chars
        self.rights_policy = rights_policy

    def extract(self, html: str, url: str) -> dict[str, Any] | None:
        """The raw trafilatura fields of one page; ``BadInput`` if the bound was hit."""
        started = time.perf_counter()
        try:
            if self.sandbox is None:
                return sandbox_tasks.extract_page(html, url)
            return self.sandbox.run("extract_page", html, url)
        except SandboxError as exc:
            raise self._reject(f"extract_{exc.reason}", f"{url}: {exc.detail}") from exc
        finally:
            metrics.EXTRACT_SECONDS.observe(time.perf_counter() - started)

    def __call__(self, record: Record) -> Iterator[Record]:
        assert isinstance(record, RawPage)
        try:
            html = record.html
        except DecodeError as exc:
            raise self._reject(exc.reason, f"{record.url}: {exc.detail}") from exc
        html = clean_markup(html)  # one &#1; would make trafilatura return nothing (B8)
        found = page_rights(record, html)
        action = self.rights_policy if found.opted_out else None
        if action == "skip":
            self._count(found, action)
            log.info(
                "rights_skipped",
                url=record.url[:300],
                article_id=record.article_id,
                evidence=list(found.evidence),
            )
            return
        doc = self.extract(html, record.final_url)
        if doc is None:
            raise self._reject("depth_or_empty", f"{record.url}: trafilatura found no content")
        text, truncated = cap_text(clean(doc["text"], TEXT_MAX) or "")
        if truncated:
            log.warning("text_truncated", url=record.url[:300], kept_bytes=TEXT_MAX_BYTES)
        if len(text.strip()) < self.min_chars:
            raise self._reject("too_short", f"{record.url}: {len(text)} chars extracted")
        title = clean_title(doc["title"]) or clean_title(record.entry_title)
        if not title:
            raise self._reject("no_title", record.url)
        authors = [a.strip() for a in (clean(doc["author"], 1000) or "").split(";") if a.strip()]
        self._count(found, action)
        yield Article(
            article_id=record.article_id,
            url=record.url,
            canonical_url=clean(doc["url"], URL_MAX, one_line=True),
            title=title,
            text="" if action == "metadata" else text,
            authors=authors,
            published_at=_published(_date(doc["date"]), record.entry_published),
            language=clean(doc["language"], 16, one_line=True) or page_language(html),
            site_name=clean(doc["sitename"], 300, one_line=True),
            feed_id=record.feed_id,
            discovered_at=record.discovered_at,
            fetched_at=record.fetched_at,
            extractor_version=EXTRACTOR_VERSION,
            content_hash=content_hash(text),
            truncated=truncated,
            paywalled=found.paywalled,
            tdm_reserved=found.tdm_reserved,
            ai_opt_out=found.ai_opt_out,
            rights_evidence=list(found.evidence),
            text_withheld=action == "metadata",
            modified_at=page_modified(html),
        )

    @staticmethod
    def _count(found: rights.Rights, action: RightsPolicy | None) -> None:
        """Count an article by rights signal and, if opted out, by the policy's action."""
        for signal in rights.SIGNALS:
            value = getattr(found, signal)
            label = "unknown" if value is None else str(value).lower()
            metrics.RIGHTS_ARTICLES.labels(signal, label).inc()
        if action is not None:
            metrics.RIGHTS_POLICY.labels(action).inc()

    @staticmethod
    def _reject(reason: str, detail: str) -> BadInput:
        metrics.EXTRACT_REJECTED.labels(reason).inc()
        return BadInput(reason, detail)
