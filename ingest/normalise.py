"""The one normaliser for text that comes from the outside (feeds, pages, WARC headers).

feedparser and trafilatura pass NUL and other control characters through (catalogue X6,
E5, P3): PostgreSQL rejects NUL in text, and the rest is never wanted. Lone surrogates
cannot be encoded as UTF-8. Markup in feed titles is reduced to its text (X9): we store
text, never feed HTML. Every change is counted in ``wiredesk_sanitized_total{kind}``.

:func:`clean_markup` does the same to a page's HTML before trafilatura sees it (B8): one
``&#1;`` or ``&#xFFFF;`` (a character XML forbids) makes lxml give up and trafilatura
return nothing, so such references and raw characters are removed first.
"""

from __future__ import annotations

import html
import re

from ingest import metrics

# C0 controls except \t \n \r, DEL, C1 controls, lone surrogates, non-characters.
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_TAG = re.compile(r"<[^>]*>?")
_SPACE = re.compile(r"\s+")
# a numeric character reference: each run of digits is scanned once from its start
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));?")
# raw characters XML 1.0 forbids (C0 but tab/newline/CR, surrogates, U+FFFE/U+FFFF)
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

TITLE_MAX = 1_000
URL_MAX = 2_048
TEXT_MAX = 1_000_000
# An article travels as one message through news.articles and news.enriched (with its
# entities, at most transform.entities.MAX_MENTIONS) under the broker's 1 MB limit. Real
# news bodies stay far below this: the longest of the 2,225 BBC articles in shared/data
# is about 25 KB. Longer text is cut here and the article says ``truncated`` (P5, K12).
TEXT_MAX_BYTES = 400_000


def clean(value: str | None, limit: int, *, one_line: bool = False) -> str | None:
    """``value`` without NUL/control characters, at most ``limit`` characters."""
    if value is None:
        return None
    if "\x00" in value:
        metrics.SANITIZED.labels("nul").inc(value.count("\x00"))
        value = value.replace("\x00", "")
    value, n = _CONTROL.subn("", value)
    if n:
        metrics.SANITIZED.labels("control").inc(n)
    if one_line:
        value = _SPACE.sub(" ", value).strip()
    if len(value) > limit:
        metrics.SANITIZED.labels("truncated").inc()
        value = value[:limit]
    return value


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _char_ref(match: re.Match[str]) -> str:
    hex_digits, dec_digits = match.groups()
    digits = (hex_digits or dec_digits).lstrip("0") or "0"
    if len(digits) <= 7 and _xml_char(int(digits, 16 if hex_digits else 10)):
        return match.group(0)
    metrics.SANITIZED.labels("char_ref").inc()
    return " "  # not "": "&#&#1;1;" would become a new "&#1;"


def clean_markup(html: str) -> str:
    """``html`` without references to, or raw, characters XML forbids (``&#1;``,
    ``&#xFFFF;``, ``&#xD800;``, out-of-range numbers, raw C0 controls, lone surrogates).

    Raw characters go first, then references become a space, so no removal can assemble
    a new reference: the result is a fixed point."""
    html, n = _XML_FORBIDDEN.subn("", html)
    if n:
        metrics.SANITIZED.labels("control").inc(n)
    if "&#" in html:
        html = _CHAR_REF.sub(_char_ref, html)
    return html


def cap_text(text: str, max_bytes: int = TEXT_MAX_BYTES) -> tuple[str, bool]:
    """``text`` cut to at most ``max_bytes`` of UTF-8, at a space when one is near the
    cut; and whether it was cut (counted as ``wiredesk_sanitized_total{kind="capped"}``)."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text, False
    cut = encoded[:max_bytes].decode("utf-8", "ignore")
    space = cut.rfind(" ", max(0, len(cut) - 1_000))
    metrics.SANITIZED.labels("capped").inc()
    return (cut[:space] if space > 0 else cut).rstrip(), True


def clean_title(value: str | None) -> str | None:
    """A title as plain one-line text: tags dropped, entities decoded, capped."""
    if not value:
        return None
    if "<" in value:
        metrics.SANITIZED.labels("markup").inc()
        value = _TAG.sub(" ", value)
    return clean(html.unescape(value), TITLE_MAX, one_line=True) or None


def clean_url(value: str | None) -> str | None:
    """A URL without whitespace or control characters; None when over ``URL_MAX``."""
    if not value:
        return None
    value = clean(value, URL_MAX + 1, one_line=True) or ""
    value = value.replace(" ", "%20")
    return value if 0 < len(value) <= URL_MAX else None
