"""Benchmark: extraction in the sandboxed worker process vs in-process.

Runs trafilatura on every page of a JSONL file ({html, url}; default the shared
ScrapingHub dev pages) twice in the same run: in-process (the baseline, no bounds) and
through ``ingest.sandbox.Sandbox`` (what the extract stage does: a worker process with
RLIMIT_AS and a hard deadline). Prints pages/s, latency percentiles per page and the
parent's peak RSS, and the sandbox's overhead per page.

    .venv/bin/python bench/extract_sandbox.py [FILE] [--repeat 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

from ingest.evaluate import read_jsonl
from ingest.sandbox import Sandbox
from ingest.sandbox_tasks import extract_page

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "pages_aeb_dev.jsonl.gz"


def _measure(name: str, pages: list[dict], run) -> dict:
    latencies = []
    started = time.perf_counter()
    for page in pages:
        t = time.perf_counter()
        run(page["html"], page.get("url") or "")
        latencies.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "mode": name,
        "pages": len(pages),
        "pages_per_s": len(pages) / total,
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "max_ms": max(latencies) * 1000,
        "mean_ms": statistics.mean(latencies) * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path, nargs="?", default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=2, help="passes over the file per mode")
    args = ap.parse_args()
    if not args.file.exists():
        raise SystemExit(f"{args.file} not found (pass a JSONL file of pages)")
    pages = list(read_jsonl(args.file)) * args.repeat
    extract_page(pages[0]["html"], "")  # warm the in-process imports for fairness
    rows = [_measure("in-process (baseline)", pages, extract_page)]
    with Sandbox(workers=1, timeout_s=20, memory_mb=1024) as sandbox:
        sandbox.run("extract_page", "<p>warm-up</p>", "")  # worker start-up not counted
        rows.append(
            _measure("sandbox worker", pages, lambda h, u: sandbox.run("extract_page", h, u))
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(pages)} page extractions from {args.file.name} ({args.repeat} passes)")
    print(f"{'mode':<24}{'pages/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'mean ms':>9}")
    for r in rows:
        print(
            f"{r['mode']:<24}{r['pages_per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}"
            f"{r['max_ms']:>9.1f}{r['mean_ms']:>9.1f}"
        )
    base, boxed = rows
    print(
        f"sandbox overhead: {boxed['mean_ms'] - base['mean_ms']:+.1f} ms per page "
        f"({boxed['mean_ms'] / base['mean_ms'] - 1:+.1%}); parent peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
