"""Benchmark: what the raw WARC archive adds to the fetch stage, per page.

Builds the demo corpus's article pages as news.raw records (repeated to ``--pages``),
then measures in the same run:

* baseline: what the fetch stage already does per page after the HTTP response:
  build the record (gzip + base64 of the HTML) and encode it for the bus;
* archive: ``WarcArchive.write`` of each record to a local directory (two gzip WARC
  records, flush + fsync, one index row in a SQLite database, as in embedded mode).

Prints ms per page and bytes per page on disk.

    .venv/bin/python bench/archive_write.py [--pages 600]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devserver.pages import render_article
from devserver.server import load_corpus
from ingest.archive import ArchiveOptions, WarcArchive
from ingest.archive_index import SqlArchiveIndex
from wiredesk import db
from wiredesk.records import RawPage, url_id


def pages(count: int) -> list[RawPage]:
    corpus = load_corpus()
    sites = {s.site: s for s in corpus.sites}
    base = "http://127.0.0.1:8800"
    start = datetime(2026, 12, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        a = corpus.articles[i % len(corpus.articles)]
        url = f"{base}{a.path}?copy={i}"
        html = render_article(sites[a.site], a, base, []).decode("utf-8")
        out.append(
            RawPage(
                article_id=url_id(url),
                url=url,
                final_url=url,
                status=200,
                content_type="text/html; charset=utf-8",
                html=html,
                fetched_at=start + timedelta(seconds=i),
                source="fetch",
                rights_evidence=["robots:unknown", "tdmrep:unknown"],
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=600)
    args = parser.parse_args()
    records = pages(args.pages)
    fields = [r.model_dump(exclude={"html_gzip"}) | {"html": r.html} for r in records]
    started = time.perf_counter()
    encoded = sum(len(RawPage(**f).encode()) for f in fields)
    baseline = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        archive = WarcArchive(ArchiveOptions(str(Path(tmp) / "warc")), SqlArchiveIndex(engine))
        started = time.perf_counter()
        for r in records:
            archive.write(r)
        archive.close()
        written = time.perf_counter() - started
        on_disk = sum(p.stat().st_size for p in (Path(tmp) / "warc").rglob("*.warc.gz"))
        engine.dispose()
    n = len(records)
    print(f"pages: {n}, mean HTML {sum(len(r.html) for r in records) / n / 1000:.1f} kB")
    print(f"baseline  RawPage + encode: {baseline / n * 1000:.3f} ms/page ({encoded / n:.0f} B)")
    print(f"archive   WarcArchive.write: {written / n * 1000:.3f} ms/page ({on_disk / n:.0f} B)")


if __name__ == "__main__":
    main()
