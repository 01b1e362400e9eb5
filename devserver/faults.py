"""Switchable misbehaviour for :mod:`devserver.server` (all off by default)."""

from __future__ import annotations

import random
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from devserver.pages import render_error


@dataclass
class Faults:
    """Misbehaviour switches, all off by default; may be changed while serving.

    Path patterns: ``"*"`` = every path, a pattern with ``*?[`` is a glob, anything
    else is a path prefix. Dict switches map pattern -> value.
    """

    status_5xx_rate: float = 0.0  # share of requests answered 500/502/503
    status_5xx_paths: tuple[str, ...] = ("*",)
    fail_paths: dict[str, int] = field(default_factory=dict)  # pattern -> status, e.g. 429
    retry_after: int | str | None = None  # Retry-After sent with 429 and 503
    slow_drip_bytes_per_s: float = 0.0  # > 0: body sent 1 byte at a time at this rate
    slow_drip_paths: tuple[str, ...] = ("*",)
    hang_paths: tuple[str, ...] = ()  # read request, never answer until stop()
    redirects: dict[str, str] = field(default_factory=dict)  # pattern -> Location (302)
    huge_body_paths: dict[str, int] = field(default_factory=dict)  # pattern -> n bytes
    huge_body_chunked_paths: tuple[str, ...] = ()  # these huge bodies go chunked
    gzip_bomb_paths: tuple[str, ...] = ()  # gzip body inflating to gzip_bomb_bytes
    gzip_bomb_bytes: int = 500 * 1024 * 1024
    malformed_feed_paths: tuple[str, ...] = ()  # truncated, ill-formed XML
    wrong_charset_paths: tuple[str, ...] = ()  # says iso-8859-1, sends UTF-8
    robots_txt: str | None = None  # rules served at /robots.txt (default: allow all)
    # rights fixtures (invented): /.well-known/tdmrep.json (None: 404), extra response
    # headers (pattern -> headers, e.g. X-Robots-Tag) and markup added to the <head> of
    # matching pages (pattern -> HTML, e.g. a robots meta or JSON-LD isAccessibleForFree)
    tdmrep_json: str | None = None
    page_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    page_head_markup: dict[str, str] = field(default_factory=dict)
    feed_ttl_minutes: int | None = None  # RSS 2.0 feeds carry <ttl>
    feed_cache_control: str | None = None  # replaces the feeds' "max-age=60"
    feed_prologs: dict[str, str] = field(default_factory=dict)  # pattern -> DOCTYPE etc.
    # pattern -> (status, content type, body): serve any fixture (PDFs, hostile feeds, ...)
    raw_bodies: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    seed: int = 0  # for status_5xx_rate
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def pick_5xx(self) -> int | None:
        """A 5xx status with probability ``status_5xx_rate``, else None."""
        with _rng_lock:
            if self.status_5xx_rate and self._rng.random() < self.status_5xx_rate:
                return self._rng.choice((500, 502, 503))
        return None


_rng_lock = threading.Lock()


def match(patterns: Iterable[str], path: str) -> str | None:
    """The first pattern matching *path* (see :class:`Faults`), or None."""
    for p in patterns:
        if p == "*" or (fnmatchcase(path, p) if any(c in p for c in "*?[") else path.startswith(p)):
            return p
    return None


@dataclass
class Response:
    """What the server sends; ``stream`` is for bodies too large to hold."""

    status: int
    body: bytes = b""
    ctype: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Callable[[], Iterator[bytes]] | None = None  # replaces body when set
    length: int | None = None  # of stream; None = chunked
    last_modified: float | None = None
    cacheable: bool = False  # gets ETag / conditional GET / gzip


DROP = Response(0)  # close the connection without answering
_bomb_lock = threading.Lock()
_bombs: dict[int, bytes] = {}  # nbytes -> gzip bytes


def gzip_bomb(nbytes: int) -> bytes:
    """Gzip of *nbytes* zeros (~1/1000 the size), built once per size."""
    with _bomb_lock:
        if nbytes not in _bombs:
            comp, block, parts = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1 << 20), []
            for off in range(0, nbytes, len(block)):
                parts.append(comp.compress(block[: nbytes - off]))
            _bombs[nbytes] = b"".join(parts) + comp.flush()
        return _bombs[nbytes]


