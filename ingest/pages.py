"""Page fetcher: news.links -> news.raw.

Politeness (catalogue F13, F14): robots.txt is checked (and cached) per host, its
Crawl-delay and our minimum delay space requests, at most ``concurrency`` requests per
host run at once, and 429/503 answers block the host for their Retry-After. The runner
hands the fetcher each batch first (:meth:`FetchPages.prepare`), so the links of a batch
are fetched concurrently on a thread pool: a slow or rate-limited host delays only its
own links.

Across fetcher replicas: ``news.links`` is keyed by host (:mod:`wiredesk.hostroute`), so
this process is the only member of the group fetching a host, and its gate and caches
are the host's whole politeness state. A host split into ``k`` sub-keys
(``fetch_host_shards``) may be fetched by ``k`` replicas: each stretches the host's
robots.txt Crawl-delay by ``k``, so the host still sees at most one request per
Crawl-delay on average (its minimum gap then holds per replica only).

Rights: each page carries the evidence of its response headers, the host's robots.txt
(AI crawler rules) and its ``/.well-known/tdmrep.json`` (:mod:`ingest.rights`,
:mod:`ingest.tdmrep`); the extractor adds the page's own markup and decides.

Safety and bounds come from :mod:`ingest.http`. Non-200 answers, non-HTML or binary
bodies, refused addresses, timeouts and oversized pages are ``BadInput`` and land in the
DLQ with the reason. The HTML is decoded to ``str`` here (declared charset checked
against the bytes) and published compressed (news.raw/3).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import re2
import structlog
from charset_normalizer import from_bytes

from ingest import metrics, rights
from ingest.http import FetchOptions, Response, fetch, preflight
from ingest.politeness import HostGate, host_key, retry_after_seconds
from ingest.recheck import Note, RecheckStore, fetched_note, outcome_note
from ingest.robots import RobotsCache
from ingest.tdmrep import TdmRepCache
from wiredesk.hostroute import crawl_delay_share
from wiredesk.records import Link, RawPage, Record
from wiredesk.stage import BadInput

log = structlog.get_logger(__name__)
Fetched = tuple[RawPage | None, Note | None]  # what one fetch publishes and learns

HTML_TYPES = ("text/html", "application/xhtml+xml")
# RE2: `[^>]+charset\s*` backtracks quadratically over an unclosed tag with re
_META_CHARSET = re2.compile(rb"""(?i)<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""")
_LOOKS_HTML = re.compile(rb"<(!doctype\s+html|html|head|body)[\s>]", re.I)
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_LATIN1 = {"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "windows-1252", "cp1252"}


def _declared(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ").lower()
    return None


def decode_html(body: bytes, content_type: str) -> str:
    """Bytes -> str, never failing: BOM, declared charset (unless the bytes are valid UTF-8
    while a Latin-1 family charset is declared, the most common mislabel), <meta charset>,
    then detection."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return _decoded(body, codec, "bom")
    meta = _META_CHARSET.search(body[:4096])
    declared = _declared(content_type) or (meta.group(1).decode().lower() if meta else None)
    if declared in _LATIN1 or declared is None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            metrics.PAGE_CHARSET.labels("utf8" if declared else "utf8_undeclared").inc()
            return text
    if declared:
        try:
            return _decoded(body, declared, "declared", strict=True)
        except (LookupError, UnicodeDecodeError):
            pass
    best = from_bytes(body[:200_000]).best()
    return _decoded(body, best.encoding if best else "utf-8", "detected")


def _decoded(body: bytes, codec: str, source: str, strict: bool = False) -> str:
    text = body.decode(codec, "strict" if strict else "replace")
    metrics.PAGE_CHARSET.labels(source).inc()
    return text


def check_html(url: str, resp: Response) -> str:
    """The content type, if the response is an HTML page worth extracting; else BadInput."""
    if resp.status != 200:
        raise BadInput(f"http_{resp.status // 100}xx", f"{url} answered {resp.status}")
    if not resp.body.strip():
        raise BadInput("empty_body", url)
    head = resp.body[:1024]
    if b"\x00" in head or head.startswith((b"\x1f\x8b", b"%PDF", b"\xff\xd8\xff", b"\x89PNG")):
        raise BadInput("binary_body", f"{url}: the body is binary")
    content_type = resp.headers.get("content-type", "")
    mime = content_type.split(";")[0].strip().lower()
    if mime in HTML_TYPES or (not mime and _LOOKS_HTML.search(head)):
        return content_type or "text/html"
    raise BadInput("not_html", f"{url}: content-type {content_type[:80]!r}")


