#!/usr/bin/env python3
"""NER per paragraph with reuse (issue 17) vs the earlier whole-text tagging, same run.

BBC texts (../shared/data) tagged three ways with the shipped model, process CPU timed:

  baseline     the earlier path: the text in pieces of at most 4,000 characters, one
               ``nlp(piece)`` after the other (``transform.entities.pieces``)
  paragraphs   ``EntityTagger`` as the enricher runs it now, nothing kept between texts
               (``recent_paragraphs=0``): each non-blank line, all through ``nlp.pipe``
  + copies     the same tagger keeping recent paragraphs, on the originals and then one
               wire copy of each, edited as copies are (a new first line, one sentence
               changed, the last paragraph cut): the copies' CPU per text

Also printed: how many of the baseline's mentions (label, span) the paragraph path finds,
texts tagged identically, and the copies' paragraphs reused. Exit 1 if a copy's entities
differ from tagging it afresh (reuse must not change a result).

    .venv/bin/python bench/ner_paragraphs.py [--docs 500] [--smoke] [--json PATH]
"""

from __future__ import annotations

import argparse
import time

import benchlib

from transform.entities import MAX_CHARS, EntityTagger, mentions, pieces


def whole(tagger: EntityTagger, text: str) -> list[tuple[str, int, int]]:
    found = []
    with tagger.nlp.memory_zone():
        for offset, piece in pieces(text):
            found += [
                (m.label, m.start + offset, m.end + offset) for m in mentions(tagger.nlp(piece))
            ]
    return found


def spans(tagger: EntityTagger, text: str) -> list[tuple[str, int, int]]:
    return [(m.label, m.start, m.end) for m in tagger.find(text)]


def copy_of(text: str) -> str:
    """A wire copy as outlets make them: their own first line, an edit, the end cut."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > 2:
        lines = lines[:-1]
    middle = len(lines) // 2
    lines[middle] = lines[middle].replace(" the ", " a ", 1)
    return "\n".join(["(Newswire) Updated at 10:42 GMT.", *lines])


def timed(fn, texts: list[str]) -> tuple[float, list]:
    started = time.process_time()
    out = [fn(t) for t in texts]
    return (time.process_time() - started) * 1000 / len(texts), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--docs", type=int, default=500, help="BBC texts (default 500)")
    ap.add_argument("--smoke", action="store_true", help="60 texts")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    args = ap.parse_args(argv)
    texts = [t[:MAX_CHARS] for t in benchlib.bbc_texts(60 if args.smoke else args.docs)]
    fresh = EntityTagger(recent_paragraphs=0)
    fresh.tag(texts[0])  # warm
    base_ms, base = timed(lambda t: whole(fresh, t), texts)
    para_ms, para = timed(lambda t: spans(fresh, t), texts)
    base_ms2, _ = timed(lambda t: whole(fresh, t), texts)  # again: load drift shows
    keeping = EntityTagger()
    for t in texts:
        keeping.tag(t)
    copies = [copy_of(t) for t in texts]
    reused_before = len(keeping.recent)
    copy_ms, copy_tags = timed(keeping.tag_counted, copies)
    fresh_copy_ms, fresh_copies = timed(fresh.tag, copies)
    same_copies = sum(
        1 for (got, _, _), want in zip(copy_tags, fresh_copies, strict=True) if got == want
    )
    reused = sum(r for _, _, r in copy_tags)
    paragraphs = sum(t + r for _, t, r in copy_tags)
    found_base = {(i, *m) for i, ms in enumerate(base) for m in ms}
    found_para = {(i, *m) for i, ms in enumerate(para) for m in ms}
    data = {
        "docs": len(texts),
        "baseline_ms_per_text": [base_ms, base_ms2],
        "paragraphs_ms_per_text": para_ms,
        "copies_ms_per_text": copy_ms,
        "copies_fresh_ms_per_text": fresh_copy_ms,
        "mentions_baseline": len(found_base),
        "mentions_paragraphs": len(found_para),
        "mentions_common": len(found_base & found_para),
        "texts_identical": sum(1 for a, b in zip(base, para, strict=True) if a == b),
        "copy_paragraphs_reused": [reused, paragraphs],
        "copies_same_as_fresh": same_copies,
        "recent_paragraphs_held": reused_before,
        "peak_rss_mb": benchlib.self_peak_rss_mb(),
    }
    rows = [
        ["baseline: whole text (4,000-char pieces)", base_ms, 1.0],
        ["baseline again (after the others)", base_ms2, base_ms / base_ms2],
        ["paragraphs, nlp.pipe, nothing kept", para_ms, base_ms / para_ms],
        ["copies, tagged afresh", fresh_copy_ms, base_ms / fresh_copy_ms],
        ["copies, recent paragraphs kept", copy_ms, base_ms / copy_ms],
    ]
    lines = [
        f"{len(texts)} BBC texts (avg {sum(map(len, texts)) / len(texts):.0f} chars), "
        f"then one edited copy of each",
        benchlib.table(["mode", "CPU ms/text", "x base"], rows, first=42),
        f"mentions: baseline {len(found_base)}, paragraphs {len(found_para)}, common "
        f"{len(found_base & found_para)}; texts tagged identically {data['texts_identical']}"
        f" of {len(texts)}",
        f"copies: {reused} of {paragraphs} paragraphs reused; entities the same as tagging "
        f"afresh: {same_copies} of {len(copies)}",
        f"peak RSS of this process: {data['peak_rss_mb']:.0f} MiB",
    ]
    benchlib.results(
        "NER: per paragraph with reuse vs whole text", "\n".join(lines), data, args.json
    )
    return 0 if same_copies == len(copies) else 1


if __name__ == "__main__":
    raise SystemExit(main())
