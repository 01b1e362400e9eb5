"""Small helpers shared by the bench scripts: percentiles, /proc sampling, results output.

Not a package module on purpose: the scripts are run as ``.venv/bin/python bench/x.py``,
so ``bench/`` is on ``sys.path`` and ``import benchlib`` finds this file. ``REPO`` is put
on ``sys.path`` too, for the reliability harness (``tests.reliability.harness``), whose
stack, supervisor, corpus and pipeline pieces the end-to-end benchmark reuses.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# the reliability harness's /proc reader, so both measure memory the same way
from tests.reliability.harness.procfs import proc_status_kb as status_kb  # noqa: E402, F401

CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(values: Sequence[float], *qs: int) -> list[float]:
    """Percentiles ``qs`` (1-99) of ``values``; NaN when empty."""
    if not values:
        return [float("nan")] * len(qs)
    if len(values) == 1:
        return [float(values[0])] * len(qs)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return [cuts[q - 1] for q in qs]


def bbc_texts(n: int) -> list[str]:
    """The first ``n`` article texts of the BBC news set in ``../shared/data``."""
    out: list[str] = []
    with gzip.open(SHARED_DATA / "bbc_news_fulltext.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line)["text"])
            if len(out) >= n:
                break
    return out


def parser(
    doc: str | None, json_help: str = "also write the figures as JSON (- = stdout)"
) -> argparse.ArgumentParser:
    """An argument parser showing the script's docstring, with the usual ``--json``."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", metavar="PATH", help=json_help)
    return ap


def test_database_url(ap: argparse.ArgumentParser) -> str:
    """``WIREDESK_TEST_DATABASE_URL``, or the parser's one-line error (exit 2)."""
    url = os.environ.get("WIREDESK_TEST_DATABASE_URL")
    if not url:
        ap.error('set WIREDESK_TEST_DATABASE_URL (eval "$(deploy/local/stack env)")')
    return url


def self_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of one process (not its children); 0 if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (sandbox forkservers and their workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def machine() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "?"
    return (
        f"{os.cpu_count()} cores, {mem} RAM, {platform.platform()}, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}"
    )


def commit() -> str:
    """The code measured: the commit when the benchmark started (edits made while a long
    run goes on do not change what it runs)."""
    return _STARTED_AT


def _describe() -> str:
    out = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip() or "?"


_STARTED_AT = _describe()


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], first: int = 30) -> str:
    """A fixed-width table: the first column left-aligned, the others right-aligned."""
    rendered = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rendered]) for i, h in enumerate(headers)]
    widths[0] = max(widths[0], first)
    lines = []
    for row in [list(headers), *rendered]:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w + 2) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "-"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def results(title: str, body: str, data: dict[str, Any], json_path: str | None) -> None:
    """Print the results block (and write ``data`` as JSON when asked: a path or ``-``)."""
    bar = "=" * 78
    print(f"\n{bar}\n{title}\n{bar}\n{body}\n{bar}")
    print(f"machine: {machine()}; commit {commit()}")
    if json_path:
        text = json.dumps(data, indent=2, default=str)
        if json_path == "-":
            print(text)
        else:
            Path(json_path).write_text(text + "\n", encoding="utf-8")
            print(f"wrote {json_path}")
