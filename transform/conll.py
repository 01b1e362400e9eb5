"""CoNLL-2003 reader: documents as plain text with gold entity character spans.

Format: one token per line, ``token POS chunk NER``; blank lines end sentences;
``-DOCSTART-`` lines start documents. NER tags may be IOB1 (CoNLL's original: ``I-``
unless two entities of one type touch) or IOB2 (``B-`` at every start). A document's
text is its sentences' tokens joined by spaces, one sentence per line, so spans are
character offsets into that text, comparable with the tagger's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_TAG = re.compile(r"O|[BI]-[A-Za-z]+")


class ConllError(ValueError):
    """A line that is not ``token POS chunk NER`` with an IOB tag, or a file with no tagged
    token."""


@dataclass
class ConllDoc:
    text: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    tokens: int = 0


def read_conll(path: Path) -> list[ConllDoc]:
    docs: list[ConllDoc] = []
    doc: ConllDoc | None = None
    sentence: list[tuple[str, str]] = []

    def flush_sentence() -> None:
        nonlocal doc
        if not sentence:
            return
        if doc is None:
            doc = ConllDoc()
            docs.append(doc)
        offset = len(doc.text) + (1 if doc.text else 0)
        placed = []
        for token, tag in sentence:
            placed.append((offset, offset + len(token), tag))
            offset += len(token) + 1
        doc.text += ("\n" if doc.text else "") + " ".join(t for t, _ in sentence)
        doc.tokens += len(sentence)
        doc.spans.extend(_merge(placed))
        sentence.clear()

    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line:
                flush_sentence()
                continue
            parts = line.split()
            if parts[0] == "-DOCSTART-":
                flush_sentence()
                doc = ConllDoc()
                docs.append(doc)
                continue
            if len(parts) < 2 or not _TAG.fullmatch(parts[-1]):
                raise ConllError(
                    f"{path}:{n}: expected 'token POS chunk NER' with an IOB tag, got {line[:80]!r}"
                )
            sentence.append((parts[0], parts[-1]))
    flush_sentence()
    docs = [d for d in docs if d.tokens]
    if not docs:
        raise ConllError(f"{path}: no tagged tokens")
    return docs


def _merge(tokens: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Token tags -> entity spans (IOB1 or IOB2)."""
    spans: list[tuple[int, int, str]] = []
    for start, end, tag in tokens:
        prefix, _, kind = tag.partition("-")
        if prefix not in ("B", "I") or not kind:
            continue
        last = spans[-1] if spans else None
        touching = last is not None and last[1] + 1 == start and last[2] == kind
        if prefix == "I" and touching:
            assert last is not None
            spans[-1] = (last[0], end, kind)
        else:
            spans.append((start, end, kind))
    return spans
