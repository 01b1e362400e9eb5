"""The one normaliser for text that comes from the outside (feeds, pages, WARC headers).

feedparser and trafilatura pass NUL and other control characters through (catalogue X6,
E5, P3): PostgreSQL rejects NUL in text, and the rest is never wanted. Lone surrogates
cannot be encoded as UTF-8. Markup in feed titles is reduced to its text (X9): we store
text, never feed HTML. Every change is counted in ``wiredesk_sanitized_total{kind}``.
"""

from __future__ import annotations

import html
import re

from ingest import metrics

# C0 controls except \t \n \r, DEL, C1 controls, lone surrogates, non-characters.
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_TAG = re.compile(r"<[^>]*>?")
_SPACE = re.compile(r"\s+")

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
