"""Every regex in ingest/ that sees fetched or extracted text runs in linear time
(issue 13, catalogue B2): each is fed adversarial inputs of 100 KB to 1 MB (long runs of
punctuation and whitespace, the pattern's own tokens repeated without the closing
character it waits for) and must finish well inside a generous bound.

The bound (2 s for all inputs of one pattern together) is far above what a linear scan
takes here (milliseconds) and far below what the super-linear versions took: the page
metadata regex took about 30 s on a 27 KB head before it moved to RE2.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest

from ingest import evaluate, extract, feedparse, normalise, pages, schedule

BOUND_S = 2.0
KB = 1024


def _runs(*tokens: str, size: int = 300 * KB) -> list[str]:
    """Each token repeated to ``size``, plus generic punctuation/whitespace runs."""
    generic = ["!" * size, " " * size, "\t\n " * (size // 3), ".,;:-" * (size // 5), "a" * size]
    return [t * (size // len(t) + 1) for t in tokens] + generic


META_TOKENS = (
    "<meta property='og:locale' ",
    "<meta http-equiv=content-language ",
    "<meta content=",
    "<html lang",
    "<html ",
    "<html lang=",
    "<meta charset=",
    "<meta ",
    "<meta charset ",
)

CASES: dict[str, tuple[Callable[[str], object], list[str]]] = {
    # extract worker's main process, outside the sandbox (the 25 s page)
    "extract.page_language": (extract.page_language, _runs(*META_TOKENS)),
    "extract.content_hash": (extract.content_hash, _runs(" \u00a0", size=1000 * KB)),
    # page fetcher: meta charset sniffing and the HTML check on the first bytes
    "pages.decode_html": (
        lambda s: pages.decode_html(s.encode("utf-8", "replace"), "text/html; charset=latin-1"),
        _runs(*META_TOKENS, size=200 * KB),
    ),
    "pages._LOOKS_HTML": (
        lambda s: pages._LOOKS_HTML.search(s.encode("utf-8", "replace")),
        _runs("<!doctype ", "<html", "<"),
    ),
    # feed declarations, before feedparser
    "feedparse.check_declarations": (
        lambda s: _swallow(feedparse.check_declarations, s.encode("utf-8", "replace")),
        _runs("<!DOCTYPE ", "<! ", "<!ENTITY", "<!DOCTYPE rss ["),
    ),
    # Cache-Control is a response header: small in practice, but untrusted
    "schedule.max_age": (schedule.max_age, _runs("max-age", ", max-age = ", "max-age=1")),
    # the one normaliser of feed and page text
    "normalise.clean": (lambda s: normalise.clean(s, 10**7, one_line=True), _runs("\x01 ")),
    "normalise.clean_title": (normalise.clean_title, _runs("<", "<a ", "< >")),
    "evaluate.tokens": (evaluate._TOKEN.findall, _runs("a_1 ")),
}


def _swallow(fn: Callable[[bytes], object], arg: bytes) -> None:
    with contextlib.suppress(feedparse.FeedRejected):
        fn(arg)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pattern_is_linear_on_adversarial_input(name):
    fn, inputs = CASES[name]
    started = time.perf_counter()
    for text in inputs:
        fn(text)
    took = time.perf_counter() - started
    assert took < BOUND_S, f"{name}: {took:.1f}s on {len(inputs)} adversarial inputs"


def test_page_language_still_reads_the_declared_language():
    assert extract.page_language('<html lang="de-AT"><head>') == "de"
    assert extract.page_language("<HTML class=x LANG=fr>") == "fr"
    meta = '<head><meta property="og:locale" content="es_ES"></head>'
    assert extract.page_language(meta) == "es"
    assert extract.page_language('<meta http-equiv="Content-Language" content="pt-BR">') == "pt"
    assert extract.page_language("<html><body>no language</body>") is None
    assert extract.page_language("<html lang=\ud800x>") is None  # lone surrogate: no crash


def test_meta_charset_still_read():
    body = '<html><head><meta charset="iso-8859-7"></head><body>\u03b1\u03b2</body>'.encode(
        "iso-8859-7", "replace"
    )
    assert "\u03b1" in pages.decode_html(body, "text/html")
