#!/usr/bin/env python3
"""Feed parsing: our parse path vs plain feedparser.parse, on ../shared/data/feeds.

Every feed file of feeds.tar.gz (808 real and feedparser test-case feeds, with the HTTP
headers the manifest gives them), parsed in the same run three ways:

  baseline   feedparser.parse(bytes, response_headers=...) in-process, nothing else
  ours       ingest.feedparse.parse_feed in-process (sandbox=None): the declaration
             checks (no entities, no DTD), JSON Feed, the entry mapping
  sandboxed  ingest.feedparse.parse_feed with the sandbox, as the poller runs it (time
             and memory bound in a worker process)

Prints feeds/s, latency percentiles per feed, entries found, feeds rejected (our path
refuses entity/DTD feeds and non-feeds: that is the point, not a failure) and peak RSS.

    .venv/bin/python bench/feed_parsing.py [--repeat 3] [--smoke] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import time
from collections import Counter
from collections.abc import Callable

import benchlib
import feedparser
from benchlib import pct

from ingest.feedparse import FeedRejected, parse_feed
from ingest.sandbox import Sandbox

FEEDS = benchlib.SHARED_DATA / "feeds"


def load() -> list[tuple[bytes, dict[str, str]]]:
    manifest = {}
    for line in (FEEDS / "feeds_manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        manifest[row["path"]] = row
    out = []
    with tarfile.open(FEEDS / "feeds.tar.gz") as tar:
        for member in tar.getmembers():
            fh = tar.extractfile(member)
            if fh is None or member.name not in manifest:
                continue
            headers = {}
            for h in manifest[member.name].get("http_headers") or []:
                k, _, v = (h if isinstance(h, str) else ":".join(h)).partition(":")
                headers[k.strip().lower()] = v.strip()
            out.append((fh.read(), headers))
    return out


def measure(name: str, feeds: list[tuple[bytes, dict[str, str]]], parse: Callable) -> dict:
    times, outcomes, entries = [], Counter(), 0
    started = time.perf_counter()
    for body, headers in feeds:
        t = time.perf_counter()
        try:
            entries += parse(body, headers)
            outcomes["parsed"] += 1
        except FeedRejected as exc:
            outcomes[f"rejected: {exc.reason}"] += 1
        times.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    return {
        "mode": name,
        "feeds": len(feeds),
        "per_s": len(feeds) / wall,
        "ms": [v * 1000 for v in pct(times, 50, 95, 99)],
        "max_ms": max(times) * 1000,
        "entries": entries,
        "outcomes": dict(outcomes),
    }


def plain(body: bytes, headers: dict[str, str]) -> int:
    return len(feedparser.parse(io.BytesIO(body), response_headers=headers).entries)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=3, help="passes over the 808 feeds")
    ap.add_argument("--smoke", action="store_true", help="one pass over 100 feeds")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    args = ap.parse_args(argv)
    files = load()
    feeds = files[:100] if args.smoke else files * args.repeat
    plain(*feeds[0])  # imports and caches warm for everyone

    def ours(body: bytes, headers: dict[str, str], box: Sandbox | None = None) -> int:
        return len(parse_feed(body, headers, box, max_items=1000).entries)

    rows = [measure("baseline: feedparser.parse", feeds, plain)]
    rows.append(measure("ours, in-process", feeds, ours))
    with Sandbox(workers=1, timeout_s=5) as box:
        box.run("parse_feed", feeds[0][0], feeds[0][1], 10)  # worker start not counted
        rows.append(measure("ours, sandboxed (poller)", feeds, lambda b, h: ours(b, h, box)))
    data = {"feeds": len(feeds), "rows": rows, "peak_rss_mb": benchlib.self_peak_rss_mb()}
    head = ["mode", "feeds/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "entries", "parsed"]
    table = benchlib.table(
        head,
        [
            [r["mode"], r["per_s"], *r["ms"], r["max_ms"], r["entries"], r["outcomes"]["parsed"]]
            for r in rows
        ],
    )
    base = rows[0]["per_s"]
    lines = [f"{len(feeds)} feed parses ({len(files)} files x passes)", table]
    lines += [f"{r['mode']}: {r['per_s'] / base:.0%} of the baseline's rate" for r in rows[1:]]
    rejected = {k: v for k, v in rows[1]["outcomes"].items() if k != "parsed"}
    lines.append(f"our path rejected (by design): {rejected}")
    lines.append(f"peak RSS of this process: {data['peak_rss_mb']:.0f} MiB")
    benchlib.results("FEED PARSING: ours vs plain feedparser", "\n".join(lines), data, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
