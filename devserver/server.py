"""A local news server over real HTTP, for tests, the demo and benchmarks.

Serves a corpus (see ``wiredesk/demo/corpus/README.md``) on 127.0.0.1: per-outlet
RSS/Atom feeds at ``/<site>/feed.xml``, article pages at
``/<site>/<yyyy>/<mm>/<dd>/<slug>.html``, plus ``/``, ``/feeds.opml``,
``/robots.txt`` and ``/sitemap.xml``. Conditional GET, gzip, held-back articles
released over time, and switchable :class:`Faults`. Standard library only.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime

from devserver import pages
from devserver.corpus import Corpus, CorpusArticle, Site, load_corpus, write_corpus
from devserver.faults import Faults, Response, gzip_bomb
from devserver.transport import HTTPServer, Serving

__all__ = [
    "Corpus",
    "CorpusArticle",
    "Faults",
    "NewsServer",
    "Site",
    "gzip_bomb",
    "load_corpus",
    "write_corpus",
]


class NewsServer(Serving):
    """Serves a :class:`Corpus`; ``hold_back`` newest articles appear later via
    :meth:`release` or every ``release_every_s`` seconds of ``clock``."""

    def __init__(
        self,
        corpus: Corpus,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        hold_back: int = 0,
        release_every_s: float | None = None,
        feed_limit: int = 50,
        mirror_feeds: int = 0,
    ) -> None:
        self.corpus, self.host, self.port = corpus, host, port
        self.faults, self.clock = faults or Faults(), clock
        self.release_every_s, self.feed_limit = release_every_s, feed_limit
        self.mirror_feeds = mirror_feeds  # extra feeds /mirror/<i>/feed.xml (benchmarks)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._sites = {s.site: s for s in corpus.sites}
        self._by_path = {a.path: a for a in corpus.articles}
        self._ids = {a.id: a for a in corpus.articles}
        ordered = sorted(corpus.articles, key=_order)
        cut = len(ordered) - max(0, min(hold_back, len(ordered)))
        self._held: deque[CorpusArticle] = deque(ordered[cut:])
        self._visible: set[str] = set()
        self._site_all: dict[str, list[CorpusArticle]] = {s: [] for s in self._sites}
        self._site_visible: dict[str, list[CorpusArticle]] = {s: [] for s in self._sites}
        for a in ordered:
            self._site_all[a.site].append(a)
        for a in ordered[:cut]:
            self._visible.add(a.id)
            self._site_visible[a.site].append(a)
        self._t0, self._start_mtime = clock(), int(clock())
        self._auto_released = 0
        self._site_mtime = dict.fromkeys(self._sites, self._start_mtime)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._log: list[tuple[str, str, int]] = []
        self._times: list[tuple[float, str]] = []
        self._hits: list[tuple[float, str, str, str]] = []
        self._agents: Counter[str] = Counter()
        self._bytes_sent = 0
        self._counts: Counter[int] = Counter()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> NewsServer:
        """Bind and serve in a daemon thread."""
        self._stopping.clear()
        self._cache.clear()
        self._httpd = HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="wiredesk-devserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging and dripping responses are cut off."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            for sock in list(self._httpd.conns):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> NewsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- URLs
    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("NewsServer not started")
        return f"http://{self.host}:{self.port}"

    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/{s.site}/feed.xml" for s in self.corpus.sites]

    def mirror_feed_urls(self) -> list[str]:
        """``mirror_feeds`` distinct feed URLs, each a copy of one outlet's feed."""
        return [f"{self.base_url}/mirror/{i}/feed.xml" for i in range(self.mirror_feeds)]

    @property
    def opml_url(self) -> str:
        return f"{self.base_url}/feeds.opml"

    def article_url(self, article_id: str) -> str:
        return self.base_url + self._ids[article_id].path

    # -- what is published
    def visible_articles(self) -> list[CorpusArticle]:
        """Published articles, newest first."""
        self.tick()
        with self._lock:
            arts = [a for site_arts in self._site_visible.values() for a in site_arts]
        return sorted(arts, key=_order, reverse=True)

    @property
    def held(self) -> list[CorpusArticle]:
        with self._lock:
            return list(self._held)

    def publish(self, article: CorpusArticle, *, hold: bool = False) -> None:
        """Add a new article, visible now (its feed changes) or queued for release."""
        with self._lock:
            if article.id in self._ids or article.site not in self._sites:
                raise ValueError(f"{article.id}: duplicate id or unknown site {article.site!r}")
            self.corpus.articles.append(article)
            self._ids[article.id], self._by_path[article.path] = article, article
            bisect.insort(self._site_all[article.site], article, key=_order)
            if hold:
                self._held.append(article)
            else:
                self._show(article)

    def release(self, n: int = 1) -> list[CorpusArticle]:
        """Publish the next *n* held articles (oldest first)."""
        with self._lock:
            out = [self._held.popleft() for _ in range(min(n, len(self._held)))]
            for a in out:
                self._show(a)
            return out

    def revise(
        self,
        article_id: str,
        *,
        title: str | None = None,
        paragraphs: tuple[str, ...] | None = None,
        modified: str | None = None,
    ) -> CorpusArticle:
        """Change a published article in place (same URL): a new title and/or body and
        its ``modified`` time (ISO 8601; default: now by ``clock``, and always at least a
        second after the previous one: HTTP dates have one-second resolution, so two
        revisions in one second would otherwise share a Last-Modified). Its page, ETag and
        Last-Modified change, and so does its outlet's feed."""
        with self._lock:
            old = self._ids[article_id]
            stamp = max(int(self.clock()), int(old.modified_at.timestamp()) + 1)
            when = modified or pages.rfc3339(datetime.fromtimestamp(stamp, UTC))
            new = dataclasses.replace(
                old,
                title=old.title if title is None else title,
                paragraphs=old.paragraphs if paragraphs is None else tuple(paragraphs),
                modified=when,
            )
            self._ids[article_id] = self._by_path[new.path] = new
            self.corpus.articles[self.corpus.articles.index(old)] = new
            for site_list in (self._site_all[new.site], self._site_visible[new.site]):
                if old in site_list:
                    site_list[site_list.index(old)] = new
            self._site_mtime[new.site] = max(int(self.clock()), self._site_mtime[new.site] + 1)
            return new

    def release_next(self) -> CorpusArticle | None:
        return next(iter(self.release(1)), None)

    def tick(self) -> list[CorpusArticle]:
        """Apply ``release_every_s`` against ``clock``; returns what was released."""
        if not self.release_every_s:
            return []
        with self._lock:
            due = int((self.clock() - self._t0) // self.release_every_s) - self._auto_released
            if due <= 0:
                return []
            self._auto_released += due
            return self.release(due)

    def _show(self, a: CorpusArticle) -> None:
        self._visible.add(a.id)
        bisect.insort(self._site_visible[a.site], a, key=_order)
        self._site_mtime[a.site] = max(int(self.clock()), self._site_mtime[a.site] + 1)

    # -- request log
    @property
    def requests_log(self) -> list[tuple[str, str, int]]:
        """(method, path, status) per request; status 0 = dropped without answer."""
        with self._lock:
            return list(self._log)

    @property
    def request_times(self) -> list[tuple[float, str]]:
        """(time.monotonic() when answered, path) per request."""
        with self._lock:
            return list(self._times)

    @property
    def request_hits(self) -> list[tuple[float, str, str, str]]:
        """(time.monotonic() when answered, Host header, path, User-Agent) per request:
        the gaps between requests to one host, and which client made them."""
        with self._lock:
            return list(self._hits)

    @property
    def bytes_sent(self) -> int:
        """Response body bytes written so far (as sent: compressed when gzip)."""
        with self._lock:
            return self._bytes_sent

    @property
    def user_agents(self) -> Counter[str]:
        """Requests per User-Agent header."""
        with self._lock:
            return Counter(self._agents)

    @property
    def status_counts(self) -> Counter[int]:
        """Responses sent per status code (e.g. ``[200]``, ``[304]``)."""
        with self._lock:
            return Counter(self._counts)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._times.clear()
            self._hits.clear()
            self._agents.clear()
            self._counts.clear()

    # -- serving
    def _route(self, path: str) -> Response:
        if path in ("/", "/index.html"):
            return Response(
                200,
                pages.render_index(self.corpus.sites, self.base_url),
                last_modified=self._start_mtime,
                cacheable=True,
            )
        if path == "/robots.txt":
            robots = pages.render_robots(self.base_url, self.faults.robots_txt)
            return Response(200, robots, "text/plain; charset=utf-8")
        if path == "/.well-known/tdmrep.json" and self.faults.tdmrep_json is not None:
            return Response(200, self.faults.tdmrep_json.encode(), "application/json")
        if path == "/feeds.opml":
            body = pages.render_opml(self.corpus.sites, self.base_url, self._start_mtime)
            return Response(200, body, "text/x-opml; charset=utf-8", cacheable=True)
        if path == "/sitemap.xml":
            body = pages.render_sitemap(self.visible_articles(), self.base_url)
            return Response(200, body, "application/xml; charset=utf-8", cacheable=True)
        parts = path.strip("/").split("/")
        site = self._sites.get(parts[0])
        if site and path == f"/{site.site}/feed.xml":
            return self._feed(site)
        mirror = len(parts) == 3 and parts[0] == "mirror" and parts[2] == "feed.xml"
        if mirror and parts[1].isdigit() and int(parts[1]) < self.mirror_feeds:
            return self._feed(self.corpus.sites[int(parts[1]) % len(self.corpus.sites)])
        if site and path in (f"/{site.site}", f"/{site.site}/"):
            with self._lock:
                arts = self._site_visible[site.site][::-1]
            return Response(
                200,
                pages.render_site_home(site, arts, self.base_url),
                headers={"Cache-Control": "max-age=60"},
                cacheable=True,
            )
        art = self._by_path.get(path)
        if art is not None and art.id in self._visible:
            body = self._cached(
                f"page:{art.id}:{art.modified}:{hash((art.title, art.paragraphs))}",
                lambda: pages.render_article(
                    self._sites[art.site], art, self.base_url, self._related(art)
                ),
            )
            return Response(
                200,
                body,
                headers={"Cache-Control": "max-age=300"},
                last_modified=art.modified_at.timestamp(),
                cacheable=True,
            )
        return Response(404, pages.render_error(404, "Not Found"))

    def _feed(self, site: Site) -> Response:
        ttl = self.faults.feed_ttl_minutes
        with self._lock:
            mtime = self._site_mtime[site.site]
            arts = self._site_visible[site.site][-self.feed_limit :][::-1]
        body = self._cached(
            f"feed:{site.site}:{mtime}:{ttl}",
            lambda: pages.render_feed(site, arts, self.base_url, mtime, ttl),
        )
        return Response(
            200,
            body,
            f"{pages.FEED_TYPES[site.feed_format]}; charset=utf-8",
            {"Cache-Control": self.faults.feed_cache_control or "max-age=60"},
            last_modified=mtime,
            cacheable=True,
        )

    def _related(self, art: CorpusArticle, n: int = 4) -> list[CorpusArticle]:
        """Up to *n* earlier articles of the same outlet, same story first."""
        with self._lock:
            site_arts = self._site_all[art.site]
            pos = bisect.bisect_left(site_arts, _order(art), key=_order)
            earlier = site_arts[max(0, pos - 50) : pos][::-1]
        same = [a for a in earlier if a.story == art.story]
        return (same + [a for a in earlier if a.story != art.story])[:n]

    def _cached(self, key: str, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        body = make()
        with self._lock:
            self._cache[key] = body
            while len(self._cache) > 2048:
                self._cache.popitem(last=False)
        return body


def _order(a: CorpusArticle) -> tuple[str, str]:
    return (a.published, a.id)
