#!/usr/bin/env python3
"""End to end: N articles from the local news server through real Kafka, every stage as
its own worker process, into PostgreSQL; then the limit (bench/limit.py) on the same
articles, so one command prints ``pipeline / limit``.

    .venv/bin/python bench/end_to_end.py                  # 5,000 articles (the issue's run)
    .venv/bin/python bench/end_to_end.py --smoke          # 300 articles, a few minutes
    .venv/bin/python bench/end_to_end.py --profile DIR    # + where the CPU goes (py-spy)

Corpus (bench/bench_corpus.py): real BBC and ECB+ texts, 35% invented wire copies of
earlier originals (half verbatim, half edited), rendered as pages and RSS/Atom feeds by
devserver.server on 127.0.0.1. Workers: `wiredesk poll|fetch|extract|enrich|sink`, one
process each by default (2 cores), started and watched by the reliability harness's
supervisor (tests/reliability/harness), with its worker settings (feeds polled every 2 s,
no politeness delay on our own server, 6 partitions, batches of 100).

Three phases, each article's appearance on the server timestamped:

  warm-up    2% of the articles visible at start; workers start, load models, drain them
  backlog    60% of the rest published at once: the sustained rate is the slope of rows
             in PostgreSQL between 10% and 90% of this backlog (start-up excluded)
  paced      the rest published steadily at --rate (default: half the sustained rate),
             so queues stay short: freshness = the row's created_at (PostgreSQL now() of
             the sink's transaction) - the moment the item appeared in its feed

Freshness includes the wait for the next poll of the feed; the poll interval and the
measured wait (appearance -> first request of that feed) are reported separately, and
so is freshness minus that wait. Also printed: peak RSS per service (VmHWM of the
worker; the sum over its sandbox children too), CPU seconds per article (user+sys of
every worker process from /proc, whole run and steady state = the backlog phase, whose
articles every stage handled in it) split by stage, with the
broker and PostgreSQL beside them; and the exactly-once check: every served article in
PostgreSQL exactly once (exit 1 if not).

Stack: the one in the environment (``eval "$(deploy/local/stack env)"``:
WIREDESK_KAFKA_BOOTSTRAP + WIREDESK_TEST_DATABASE_URL, a fresh schema and topic
namespace, dropped/left afterwards), or --private-stack (its own Kafka + PostgreSQL on
free ports in a temp dir, as the reliability suite does, destroyed afterwards).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bench_corpus
import benchlib
from benchlib import pct
from e2e_probe import Probe, Service
from sqlalchemy import create_engine, func, select, text

from devserver.server import NewsServer, load_corpus
from tests.reliability.harness import kafka_state, reconcile
from tests.reliability.harness.pipeline import fresh_schema, new_supervisor, worker_env
from tests.reliability.harness.stack import PrivateStack
from wiredesk.db.tables import ArticleRow

SERVICES = ("poll", "fetch", "extract", "enrich", "sink")


class Publisher:
    """Releases held-back articles and remembers when each appeared (wall, monotonic)."""

    def __init__(self, server: NewsServer) -> None:
        self.server = server
        self.appeared: dict[str, tuple[float, float]] = {}
        self.phase: dict[str, str] = {}
        now = (time.time(), time.monotonic())
        for a in server.visible_articles():
            self.appeared[a.id], self.phase[a.id] = now, "warm-up"

    def release(self, n: int, phase: str) -> None:
        arts = self.server.release(n)
        now = (time.time(), time.monotonic())
        for a in arts:
            self.appeared[a.id], self.phase[a.id] = now, phase

    def paced(self, n: int, per_s: float, phase: str) -> threading.Thread:
        def run() -> None:
            started, done = time.monotonic(), 0
            while done < n:
                due = min(n, int((time.monotonic() - started) * per_s) + 1)
                if due > done:
                    self.release(due - done, phase)
                    done = due
                time.sleep(0.05)

        thread = threading.Thread(target=run, name="publisher", daemon=True)
        thread.start()
        return thread


def wait_rows(probe: Probe, target: int, stall_s: float) -> bool:
    """Until ``target`` rows are stored; False if no new row arrived for ``stall_s``."""
    last, since = -1, time.monotonic()
    while probe.rows < target:
        if probe.rows != last:
            last, since = probe.rows, time.monotonic()
        elif time.monotonic() - since > stall_s:
            return False
        time.sleep(0.5)
    return True


def stack_pids(state_dir: Path | None) -> dict[str, Any]:
    def kafka() -> list[int]:
        try:
            return [int((state_dir / "run" / "kafka.pid").read_text())] if state_dir else []
        except (OSError, ValueError):
            return []

    def postgres() -> list[int]:
        try:
            pid_file = state_dir / "postgres" / "data" / "postmaster.pid" if state_dir else None
            return [int(pid_file.read_text().split()[0])] if pid_file else []
        except (OSError, ValueError, IndexError):
            return []

    return {"kafka broker": kafka, "postgresql": postgres}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    stack: PrivateStack | None = None
    if args.private_stack or not os.environ.get("WIREDESK_TEST_DATABASE_URL"):
        stack = PrivateStack.create()
        print(f"starting a private stack in {stack.state_dir} ...", flush=True)
        stack.up()
        bootstrap, admin_url, state_dir = stack.bootstrap, stack.database_url(), stack.state_dir
    else:
        bootstrap = os.environ["WIREDESK_KAFKA_BOOTSTRAP"]
        admin_url = os.environ["WIREDESK_TEST_DATABASE_URL"]
        # the stack's state dir: where deploy/local/stack keeps it unless told otherwise
        state_dir = Path(
            os.environ.get("WIREDESK_STACK_DIR", Path(__file__).resolve().parents[1] / ".stack")
        )
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    try:
        return _run(args, workdir, bootstrap, admin_url, schema, state_dir)
    finally:
        if stack is not None:
            stack.destroy()
        elif not args.keep:
            admin = create_engine(admin_url)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def _run(
    args: argparse.Namespace,
    workdir: Path,
    bootstrap: str,
    admin_url: str,
    schema: str,
    state_dir: Path | None,
) -> dict[str, Any]:
    n = args.articles
    kinds = bench_corpus.write(workdir / "corpus", n, args.wire_share)
    corpus = load_corpus(workdir / "corpus")
    paths = {a.path: a.id for a in corpus.articles}
    warm = max(10, n // 50)
    backlog = round((n - warm) * args.backlog_share)
    paced = n - warm - backlog
    db_url = fresh_schema(admin_url, schema)
    namespace = f"e2e{uuid.uuid4().hex[:8]}."
    engine = create_engine(db_url)
    server = NewsServer(corpus, hold_back=n - warm, feed_limit=200).start()
    env = worker_env(
        SimpleNamespace(bootstrap=bootstrap),  # type: ignore[arg-type]
        db_url,
        namespace,
        workdir,
        server.feed_urls(),
    )
    env["WIREDESK_EXTRACT_WORKERS"] = str(args.extract_pool)
    if args.profile:
        env["WIREDESK_PROFILE_DIR"] = str(args.profile.resolve())
    supervisor = new_supervisor(env, workdir)
    counts = {"poll": 1, "fetch": 1, "extract": args.extract, "enrich": args.enrich, "sink": 1}

    def pids_of(command: str) -> Any:
        return lambda: [s.pid for s in supervisor.slots if s.command == command and s.pid]

    services = [Service(c, pids_of(c)) for c in SERVICES]
    services += [Service(name, fn) for name, fn in stack_pids(state_dir).items()]

    def count_rows() -> int:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(ArticleRow)) or 0)

    probe = Probe(services, count_rows)
    publisher = Publisher(server)
    marks: dict[str, float] = {}
    ok = True
    try:
        marks["start"] = time.monotonic()
        probe.start()
        for command in SERVICES:
            supervisor.add(command, counts[command], **stage_env(args.stage_env, command))
        print(f"warm-up: {warm} articles, {sum(counts.values())} workers ...", flush=True)
        ok = wait_rows(probe, warm, args.stall_s)
        marks["warm"] = time.monotonic()
        if ok:
            print(f"backlog: {backlog} articles at once ...", flush=True)
            publisher.release(backlog, "backlog")
            marks["backlog"] = time.monotonic()
            ok = wait_rows(probe, warm + backlog, args.stall_s)
        sustained, steady_cpu = _sustained(probe, warm, backlog)
        rate = args.rate or max(0.5, sustained * 0.5)
        if ok:
            print(f"paced: {paced} articles at {rate:.2f}/s ...", flush=True)
            marks["paced"] = time.monotonic()
            publisher.paced(paced, rate, "paced")
            ok = wait_rows(probe, n, args.stall_s)
        marks["end"] = time.monotonic()
    finally:
        probe.stop()
        peak = {s.name: (s.hwm_kb / 1024, s.tree_rss_kb / 1024) for s in services}
        exits = supervisor.stop_all()
        requests = server.request_times
        server.stop()
    stored = reconcile.stored_articles(db_url, paths)
    created = _created_at(engine, paths)
    engine.dispose()
    per_id = Counter(a.corpus_id for a in stored)
    cid_of = {a.article_id: a.corpus_id for a in stored}
    verdicts = {a.corpus_id: cid_of.get(a.duplicate_of or "") for a in stored if a.corpus_id}
    (workdir / "verdicts.json").write_text(json.dumps(verdicts))
    dlq = sum(kafka_state.end_offsets(bootstrap, namespace + "news.dlq").values())
    check = {
        "served": len(publisher.appeared),
        "rows": len(stored),
        "missing": sorted(set(paths.values()) - set(per_id)),
        "twice_or_more": sorted(k for k, v in per_id.items() if k and v > 1),
        "unexpected_rows": sum(1 for a in stored if a.corpus_id is None),
        "dead_letters": dlq,
        "completed": ok,
    }
    check["exactly_once"] = (
        ok and not check["missing"] and not check["twice_or_more"] and not check["unexpected_rows"]
    )
    fresh = _freshness(publisher, created, requests, corpus)
    cpu_end = {s.name: s.cpu_total for s in services}
    return {
        "articles": n,
        "corpus": dict(kinds),
        "phases": {"warm-up": warm, "backlog": backlog, "paced": paced},
        "workers": counts,
        "stage_env": list(args.stage_env),
        "extract_sandbox_workers": args.extract_pool,
        "poll_interval_s": float(env["WIREDESK_POLL_INTERVAL_S"]),
        "poll_max_interval_s": float(env["WIREDESK_POLL_MAX_INTERVAL_S"]),
        "sustained_per_s": sustained,
        "paced_rate_per_s": rate,
        "whole_run_s": marks["end"] - marks["start"],
        "overall_per_s": check["rows"] / (marks["end"] - marks["start"]),
        "freshness": fresh,
        "peak_rss_mb": {k: {"worker_vmhwm": v[0], "with_children": v[1]} for k, v in peak.items()},
        "cpu_s_whole_run": cpu_end,
        "cpu_s_per_article_steady": steady_cpu,
        "check": check,
        "exit_codes": exits,
        "db_url_schema": schema,
    }


def _sustained(probe: Probe, warm: int, backlog: int) -> tuple[float, dict[str, float]]:
    """Rows/s between 10% and 90% of the backlog; CPU per article over the whole backlog
    phase (release -> last backlog row), when every stage handled exactly the backlog."""
    lo, hi = probe.when_rows(warm + 0.1 * backlog), probe.when_rows(warm + 0.9 * backlog)
    first, last = probe.when_rows(warm), probe.when_rows(warm + backlog)
    if not lo or not hi or not first or not last or hi[0] <= lo[0]:
        return float("nan"), {}
    cpu = {k: (last[1][k] - first[1][k]) / backlog for k in last[1]}
    cpu["window_s"] = hi[0] - lo[0]
    return 0.8 * backlog / (hi[0] - lo[0]), cpu


def _created_at(engine: Any, paths: dict[str, str]) -> dict[str, float]:
    from urllib.parse import urlsplit

    with engine.connect() as conn:
        rows = conn.execute(select(ArticleRow.url, ArticleRow.created_at)).all()
    return {paths[urlsplit(u).path]: c.timestamp() for u, c in rows if urlsplit(u).path in paths}


def _freshness(
    pub: Publisher, created: dict[str, float], requests: list[tuple[float, str]], corpus: Any
) -> dict[str, Any]:
    feed_times: dict[str, list[float]] = {}
    for t, path in requests:
        if path.endswith("/feed.xml"):
            feed_times.setdefault(path.split("/")[1], []).append(t)
    site_of = {a.id: a.site for a in corpus.articles}
    gaps = [b - a for ts in feed_times.values() for a, b in zip(ts, ts[1:], strict=False)]
    out: dict[str, Any] = {"feed_poll_gap_s_p50_p95": pct(gaps, 50, 95)}
    for phase in ("paced", "backlog"):
        total, wait, after = [], [], []
        for cid, (wall, mono) in pub.appeared.items():
            if pub.phase[cid] != phase or cid not in created:
                continue
            total.append(created[cid] - wall)
            polls = feed_times.get(site_of[cid], [])
            i = bisect.bisect_left(polls, mono)
            if i < len(polls):
                wait.append(polls[i] - mono)
                after.append(total[-1] - wait[-1])
        out[phase] = {
            "n": len(total),
            "freshness_s": pct(total, 50, 95, 99),
            "poll_wait_s": pct(wait, 50, 95, 99),
            "after_poll_s": pct(after, 50, 95, 99),
        }
    return out


def report(r: dict[str, Any], limit: dict[str, Any] | None) -> str:
    c = r["check"]
    lines = [
        f"{r['articles']} articles: " + ", ".join(f"{v} {k}" for k, v in r["corpus"].items()),
        f"phases: {r['phases']}; workers {r['workers']}, extract sandbox pool "
        f"{r['extract_sandbox_workers']}"
        + (f"; per-stage settings {', '.join(r['stage_env'])}" if r.get("stage_env") else ""),
        f"sustained rate (backlog, rows 10%->90%, over "
        f"{r['cpu_s_per_article_steady'].get('window_s', float('nan')):.0f} s): "
        f"{r['sustained_per_s']:.2f} articles/s; "
        f"whole run {r['overall_per_s']:.2f} articles/s over {r['whole_run_s']:.0f} s "
        f"(start-up and the paced phase included)"
        + (
            "\nWARNING: sustained-rate window under 30 s (the sink commits batches of 100): "
            "too short to mean much; use more articles"
            if r["cpu_s_per_article_steady"].get("window_s", 0) < 30
            else ""
        ),
        f"paced phase published at {r['paced_rate_per_s']:.2f} articles/s; poll interval "
        f"{r['poll_interval_s']:.0f} s, raised by the feeds' max-age to at most "
        f"{r.get('poll_max_interval_s', r['poll_interval_s']):.0f} s (measured gap between "
        "polls of a feed p50/p95: "
        + "/".join(f"{g:.1f}" for g in r["freshness"]["feed_poll_gap_s_p50_p95"])
        + " s)",
        "",
    ]
    rows = []
    for phase in ("paced", "backlog"):
        f = r["freshness"][phase]
        for key, label in (
            ("freshness_s", "appeared -> row"),
            ("poll_wait_s", "appeared -> polled"),
            ("after_poll_s", "polled -> row"),
        ):
            rows.append([f"{phase}: {label}", f["n"], *f[key]])
    lines.append(benchlib.table(["latency (s)", "n", "p50", "p95", "p99"], rows, first=32))
    lines.append("(backlog latencies are queueing behind the burst, not freshness)\n")
    n, steady = r["articles"], r["cpu_s_per_article_steady"]
    total = sum(v for k, v in r["cpu_s_whole_run"].items() if k in SERVICES)
    rows = []
    for name, cpu in r["cpu_s_whole_run"].items():
        mem = r["peak_rss_mb"][name]
        worker = name in SERVICES
        rows.append(
            [
                name if worker else f"({name})",
                cpu,
                cpu / n * 1000,
                steady.get(name, float("nan")) * 1000,
                f"{cpu / total:.0%}" if worker and total else "-",
                mem["worker_vmhwm"] if worker else float("nan"),
                mem["with_children"],
            ]
        )
    head = ["service", "CPU s", "ms/art", "ms/art backlog", "share", "VmHWM MiB", "tree MiB"]
    lines.append(benchlib.table(head, rows, first=16))
    steady_total = sum(v for k, v in steady.items() if k in SERVICES)
    lines.append(
        f"workers' CPU per article: {total / n * 1000:.0f} ms (whole run, start-up included), "
        f"{steady_total * 1000:.0f} ms (steady state: the backlog phase)\n"
    )
    if limit:
        for name, run in limit["runs"].items():
            lines.append(
                f"pipeline / limit ({name}): {r['sustained_per_s']:.2f} / {run['per_s']:.2f} = "
                f"{r['sustained_per_s'] / run['per_s']:.2f}"
            )
        lines.append("")
    verdict = "PASS" if c["exactly_once"] else "FAIL"
    lines.append(
        f"exactly once: {verdict}: served {c['served']}, rows {c['rows']}, missing "
        f"{len(c['missing'])}, stored twice {len(c['twice_or_more'])}, unexpected rows "
        f"{c['unexpected_rows']}, dead letters {c['dead_letters']}, completed {c['completed']}"
    )
    return "\n".join(lines)


def run_limit(args: argparse.Namespace, workdir: Path, rate: float) -> dict[str, Any] | None:
    if not args.limit_sample:
        return None
    out = workdir / "limit.json"
    cmd = [sys.executable, str(Path(__file__).with_name("limit.py")), "--corpus"]
    cmd += [str(workdir / "corpus"), "--verdicts", str(workdir / "verdicts.json")]
    cmd += ["--sample", str(args.limit_sample), "--json", str(out)]
    if rate == rate:
        cmd += ["--pipeline-rate", f"{rate:.4f}"]
    print("\nthe limit, same articles (bench/limit.py) ...", flush=True)
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def stage_env(specs: list[str], command: str) -> dict[str, str]:
    """The ``--stage-env`` settings of one stage: ``STAGE:NAME=VALUE`` each."""
    env = {}
    for spec in specs:
        stage, _, setting = spec.partition(":")
        name, sep, value = setting.partition("=")
        if stage not in SERVICES or not sep or not name.startswith("WIREDESK_"):
            raise SystemExit(f"--stage-env {spec!r}: expected STAGE:WIREDESK_NAME=VALUE")
        if stage == command:
            env[name] = value
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--articles", type=int, default=5000, help="articles served (default 5000)")
    ap.add_argument("--wire-share", type=float, default=0.35, help="share of wire copies")
    ap.add_argument("--backlog-share", type=float, default=0.6, help="after warm-up")
    ap.add_argument("--rate", type=float, help="paced articles/s (default: sustained / 2)")
    ap.add_argument("--extract", type=int, default=1, help="extract worker processes")
    ap.add_argument("--extract-pool", type=int, default=1, help="sandbox workers per extract")
    ap.add_argument("--enrich", type=int, default=1, help="enrich worker processes")
    ap.add_argument("--limit-sample", type=int, help="limit articles (default 1000; 0: skip)")
    ap.add_argument("--stall-s", type=float, default=240, help="give up after no progress")
    ap.add_argument("--private-stack", action="store_true", help="start a private stack")
    ap.add_argument("--keep", action="store_true", help="keep the work dir and the schema")
    ap.add_argument("--smoke", action="store_true", help="300 articles, limit on 100")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (- = stdout)")
    ap.add_argument(
        "--stage-env",
        action="append",
        default=[],
        metavar="STAGE:NAME=VALUE",
        help="a setting for one stage's workers only, e.g. enrich:WIREDESK_DELIVER_EVERY_S=0.25 "
        "(repeatable; settings for every worker come from the environment)",
    )
    ap.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample every worker with py-spy (bench extra) into DIR and print CPU ms per "
        "article per step and stage (bench/profile_report.py); slows the run: take the "
        "throughput from a run without it",
    )
    args = ap.parse_args(argv)
    for command in SERVICES:  # a malformed --stage-env fails now, not after the set-up
        stage_env(args.stage_env, command)
    if args.smoke:
        args.articles = 300
    if args.limit_sample is None:
        args.limit_sample = 100 if args.smoke else 1000
    workdir = Path(tempfile.mkdtemp(prefix="wiredesk-e2e-"))
    print(f"work dir (corpus, worker logs): {workdir}", flush=True)
    started = time.monotonic()
    result = run(args, workdir)
    limit = run_limit(args, workdir, result["sustained_per_s"])
    result["limit"] = limit
    result["command_s"] = time.monotonic() - started
    benchlib.results(
        f"END TO END: Kafka + PostgreSQL, {result['articles']} articles "
        f"({result['command_s'] / 60:.1f} min)",
        report(result, limit),
        result,
        args.json,
    )
    if args.profile:
        import profile_report

        cpu = {k: v for k, v in result["cpu_s_whole_run"].items() if k in SERVICES}
        ms = profile_report.table(profile_report.read(args.profile), result["articles"], cpu)
        print("\nPROFILE: CPU ms per article per step, whole run (/proc CPU split by py-spy)")
        print(profile_report.render(ms))
    if not args.keep and result["check"]["exactly_once"]:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if result["check"]["exactly_once"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
