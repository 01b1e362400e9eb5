"""Correction and update notices in an article's title or text (English).

Newsrooms mark a changed article with a short notice, usually at the top or the foot of
the text. The patterns are deliberately few and anchored to a sentence start or a line:

* ``Correction:`` / ``CORRECTION`` / ``Corrections:`` (a label, any case),
* ``Clarification:`` (a label),
* ``An earlier version of this article/story/report ...``,
* ``This article/story has been updated/corrected/amended ...``,
* ``Editor's note:`` followed by "correct" or "updated" within the sentence.

Only the title and the first and last ``WINDOW`` characters of the text are searched
(notices live there; a quotation of "correction" deep inside a story does not count),
with RE2 (linear time on untrusted text). The notice returned is its sentence, at most
``NOTICE_MAX`` characters.
"""

from __future__ import annotations

import re2

WINDOW = 2_000
NOTICE_MAX = 300

_START = r"(?:^|[\n.!?:\]\)]\s*|\s{2,})"
_DASH = "[:\\-\u2013\u2014]"  # a colon, hyphen, en or em dash after a label
_PATTERNS = (
    r"corrections?\s*" + _DASH,
    r"(?-i:CORRECTION)\b",
    r"clarifications?\s*" + _DASH,
    r"an earlier version of this (?:article|story|report|piece)\b",
    r"this (?:article|story|report|piece) (?:has been|was) (?:updated|corrected|amended)\b",
    r"editor'?s note\s*:[^\n.]{0,200}\b(?:correct|updated)",
)
_NOTICE = re2.compile(r"(?im)" + _START + "(" + "|".join(_PATTERNS) + ")")
_SENTENCE_END = re2.compile(r"[.!?](?:\s|$)|\n")


def find_notice(title: str, text: str) -> str | None:
    """The correction/update notice of an article, or None when it has none."""
    for part in (title, text[:WINDOW], text[-WINDOW:] if len(text) > WINDOW else ""):
        match = _NOTICE.search(part) if part else None
        if match is not None:
            start = match.start(1)
            end = _SENTENCE_END.search(part, match.end(1))
            stop = end.end() if end is not None else len(part)
            return " ".join(part[start:stop].split())[:NOTICE_MAX]
    return None