class FetchPages:
    """Options in the constructor, work in ``__call__`` (one link -> one raw page)."""

    def __init__(
        self,
        client: httpx.Client,
        options: FetchOptions,
        gate: HostGate,
        robots: RobotsCache | None,
        workers: int = 8,
        tdmrep: TdmRepCache | None = None,
        shards: Mapping[str, int] | None = None,
        rechecks: RecheckStore | None = None,
    ) -> None:
        self.client = client
        self.shards = dict(shards or {})
        self.rechecks = rechecks
        self.options = options
        self.gate = gate
        self.robots = robots
        self.tdmrep = tdmrep
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
        self._pending: dict[str, deque[Future[Fetched]]] = defaultdict(deque)
        self._unstored: list[Future[Fetched]] = []  # fetches whose re-check state waits

    def prepare(self, records: Sequence[Record]) -> None:
        """Start fetching a whole batch concurrently; ``__call__`` collects each result.

        Submitted host by host in turn (each host's first link, then each host's second,
        ...): a batch keyed by host holds runs of one host's links, and the pool's threads
        would otherwise all wait out that host's delay while the other hosts idle."""
        links = [r for r in records if isinstance(r, Link)]
        turn: dict[str, int] = defaultdict(int)
        ranked = []
        for i, link in enumerate(links):
            try:
                key = host_key(link.url)
            except ValueError:  # e.g. a port out of range: fetch() turns it into BadInput
                key = link.url
            ranked.append((turn[key], i, link))
            turn[key] += 1
        for _, _, link in sorted(ranked, key=lambda item: item[:2]):
            future = self._pool.submit(self._fetch, link)
            self._pending[link.article_id].append(future)
            self._unstored.append(future)

    def __call__(self, record: Record) -> Iterator[Record]:
        assert isinstance(record, Link)
        queued = self._pending.get(record.article_id)
        try:
            if queued:
                future = queued.popleft()
                if not queued:
                    del self._pending[record.article_id]
                page, _ = future.result()
            else:
                page = self.fetch(record)
        finally:
            self._store_when_done()
        if page is not None:  # None: a re-check that found nothing new
            yield page

    def _store_when_done(self) -> None:
        """Once every fetch of the batch has ended, store what they learnt for re-checks
        in one transaction (a failure keeps them for the next call).

        This runs within the batch, before its offsets are committed: a crash before it
        redelivers the links, whose fetches learn it again."""
        if not all(f.done() for f in self._unstored):
            return
        ended = [f for f in self._unstored if not f.cancelled() and f.exception() is None]
        results = [f.result() for f in ended]
        notes = [note for _, note in results if note is not None]
        if notes and self.rechecks is not None:
            self.rechecks.write(notes)
        self._unstored = []

    def fetch(self, record: Link) -> RawPage | None:
        """The page; for a re-check (:mod:`ingest.recheck`) None unless it changed. Its
        re-check state is stored before this returns."""
        page, note = self._fetch(record)
        if note is not None and self.rechecks is not None:
            self.rechecks.write([note])
        return page

    def _fetch(self, record: Link) -> Fetched:
        """The page (None: nothing to publish) and what the fetch learnt for re-checks."""
        if record.recheck is not None:
            return self._recheck(record)
        resp = self._get(record, {})
        page = self._page(record, resp, check_html(record.url, resp))
        return page, self._remember(record, resp, "fetched")

    def _recheck(self, record: Link) -> Fetched:
        """Conditional GET; a 304 or the same body publishes nothing. A failure is
        counted (``error``) and dropped: the next scheduled check tries again."""
        headers = {}
        if record.etag:
            headers["If-None-Match"] = record.etag
        if record.last_modified:
            headers["If-Modified-Since"] = record.last_modified
        try:
            resp = self._get(record, headers)
            if resp.status == 304:
                return None, self._unchanged(record, "not_modified")
            content_type = check_html(record.url, resp)
        except BadInput as exc:
            log.info("recheck_failed", url=record.url[:300], reason=exc.reason)
            return None, self._unchanged(record, "error")
        if record.body_sha256 and _sha256(resp.body) == record.body_sha256:
            self._unchanged(record, "unchanged")
            return None, self._remember(record, resp, "unchanged")
        page = self._page(record, resp, content_type)
        metrics.RECHECKS.labels(record.recheck, "changed").inc()
        return page, self._remember(record, resp, "changed")

    def _unchanged(self, record: Link, outcome: str) -> Note:
        metrics.RECHECKS.labels(record.recheck or "", outcome).inc()
        return outcome_note(record, outcome)

    def _remember(self, record: Link, resp: Response, outcome: str) -> Note:
        return fetched_note(record, resp.headers, _sha256(resp.body), outcome)

    def _get(self, record: Link, headers: dict[str, str]) -> Response:
        """The response, through robots.txt and the host's politeness gate."""
        preflight(record.url, self.options)
        key = host_key(record.url)
        crawl_delay = self.robots.check(record.url) if self.robots is not None else None
        if crawl_delay:
            share = crawl_delay_share(record.url, self.shards)
            self.gate.set_crawl_delay(key, crawl_delay * share)
        with self.gate.slot(key):
            resp = fetch(self.client, record.url, self.options, headers, kind="page")
        if resp.status in (429, 503):
            seconds = retry_after_seconds(resp.headers.get("retry-after"), time.time())
            self.gate.block(key, seconds)
            raise BadInput("rate_limited", f"{record.url}: {resp.status}, quiet for {seconds:.0f}s")
        return resp

    def _page(self, record: Link, resp: Response, content_type: str) -> RawPage:
        return RawPage(
            article_id=record.article_id,
            url=record.url,
            final_url=resp.url,
            status=resp.status,
            content_type=content_type[:200],
            html=decode_html(resp.body, content_type),
            feed_id=record.feed_id,
            entry_title=record.entry_title,
            entry_published=record.entry_published,
            discovered_at=record.discovered_at,
            source="fetch",
            rights_evidence=self.rights_evidence(resp),
        )

    def rights_evidence(self, resp: Response) -> list[str]:
        """Evidence of the headers, robots.txt and tdmrep.json (each cached per host)."""
        robots = self.robots.ai_evidence(resp.url) if self.robots else ["robots:unknown"]
        tdmrep = self.tdmrep.evidence(resp.url) if self.tdmrep else ["tdmrep:unknown"]
        found = [*rights.header_evidence(resp.headers), *robots, *tdmrep]
        return list(rights.verdict(found).evidence)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
