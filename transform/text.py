"""Text normalisation for dedup: what stays the same when an outlet republishes wire copy.

Outlets change headlines, datelines and bylines, add their own boilerplate ("Read more",
"Sign up for ...", copyright lines, embedded tweets) and cut the last paragraphs. So the
body is compared, not the page: the headline line trafilatura puts first is dropped, and
so are lines that look like bylines, boilerplate or social embeds, and a leading dateline
("LONDON (Reuters) -"). What is left is case-folded, stripped of accents and split
into word tokens (any script: Cyrillic or Greek text is tokenised as well as English;
scripts written without spaces give long tokens, so dedup is coarser for them); shingles
are word n-grams of those tokens.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

SHINGLE_WORDS = 5

_WORD = re.compile(r"[^\W_]+")
_THOUSANDS = re.compile(r"(?<=\d)[,.\u202f\u00a0](?=\d{3}\b)")  # 4,200 / 4.200 -> 4200
_SPACE = re.compile(r"\s+")
# " date 2023-05-23 " prefix some extractors leave in front of the text
_DATE_PREFIX = re.compile(r"^\s*date\s+\d{4}-\d{2}-\d{2}\s+", re.IGNORECASE)
# "LONDON, Nov 18 (Associated Wire) — ", "KYIV (Reuters) - ", "BERLIN — "
# regex-audit: linear because body_lines applies it to DATELINE_WINDOW (300) chars only
_DATELINE = re.compile(
    r"^[A-Z][A-Z .'\-]{1,40}(?:,\s*[A-Za-z]{3,9}\.?\s+\d{1,2})?"
    r"\s*(?:\([^)]{1,40}\))?\s*[-\u2013\u2014:]+\s+"
)
# Its adjacent ``\s*`` runs make it quadratic (and worse) in a long run of spaces, so it
# is applied to a bounded window; a real dateline is under 150 characters.
DATELINE_WINDOW = 300
_BYLINE = re.compile(r"^(by|from|reporting by|written by|edited by)\s+\S", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"(pic\.twitter\.com|https?://|^advertisement$|^read more\b|^related:|^see also\b"
    r"|all rights reserved|^©|^copyright\b|\bsign up\b|\bnewsletter\b|\bsubscribe\b"
    r"|^share this\b|^follow (us|our)\b|^click here\b|^updated:|^published:|^listen to\b"
    r"|^watch:|^photo:|^image:|^\(?additional reporting\b|google news)",
    re.IGNORECASE,
)
_BOILERPLATE_MAX_WORDS = 40


def fold(text: str) -> str:
    """Case-folded, accents dropped (Kästner -> kastner); other scripts kept as they are."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def body_lines(title: str, text: str) -> list[str]:
    """The article's own lines: headline, bylines, datelines and boilerplate removed."""
    text = _DATE_PREFIX.sub("", text, count=1)
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    folded_title = _SPACE.sub(" ", fold(title)).strip()
    headline = lines and _SPACE.sub(" ", fold(lines[0])).strip() == folded_title
    if headline and len(lines) > 1:
        lines = lines[1:]
    kept = []
    for line in lines:
        words = len(line.split())
        if words <= 12 and _BYLINE.match(line):
            continue
        if words <= _BOILERPLATE_MAX_WORDS and _BOILERPLATE.search(line):
            continue
        kept.append(line)
    if kept:  # the dateline regex only ever sees the line's start (issue 13, B2)
        first = kept[0]
        kept[0] = _DATELINE.sub("", first[:DATELINE_WINDOW], count=1) + first[DATELINE_WINDOW:]
    return kept


def tokens(title: str, text: str) -> list[str]:
    """Normalised word tokens of the body (see :func:`body_lines`)."""
    return _WORD.findall(_THOUSANDS.sub("", fold(" ".join(body_lines(title, text)))))


def shingles(words: Sequence[str], size: int = SHINGLE_WORDS) -> set[str]:
    """Word n-grams; a text shorter than ``size`` words is one shingle."""
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def lead_shingles(words: Sequence[str], count: int, size: int = SHINGLE_WORDS) -> set[str]:
    """The first ``count`` shingles: what survives when the last paragraphs are cut."""
    return shingles(words[: count + size - 1], size)


def normalised_hash(words: Sequence[str]) -> str:
    """SHA-256 of the normalised tokens: equal for copies that differ only in layout,
    case, punctuation, headline, byline, dateline or boilerplate lines."""
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()
