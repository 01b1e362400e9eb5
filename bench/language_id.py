"""Language identification: py3langid against lingua-py on real multilingual pages.

Data: ``../shared/data/pages_trafilatura_dev.jsonl.gz`` (495 real pages, mostly German,
English and French). Gold labels are ones we can trust: the page's declared language
(``<html lang>`` / Content-Language, :func:`ingest.extract.page_language`) is kept only
where it agrees with the country in the page's gold metadata (``region``, else the
URL's country-code domain: DE/AT -> de, FR -> fr, GB/US/... -> en, CH -> de or fr); other
pages are left out. Pages whose declaration disagrees with their region (German pages
declared ``en``) are scored apart, against the region's language. Texts per page:

* short: the gold title (a headline-sized text);
* long: the page text as trafilatura extracts it (the pipeline's own input).

Few of those pages are English with a checked label (most English pages are on ``.com``
with no region), so every 11th article of ``bbc_news_fulltext.jsonl.gz`` (English news by
construction; title and text) is added.

Run: ``.venv/bin/python bench/language_id.py [--limit N]``. Prints accuracy on each text
kind and detection time per text for both libraries, on the same texts in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura

from ingest.extract import page_language
from transform.language import Detector, LinguaDetector, Py3langidDetector

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = SHARED / "pages_trafilatura_dev.jsonl.gz"
BBC = SHARED / "bbc_news_fulltext.jsonl.gz"
REGION = {"DE": {"de"}, "AT": {"de"}, "CH": {"de", "fr"}, "FR": {"fr"}, "BE": {"fr", "nl"}}
for _cc in ("GB", "US", "UK", "IE", "AU", "CA", "NZ"):
    REGION[_cc] = {"en"}


def _cctld(url: str) -> str:
    """The country of the URL's country-code top-level domain, if it has one."""
    host = urlsplit(url).hostname or ""
    tld = host.rsplit(".", 1)[-1]
    return tld if len(tld) == 2 else ""


Item = tuple[str, str, str]


def load(path: Path, limit: int | None) -> tuple[list[Item], list[Item], dict[str, int]]:
    """(gold, short text, long text) per trusted page and per mis-declared page, and counts."""
    items: list[Item] = []
    misdeclared: list[Item] = []
    counts = {"pages": 0, "no_region_or_declaration": 0, "declared_disagrees": 0}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            page = json.loads(line)
            counts["pages"] += 1
            meta = page.get("gold_meta") or {}
            declared = page_language(page["html"])
            allowed = REGION.get((meta.get("region") or _cctld(page["url"])).upper())
            if not declared or not allowed:
                counts["no_region_or_declaration"] += 1
                continue
            text = trafilatura.extract(page["html"]) or ""
            title = meta.get("title") or ""
            if len(title) < 10 or len(text) < 200:
                counts["no_region_or_declaration"] += 1
                continue
            if declared not in allowed:
                counts["declared_disagrees"] += 1
                if len(allowed) == 1:
                    misdeclared.append((next(iter(allowed)), title, text))
                continue
            items.append((declared, title, text))
            if limit and len(items) >= limit:
                break
    if BBC.exists():
        with gzip.open(BBC, "rt", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i % 11 == 0:
                    doc = json.loads(line)
                    items.append(("en", doc["title"], doc["text"]))
    return items, misdeclared, counts


def measure(detect: Callable[[str], str | None], texts: list[str], gold: list[str]) -> dict:
    started = time.perf_counter()
    predicted = [detect(t) for t in texts]
    seconds = time.perf_counter() - started
    correct = sum(p == g for p, g in zip(predicted, gold, strict=True))
    abstained = sum(p is None for p in predicted)
    per = {
        lang: sum(p == g for p, g in zip(predicted, gold, strict=True) if g == lang)
        / gold.count(lang)
        for lang in sorted(set(gold))
    }
    per_lang = "  ".join(f"{lang} {acc:.3f}" for lang, acc in per.items())
    return {
        "accuracy": correct / len(gold),
        "ms_per_text": 1000 * seconds / len(gold),
        "per_language": f"{per_lang}; abstained {abstained}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    items, misdeclared, counts = load(args.data, args.limit)
    gold = [g for g, _, _ in items]
    langs = {g: gold.count(g) for g in sorted(set(gold))}
    print(f"pages {counts['pages']}, trusted {len(items)} {langs}, left out: {counts}")
    detectors: list[Detector] = []
    makers: list[Callable[[], Detector]] = [
        Py3langidDetector,
        lambda: Py3langidDetector(min_confidence=0.0),
        LinguaDetector,
    ]
    for make in makers:
        started = time.perf_counter()
        det = make()
        if getattr(det, "min_confidence", None) == 0.0:
            det.name = "py3langid (no abstention)"
        det.detect("warm up the model")
        print(f"{det.name:<28} load {time.perf_counter() - started:.2f} s")
        detectors.append(det)
    runs = [("short (title)", items, 1), ("long (extracted text)", items, 2)]
    runs.append(("declared language disagrees with region, long text", misdeclared, 2))
    for kind, chosen, col in runs:
        gold = [g for g, _, _ in chosen]
        texts = [item[col] for item in chosen]
        mean = sum(len(t) for t in texts) / len(texts)
        print(f"\n{kind}: {len(texts)} texts, mean {mean:.0f} chars")
        for det in detectors:
            r = measure(det.detect, texts, gold)
            print(
                f"  {det.name:<26} accuracy {r['accuracy']:.4f} ({r['per_language']})  "
                f"{r['ms_per_text']:.2f} ms/text"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
