#!/usr/bin/env python3
"""Where each worker's CPU goes, per article: py-spy raw stacks -> a step x stage table.

``bench/end_to_end.py --profile DIR`` samples every worker (and its extraction sandbox
children) with py-spy at 100 Hz into ``DIR/<service>-<n>-<start>.txt``; this reads them:

    .venv/bin/python bench/profile_report.py DIR --articles 5000 [--json]

A sample is charged to start-up when it is inside an import, else to the first step, from
the innermost frame outwards, whose pattern its frames match (JSON inside SQLAlchemy is
serialisation; the runner's own lines are bookkeeping only where no library below it
matched). py-spy samples running threads only, but it counts a thread waiting for a core
as running: end_to_end passes each service's CPU seconds measured from /proc (``--cpu``)
and the table splits that CPU in the samples' proportions. ``--nonblocking`` sampling
keeps the overhead low; take the throughput from a run without --profile.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

RATE_HZ = 100  # tests/reliability/harness/supervisor.py PROFILE_RATE_HZ

# (step, path fragments): the first step whose fragment is in a frame, innermost first.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("JSON / records", ("json/", "orjson", "pydantic", "wiredesk/records.py")),
    ("compression", ("gzip.py", "zlib", "lz4", "zstandard", "kafka/codec.py")),
    ("Kafka client", ("kafka/",)),
    ("SQL (SQLAlchemy, psycopg)", ("sqlalchemy/", "psycopg/", "sqlite3/")),
    ("HTTP", ("httpx/", "httpcore/", "h11/", "ssl.py", "ingest/netguard.py")),
    ("feed parsing", ("feedparser/", "ingest/feedparse.py")),
    (
        "extraction (trafilatura, lxml)",
        ("trafilatura/", "lxml", "justext", "htmldate/", "courlan/", "charset_normalizer"),
    ),
    ("sandbox IPC", ("ingest/sandbox", "multiprocessing/", "concurrent/futures")),
    ("NER (spaCy)", ("spacy/", "thinc/", "numpy/", "transform/entities.py")),
    (
        "entity ids",
        (
            "transform/canonical.py",
            "transform/translit.py",
            "wordfreq/",
            "transform/places.py",
            "anyascii",
            "rapidfuzz",
        ),
    ),
    ("language ID", ("py3langid", "transform/language.py")),
    (
        "dedup",
        (
            "transform/dedup.py",
            "transform/minhash.py",
            "transform/nearcopy.py",
            "transform/heavycopy.py",
            "transform/wirecopy.py",
            "transform/state.py",
        ),
    ),
    (
        "stories",
        (
            "transform/stories.py",
            "transform/storysim.py",
            "transform/scoring.py",
            "transform/revisions.py",
        ),
    ),
    ("sink rows", ("sink/",)),
    ("metrics", ("prometheus_client/",)),
    ("logging", ("structlog/", "logging/")),
    ("runner and stage code", ("wiredesk/", "ingest/", "transform/")),
)
_FRAME = re.compile(r"\(([^()]*?):\d+\)$")


def step_of(stack: str) -> str:
    """The step a sampled stack (``outer;...;inner``, py-spy's raw format) is charged to."""
    paths = [m.group(1) for f in reversed(stack.split(";")) if (m := _FRAME.search(f.strip()))]
    if any("importlib._bootstrap" in path for path in paths):
        return "start-up (imports)"
    for path in paths:
        for step, fragments in STEPS:
            if any(fragment in path for fragment in fragments):
                return step
    return "other (interpreter, stdlib)"


def service_of(path: Path) -> str:
    """``enrich-0-1.txt`` -> ``enrich``."""
    return path.stem.split("-")[0]


def read(profile_dir: Path) -> dict[str, dict[str, int]]:
    """Samples per service and step, over every file in ``profile_dir``."""
    samples: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path in sorted(profile_dir.glob("*.txt")):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                samples[service_of(path)][step_of(stack)] += int(count)
    return samples


def table(
    samples: dict[str, dict[str, int]],
    articles: int,
    cpu_s: dict[str, float] | None = None,
) -> dict[str, dict[str, float]]:
    """CPU ms per article per service and step: samples / rate / articles, or, given each
    service's measured CPU seconds (``cpu_s``, from /proc), that CPU split in the
    proportions of its samples. py-spy counts a thread that waits for a core as running,
    so on a loaded machine the samples alone overstate the CPU; their proportions hold."""
    out = {}
    for service, steps in samples.items():
        total = sum(steps.values())
        if cpu_s is not None and service in cpu_s and total:
            scale = cpu_s[service] / (total / RATE_HZ)
        else:
            scale = 1.0
        out[service] = {step: 1000 * n / RATE_HZ * scale / articles for step, n in steps.items()}
    return out


def render(ms: dict[str, dict[str, float]]) -> str:
    services = sorted(ms)
    steps = sorted(
        {s for per in ms.values() for s in per},
        key=lambda s: (-sum(per.get(s, 0.0) for per in ms.values()), s),
    )
    header = "| step | " + " | ".join(services) + " | all |"
    lines = [header, "| --- |" + " ---: |" * (len(services) + 1)]
    for step in steps:
        row = [ms[svc].get(step, 0.0) for svc in services]
        lines.append(f"| {step} | " + " | ".join(f"{v:.2f}" for v in row) + f" | {sum(row):.2f} |")
    totals = [sum(ms[svc].values()) for svc in services]
    lines.append(
        "| **total** | "
        + " | ".join(f"**{v:.2f}**" for v in totals)
        + f" | **{sum(totals):.2f}** |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("profile_dir", type=Path, help="py-spy raw files (end_to_end --profile)")
    ap.add_argument("--articles", type=int, required=True, help="articles the run handled")
    ap.add_argument(
        "--cpu",
        type=json.loads,
        metavar="JSON",
        help="measured CPU seconds per service, e.g. '{\"enrich\": 33.2}': split, not summed",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.articles <= 0:
        ap.error("--articles must be positive")
    samples = read(args.profile_dir)
    if not samples:
        print(f"profile_report: no py-spy files in {args.profile_dir}", file=sys.stderr)
        return 2
    ms = table(samples, args.articles, args.cpu)
    print(json.dumps(ms, indent=1) if args.json else render(ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