def _ctype_for(path: str) -> str:
    return "application/xml; charset=utf-8" if path.endswith(".xml") else "text/html; charset=utf-8"


def _filler(n: int) -> Iterator[bytes]:
    block = b"0" * 65536
    for off in range(0, n, len(block)):
        yield block[: n - off]


# A pre-route fault returns a Response to send instead of the real one (DROP: close
# without answering), or None; it may block until ``stopping`` is set.
def _fault_hang(f: Faults, path: str, stopping: threading.Event) -> Response | None:
    if match(f.hang_paths, path):
        stopping.wait()
        return DROP
    return None


def _fault_redirect(f: Faults, path: str, stopping: threading.Event) -> Response | None:
    if p := match(f.redirects, path):
        return Response(302, b"", headers={"Location": f.redirects[p]})
    return None


def _fault_status(f: Faults, path: str, stopping: threading.Event) -> Response | None:
    if p := match(f.fail_paths, path):
        status: int | None = f.fail_paths[p]
    else:
        status = f.pick_5xx() if match(f.status_5xx_paths, path) else None
    if status is None:
        return None
    headers = {}
    if f.retry_after is not None and status in (429, 503):
        headers["Retry-After"] = str(f.retry_after)
    return Response(status, render_error(status, "Fault injected"), headers=headers)


def _fault_huge(f: Faults, path: str, stopping: threading.Event) -> Response | None:
    if p := match(f.huge_body_paths, path):
        n = f.huge_body_paths[p]
        length = None if match(f.huge_body_chunked_paths, path) else n
        return Response(200, ctype=_ctype_for(path), stream=lambda: _filler(n), length=length)
    return None


def _fault_bomb(f: Faults, path: str, stopping: threading.Event) -> Response | None:
    if match(f.gzip_bomb_paths, path):
        body = gzip_bomb(f.gzip_bomb_bytes)
        return Response(200, body, _ctype_for(path), {"Content-Encoding": "gzip"})
    return None


def _fault_raw(f: Faults, path: str, stopping: threading.Event) -> Response | None:
    if p := match(f.raw_bodies, path):
        status, ctype, body = f.raw_bodies[p]
        return Response(status, body, ctype, cacheable=status == 200)
    return None


# A post-route fault may rewrite the real response.
def _fault_prolog(f: Faults, path: str, r: Response) -> Response:
    if r.status == 200 and (p := match(f.feed_prologs, path)):
        head, sep, rest = r.body.partition(b"?>")
        prolog = f.feed_prologs[p].encode()
        r.body = head + sep + b"\n" + prolog + rest if sep else prolog + r.body
    return r


def _fault_malformed(f: Faults, path: str, r: Response) -> Response:
    if r.status == 200 and "xml" in r.ctype and match(f.malformed_feed_paths, path):
        broken = r.body.replace(b"</title>", b" & more</title>", 2)
        r.body = broken[: len(broken) * 2 // 3]  # cut mid-element, unclosed root
    return r


def _fault_charset(f: Faults, path: str, r: Response) -> Response:
    if r.status == 200 and match(f.wrong_charset_paths, path):
        r.ctype = r.ctype.replace("utf-8", "iso-8859-1")
        r.body = r.body.replace(b'<meta charset="utf-8">', b'<meta charset="iso-8859-1">', 1)
        r.body = r.body.replace(b'encoding="utf-8"', b'encoding="iso-8859-1"', 1)
    return r


def _fault_rights(f: Faults, path: str, r: Response) -> Response:
    if r.status == 200 and (p := match(f.page_headers, path)):
        r.headers.update(f.page_headers[p])
    if r.status == 200 and "html" in r.ctype and (p := match(f.page_head_markup, path)):
        r.body = r.body.replace(b"</head>", f.page_head_markup[p].encode() + b"</head>", 1)
    return r


PreRouteFault = Callable[[Faults, str, threading.Event], Response | None]
PostRouteFault = Callable[[Faults, str, Response], Response]
# Add a switch: a field on Faults plus a hook in one of these lists.
PRE_ROUTE_FAULTS: list[PreRouteFault] = [
    _fault_raw,
    _fault_hang,
    _fault_redirect,
    _fault_status,
    _fault_huge,
    _fault_bomb,
]
POST_ROUTE_FAULTS: list[PostRouteFault] = [
    _fault_malformed,
    _fault_charset,
    _fault_prolog,
    _fault_rights,
]
