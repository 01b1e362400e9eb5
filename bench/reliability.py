#!/usr/bin/env python3
"""Run the reliability suite (faults and bad input) and write RELIABILITY.md.

    .venv/bin/python bench/reliability.py --size reduced   # what `pytest tests` runs
    .venv/bin/python bench/reliability.py --size full      # the issue's full-size run

Everything runs on 127.0.0.1: the suite starts its own private Kafka + PostgreSQL
(deploy/local/stack with a temp state dir and free ports) and never touches the shared
stack. Each test of tests/reliability records one row (fault or input, runs, records
lost, duplicate rows, outcome, peak RSS); this script runs them with pytest and turns
the rows into the table of RELIABILITY.md, with the command, commit and machine.
Everything from the ``HAND_WRITTEN`` marker line on (the catalogue of the fault classes
fixed, with their tests) is hand-written and kept as it is in the report file.
Exit code: pytest's (0 = every row met its expected outcome).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HAND_WRITTEN = "<!-- hand-written from here on: bench/reliability.py keeps this part as it is -->"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--size",
        choices=["reduced", "full"],
        default="reduced",
        help="reduced: CI size (300 articles, short outages); full: the issue's "
        "size (2,000 articles, 30 s outages, 12 kills, 5 min rebalance storm)",
    )
    ap.add_argument("--output", type=Path, default=REPO / "RELIABILITY.md", help="report file")
    ap.add_argument("-k", dest="select", help="pytest -k expression (a subset of the rows)")
    args = ap.parse_args(argv)

    rows_file = Path(tempfile.mkstemp(prefix="wiredesk-rel-rows-", suffix=".jsonl")[1])
    env = {
        **os.environ,
        "WIREDESK_RELIABILITY_SIZE": args.size,
        "WIREDESK_RELIABILITY_ROWS": str(rows_file),
        "WIREDESK_REQUIRE_INTEGRATION": "1",
    }
    # A base temp dir of our own: pytest prunes old numbered dirs under the shared
    # /tmp/pytest-of-<user>, which would delete a long run's logs under its feet.
    basetemp = Path(tempfile.gettempdir()) / f"wiredesk-reliability-{args.size}"
    cmd = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-rxXf"]
    cmd += ["-p", "no:cacheprovider", f"--basetemp={basetemp}"]
    if args.select:
        cmd += ["-k", args.select]
    load_before = os.getloadavg()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        sys.stdout.write(line)
        tail = (tail + [line.rstrip()])[-3:]
    code = proc.wait()
    wall = time.monotonic() - started
    rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
    rows_file.unlink(missing_ok=True)
    invocation = "bench/reliability.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    report = render(rows, args.size, invocation, wall, load_before, tail[-1:], code)
    args.output.write_text(report + kept_part(args.output))
    print(f"wrote {args.output} ({len(rows)} rows, {wall:.0f} s)")
    return code


def kept_part(path: Path) -> str:
    """The hand-written part of an existing report (from the marker on), or ''."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    at = text.find(HAND_WRITTEN)
    return "" if at < 0 else "\n" + text[at:]


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip()


def machine() -> str:
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return (
        f"{os.cpu_count()} cores, {mem} RAM, {platform.platform()}, Python "
        f"{platform.python_version()}, {java[0] if java else 'java ?'}; Kafka 3.9.1 (KRaft) "
        f"and PostgreSQL 15 of deploy/local/stack, private instances on 127.0.0.1"
    )


OUTCOME = {
    "xpass": "as expected this time (non-strict xfail)",
    "passed": "as expected",
    "failed": "**FAILED**",
    "xfail": "not yet (xfail)",
    "skipped": "skipped",
    "error": "**ERROR**",
}


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def render(
    rows: list[dict],
    size: str,
    invocation: str,
    wall: float,
    load: tuple[float, ...],
    summary: list[str],
    code: int,
) -> str:
    commit = _git("rev-parse", "--short", "HEAD")
    changed = _git("status", "--porcelain", "--untracked-files=no").splitlines()
    others = [c for c in changed if "RELIABILITY.md" not in c]
    dirty = " (with uncommitted changes)" if others else ""
    lines = [
        "# Reliability",
        "",
        "Faults injected and bad input tried against wiredesk, each with its expected clear "
        "outcome (catalogue: `../shared/design/reliability-catalogue.md`). Produced by the suite "
        "in `tests/reliability/`; the table is written by the command below, not by hand (the "
        "catalogue after it is hand-written).",
        "",
        f"- **command**: `.venv/bin/python {invocation}` (size: **{size}**)",
        f"- **measured on**: commit `{commit}`{dirty}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **machine**: {machine()}",
        f"- **wall time**: {wall / 60:.1f} min; load average at start {load[0]:.2f}"
        + (" (other work shared the cores: timings are noisy)" if load[0] > 1.5 else ""),
        f"- **pytest**: {' '.join(summary) or '?'} (exit code {code})",
        "",
        "One fault run carries K2, K4, K5, K8, P1, B1, B4 and B5 at volume, so its rows share "
        "the run's "
        'reconciliation (records lost / duplicate rows at the end). "Runs" counts injections '
        "or inputs. Peak RSS is the highest VmHWM of the worker processes involved.",
        "",
        "| test | fault or input | runs | records lost | duplicate rows | outcome "
        "| peak RSS (MB) | observed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    row["id"],
                    row.get("fault", row["id"]),
                    row.get("runs"),
                    row.get("lost"),
                    row.get("duplicates"),
                    OUTCOME.get(row.get("outcome", ""), row.get("outcome")),
                    row.get("peak_rss_mb"),
                    row.get("note"),
                )
            )
            + " |"
        )
    pending = [r for r in rows if r.get("outcome") == "xfail"]
    if pending:
        lines += ["", "## Not yet (expected failures, strict: they turn red the day they pass)", ""]
        lines += [f"- `{r['id']}`: {r.get('xfail_reason', '')}" for r in pending]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
