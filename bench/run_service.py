#!/usr/bin/env python3
"""The cost of the sql bus (`wiredesk run`, `wiredesk local`) beside the in-process bus.

The same one-pass pipeline (`run_embedded`: poll every feed, drain every stage, SQLite
database) over the same corpus from the local news server, once on the in-process bus
(the baseline: nothing kept) and once on the sql bus over SQLite (WAL, synchronous=FULL:
every flush durable). A warm-up pass on a separate database loads the models first, so
neither measured pass pays for them. Prints seconds, articles per second, and the bus
file's size per article (news.raw, the raw HTML, is kept for replays).

    .venv/bin/python bench/run_service.py [--articles 200]

Corpus: bench/bench_corpus.py (real BBC/ECB+ texts from ../shared/data when present,
else invented ones; 35% wire copies).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import bench_corpus
from benchlib import commit, machine

from devserver.server import NewsServer, load_corpus
from wiredesk import db
from wiredesk.app.commands import run_embedded
from wiredesk.bus import Bus
from wiredesk.bus.memory import MemoryBus
from wiredesk.bus.sql import SqlBus
from wiredesk.logs import configure_logging
from wiredesk.settings import load_settings


def one_pass(feeds: list[str], port: int, directory: Path, name: str) -> tuple[float, int]:
    url = f"sqlite:///{directory / f'{name}.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    settings = load_settings(
        feeds=feeds,
        database_url=url,
        fetch_allow_loopback_ports=[port],
        fetch_host_delay_s=0.0,
        log_level="warning",
    )
    bus: Bus = (
        SqlBus(f"sqlite:///{directory / f'{name}.bus.db'}", partitions=settings.bus_partitions())
        if name.startswith("sql")
        else MemoryBus(partitions=settings.bus_partitions())
    )
    started = time.perf_counter()
    counts = run_embedded(settings, engine, bus)
    seconds = time.perf_counter() - started
    bus.close()
    engine.dispose()
    return seconds, counts["links"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=200)
    args = ap.parse_args()
    configure_logging("console", "warning")
    with tempfile.TemporaryDirectory(prefix="wiredesk-runbench-") as tmp:
        directory = Path(tmp)
        bench_corpus.write(directory / "corpus", args.articles, 0.35)
        with NewsServer(load_corpus(directory / "corpus")) as server:
            feeds = server.feed_urls()
            one_pass(feeds, server.port, directory, "warmup")
            rows = []
            for name in ("memory", "sql"):
                seconds, links = one_pass(feeds, server.port, directory, name)
                bus_file = directory / f"{name}.bus.db"
                size = bus_file.stat().st_size if bus_file.exists() else 0
                rows.append((name, links, seconds, links / seconds, size / max(1, links)))
    print(f"commit {commit()}; {machine()}; {args.articles} articles")
    print(f"{'bus':<8} {'links':>6} {'seconds':>8} {'articles/s':>11} {'bus KB/article':>15}")
    for name, links, seconds, rate, per in rows:
        print(f"{name:<8} {links:>6} {seconds:>8.1f} {rate:>11.1f} {per / 1024:>15.1f}")
    base, sql = rows[0][2], rows[1][2]
    print(f"sql bus / in-process bus time: {sql / base:.2f}")


if __name__ == "__main__":
    main()
