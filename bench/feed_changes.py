#!/usr/bin/env python3
"""A busy feed polled again and again: parse every item vs only the changed ones (issue 17).

A feed of ``--items`` items (RSS 2.0 and Atom, as news sites serve them: titles, links,
dates, summaries of a few hundred characters) gains ``--new`` items per poll, its oldest
drop off and every tenth poll edits one title; ``--polls`` polls. Each poll's body goes
through ``ingest.feedparse.parse_feed`` in the poller's sandbox process, in the same run:

  baseline   every item parsed at every poll (no ItemCache: the earlier poller)
  changed    ``ItemCache``: feedparser reads the head, the new or edited items, the tail

Prints CPU ms per poll (this process + the sandbox worker), the items parsed and reused,
and whether both give the same entries at every poll (exit 1 if not).

    .venv/bin/python bench/feed_changes.py [--items 50] [--new 2] [--polls 200] [--smoke]
"""

from __future__ import annotations

import argparse
import os

import benchlib

from ingest.feeditems import ItemCache
from ingest.feedparse import parse_feed
from ingest.sandbox import Sandbox

SUMMARY = "A few sentences about what happened, who said what and where it happened next. " * 4


def _edit(n: int, edits: dict[int, int]) -> str:
    return f" (updated {edits[n]})" if n in edits else ""


def rss(ids: list[int], poll: int, edits: dict[int, int]) -> bytes:
    items = "".join(
        f"<item><title>Story {n}{_edit(n, edits)}</title>"
        f"<link>https://news.example/{n}</link><guid>https://news.example/{n}</guid>"
        f"<pubDate>Tue, 01 Dec 2026 {n % 24:02d}:{n % 60:02d}:00 GMT</pubDate>"
        f"<description>{SUMMARY}</description></item>\n"
        for n in ids
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Wire'
        f"</title><link>https://news.example/</link><lastBuildDate>Tue, 01 Dec 2026 10:"
        f"{poll % 60:02d}:00 GMT</lastBuildDate>\n{items}</channel></rss>\n"
    ).encode()


def atom(ids: list[int], poll: int, edits: dict[int, int]) -> bytes:
    entries = "".join(
        f"<entry><title>Story {n}{_edit(n, edits)}</title>"
        f'<link href="https://news.example/{n}"/><id>urn:news:{n}</id>'
        f"<updated>2026-12-01T{n % 24:02d}:{n % 60:02d}:00Z</updated>"
        f"<summary>{SUMMARY}</summary></entry>\n"
        for n in ids
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Wire</title><updated>2026-12-01T10:{poll % 60:02d}:00Z</updated>\n"
        f"{entries}</feed>\n"
    ).encode()


def bodies(render, items: int, new: int, polls: int) -> list[bytes]:
    ids, edits, out = list(range(items, 0, -1)), {}, []
    for poll in range(polls):
        ids = [*range(items + (poll + 1) * new, items + poll * new, -1), *ids][:items]
        if poll % 10 == 9:
            edits[ids[len(ids) // 2]] = poll
        out.append(render(ids, poll, edits))
    return out


def run(box: Sandbox, feeds: list[bytes], cache: ItemCache | None) -> tuple[float, list]:
    headers = {"content-type": "application/xml"}
    cpu = benchlib.cpu_seconds
    pids = benchlib.descendants(os.getpid())  # this process and its sandbox worker
    started = sum(cpu(p) for p in pids)
    got = [
        [
            (e.link, e.title, e.published)
            for e in parse_feed(b, headers, box, 1000, 5.0, cache, "f").entries
        ]
        for b in feeds
    ]
    spent = sum(cpu(p) for p in pids) - started
    if benchlib.descendants(os.getpid()) != pids:
        raise SystemExit("the sandbox worker was replaced during the run: CPU not comparable")
    return spent * 1000 / len(feeds), got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--items", type=int, default=50, help="items in the feed (default 50)")
    ap.add_argument("--new", type=int, default=2, help="new items per poll (default 2)")
    ap.add_argument("--polls", type=int, default=200, help="polls (default 200)")
    ap.add_argument("--smoke", action="store_true", help="30 polls")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.polls = 30
    from ingest import metrics

    rows, data, same = [], {}, True
    with Sandbox(workers=1) as box:
        box.run("parse_feed", rss([1], 0, {}), {}, 10)  # the worker is up before timing
        for name, render in (("RSS 2.0", rss), ("Atom", atom)):
            feeds = bodies(render, args.items, args.new, args.polls)
            base_ms, base = run(box, feeds, None)
            parsed = metrics.FEED_ITEMS_PARSED.labels("parsed")._value.get()
            reused = metrics.FEED_ITEMS_PARSED.labels("reused")._value.get()
            changed_ms, changed = run(box, feeds, ItemCache())
            parsed = metrics.FEED_ITEMS_PARSED.labels("parsed")._value.get() - parsed
            reused = metrics.FEED_ITEMS_PARSED.labels("reused")._value.get() - reused
            same = same and base == changed
            rows.append([f"{name}: baseline, every item", base_ms, 1.0, "", ""])
            rows.append(
                [
                    f"{name}: changed items only",
                    changed_ms,
                    base_ms / changed_ms,
                    int(parsed),
                    int(reused),
                ]
            )
            data[name] = {
                "baseline_cpu_ms_per_poll": base_ms,
                "changed_cpu_ms_per_poll": changed_ms,
                "items_parsed": parsed,
                "items_reused": reused,
                "same_entries": base == changed,
            }
    lines = [
        f"a feed of {args.items} items, {args.new} new per poll, a title edited every 10th "
        f"poll, {args.polls} polls; parse_feed in the poller's sandbox",
        benchlib.table(["mode", "CPU ms/poll", "x base", "parsed", "reused"], rows, first=34),
        f"same entries at every poll: {same}",
    ]
    benchlib.results("FEED POLLS: every item vs changed items", "\n".join(lines), data, args.json)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
