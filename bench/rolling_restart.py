"""Rolling restart of the enrich workers: does the rest of the group keep working?

    eval "$(deploy/local/stack env)"   # Kafka (ideally: stack up --brokers 3) + PostgreSQL
    .venv/bin/python bench/rolling_restart.py [--workers 3] [--articles 12000]
        [--modes eager,static] [--metrics-port 9701] [--session-timeout 30]

For each mode, in the same run: a fresh namespace and schema, ``--articles`` articles
(the BBC set in ../shared/data, repeated with a marker line so each is new) on
news.articles, ``--workers`` real ``wiredesk enrich`` processes; once all are busy, each
worker in turn gets SIGTERM and is started again as soon as it exited (one by one, each
back within the session timeout). Every second it reads each worker's
``wiredesk_records_in_total`` from its /metrics port and prints the per-second
throughput per worker, then, over the restart window, how many seconds the workers that
were NOT being restarted processed nothing at all, and how many rebalances the group
coordinator completed (its "Stabilized group" log lines; ``--broker-logs``: the local
stack's broker logs). An eager rebalance stops every member until all have rejoined.

Modes: ``eager`` = range assignor, dynamic members (the old behaviour, the baseline);
``static`` = cooperative sticky assignor + ``WIREDESK_WORKER_ID`` per worker.
NER is off by default (``--ner`` turns it on) so a worker starts in about a second.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchlib import commit, machine  # noqa: E402
from wiredesk import db  # noqa: E402
from wiredesk.bus.kafka import KafkaBus  # noqa: E402
from wiredesk.records import Article  # noqa: E402
from wiredesk.topics import ALL_TOPICS, ARTICLES  # noqa: E402

BBC = ROOT.parent / "shared" / "data" / "bbc_news_fulltext.jsonl.gz"
MODES = {
    "eager": {"WIREDESK_KAFKA_ASSIGNOR": "range"},
    "static": {"WIREDESK_KAFKA_ASSIGNOR": "cooperative-sticky"},
}
COUNTER = re.compile(r'^wiredesk_records_in_total\{stage="[^"]*"\} ([0-9.e+]+)$', re.M)


def articles(n: int) -> list[Article]:
    with gzip.open(BBC, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    out = []
    for i in range(n):
        row, round_ = rows[i % len(rows)], i // len(rows)
        body = row["text"] + (f"\n\nUpdated edition {round_}." if round_ else "")
        digest = hashlib.sha256(f"{row['id']}-{round_}".encode()).hexdigest()
        out.append(
            Article(
                article_id=digest[:32],
                url=f"urn:bench:{row['id']}:{round_}",
                title=row["title"],
                text=body,
                published_at=datetime(2026, 1, 1, tzinfo=UTC),
                extractor_version="bench",
                content_hash=digest,
            )
        )
    return out


def scrape(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=0.5) as r:
            m = COUNTER.search(r.read().decode())
    except OSError:
        return None
    return float(m.group(1)) if m else 0.0


@dataclass
class Worker:
    index: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "wiredesk.app.cli", "enrich"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def stop(self, timeout: float = 60) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Sampler:
    ports: list[int]
    rows: list[dict] = field(default_factory=list)  # one per second
    events: list[str] = field(default_factory=list)  # appended to the next row
    restarting: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        last = [scrape(p) or 0.0 for p in self.ports]
        t0 = time.monotonic()
        while not self.stop.wait(1.0 - (time.monotonic() - t0) % 1.0):
            now = [scrape(p) for p in self.ports]
            rates = []
            for i, value in enumerate(now):
                if value is None:  # down: no metrics server
                    rates.append(None)
                    last[i] = 0.0
                    continue
                rates.append(value - last[i] if value >= last[i] else value)
                last[i] = value
            self.rows.append(
                {
                    "t": round(time.monotonic() - t0),
                    "rates": rates,
                    "restarting": self.restarting,
                    "events": self.events[:],
                }
            )
            self.events.clear()


def run_mode(mode: str, args: argparse.Namespace, base_url: str, records: list[Article]) -> dict:
    ns = f"rr{uuid.uuid4().hex[:8]}."
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    db_url = url.render_as_string(hide_password=False)
    db.upgrade(db_url)
    bus = KafkaBus(args.bootstrap, partitions=args.partitions, namespace=ns)
    bus.ensure_topics(t.name for t in ALL_TOPICS)
    for a in records:
        bus.publish(ARTICLES.name, a.key(), a.encode())
    bus.close()
    logs = Path(args.log_dir) / mode
    logs.mkdir(parents=True, exist_ok=True)
    base_env = {
        **os.environ,
        "WIREDESK_BUS": "kafka",
        "WIREDESK_KAFKA_BOOTSTRAP": args.bootstrap,
        "WIREDESK_DATABASE_URL": db_url,
        "WIREDESK_NAMESPACE": ns,
        "WIREDESK_PARTITIONS": str(args.partitions),
        "WIREDESK_BATCH_SIZE": str(args.batch_size),
        "WIREDESK_POLL_TIMEOUT_S": "0.5",
        "WIREDESK_NER_ENABLED": "true" if args.ner else "false",
        "WIREDESK_KAFKA_SESSION_TIMEOUT_S": str(args.session_timeout),
        "WIREDESK_LOG_FORMAT": "json",
        **MODES[mode],
    }
    workers = []
    for i in range(args.workers):
        env = {**base_env, "WIREDESK_METRICS_PORT": str(args.metrics_port + i)}
        if mode == "static":
            env["WIREDESK_WORKER_ID"] = f"enrich-{i}"
        workers.append(Worker(i, env, logs / f"enrich-{i}.log"))
    sampler = Sampler([args.metrics_port + i for i in range(args.workers)])
    thread = threading.Thread(target=sampler.run, daemon=True)
    try:
        for w in workers:
            w.start()
        thread.start()
        _wait(lambda: len(sampler.rows) > 2 and all(sampler.rows[-1]["rates"]), 120, "all busy")
        time.sleep(args.hold)
        window_start = datetime.now()  # the broker logs local time
        for w in workers:
            sampler.restarting = w.index
            sampler.events.append(f"stop w{w.index}")
            w.stop()
            sampler.events.append(f"start w{w.index}")
            w.start()
            mark = len(sampler.rows)  # only seconds after the start count
            _wait(lambda i=w.index, m=mark: _busy_since(sampler.rows, m, i), 120, "back")
            sampler.events.append(f"w{w.index} busy")
            time.sleep(args.hold)
            sampler.restarting = None
        window_end = datetime.now()
        time.sleep(args.hold)
    finally:
        sampler.stop.set()
        thread.join()
        for w in workers:
            w.stop()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    result = summarise(mode, sampler.rows, len(records))
    result["rebalances"] = rebalances(
        args.broker_logs, f"{ns}enrich_articles", window_start, window_end
    )
    return result


COORDINATOR = re.compile(
    r"^\[([\d-]+ [\d:,]+)\] INFO .*(Preparing to rebalance|Stabilized) group (\S+) "
)


def rebalances(
    pattern: str, group: str, start: datetime, end: datetime
) -> tuple[int, float] | None:
    """(rebalances of ``group`` the brokers completed between ``start`` and ``end``, their
    summed duration from "Preparing to rebalance" to "Stabilized" in seconds: the time
    an eager group stands still) from the GroupCoordinator's log lines; None: no logs."""
    files = sorted(glob.glob(pattern)) if pattern else []
    if not files:
        return None
    events = []
    for f in files:
        for line in Path(f).read_text(errors="replace").splitlines():
            m = COORDINATOR.match(line)
            if m and m.group(3) == group:
                at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
                events.append((at, m.group(2)))
    count, seconds, preparing = 0, 0.0, None
    for at, what in sorted(events):
        if what == "Preparing to rebalance":
            preparing = preparing or at
        elif start <= at <= end:
            count += 1
            seconds += (at - preparing).total_seconds() if preparing else 0.0
            preparing = None
        else:
            preparing = None
    return count, round(seconds, 1)


def _busy_since(rows: list[dict], mark: int, worker: int) -> bool:
    return any((r["rates"][worker] or 0) > 0 for r in rows[mark:])


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def summarise(mode: str, rows: list[dict], total: int) -> dict:
    window = [r for r in rows if r["restarting"] is not None]
    others = [sum(v or 0 for i, v in enumerate(r["rates"]) if i != r["restarting"]) for r in window]
    steady = [sum(v or 0 for v in r["rates"]) for r in rows if r["restarting"] is None]
    started = next((i for i, r in enumerate(rows) if any(r["rates"])), len(rows))
    return {
        "mode": mode,
        "rows": rows,
        "restart_window_s": len(window),
        "others_zero_s": sum(1 for v in others if v == 0),
        # batches make per-second figures lumpy: the longest run of seconds in which the
        # workers not being restarted finished nothing, beside the same outside restarts
        "others_longest_stall_s": _longest_zero_run(others),
        "steady_longest_stall_s": _longest_zero_run(
            [sum(v or 0 for v in r["rates"]) for r in rows[started:] if r["restarting"] is None]
        ),
        "others_min_per_s": min(others, default=0),
        # over 2 s (a batch of NER'd articles takes 1-2 s): does the rest ever stand still?
        "others_min_2s_per_s": _min_window_mean(others, 2),
        "others_mean_per_s": round(sum(others) / max(1, len(others)), 1),
        "steady_mean_per_s": round(sum(steady[1:]) / max(1, len(steady) - 1), 1),
        "processed": round(sum(sum(v or 0 for v in r["rates"]) for r in rows)),
        "published": total,
    }


def _min_window_mean(values: list[float], width: int) -> float:
    """The lowest mean over ``width`` consecutive seconds (0 when there are fewer)."""
    means = [sum(values[i : i + width]) / width for i in range(len(values) - width + 1)]
    return round(min(means, default=0.0), 1)


def _longest_zero_run(values: list[float]) -> int:
    best = run = 0
    for v in values:
        run = run + 1 if v == 0 else 0
        best = max(best, run)
    return best


def print_mode(result: dict, workers: int) -> None:
    print(f"\n== {result['mode']}: per-second enrich throughput per worker (- = down)")
    print("   t " + "".join(f"{'w' + str(i):>7}" for i in range(workers)) + "  restarting  events")
    for r in result["rows"]:
        cells = "".join(f"{'-' if v is None else round(v):>7}" for v in r["rates"])
        who = "" if r["restarting"] is None else f"w{r['restarting']}"
        print(f"{r['t']:>4} {cells}  {who:<10}  {', '.join(r['events'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--articles", type=int, default=12_000)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--modes", default="eager,static")
    parser.add_argument("--metrics-port", type=int, default=9701)
    parser.add_argument("--session-timeout", type=float, default=30.0)
    parser.add_argument("--hold", type=float, default=5.0, help="seconds between restarts")
    parser.add_argument("--ner", action="store_true")
    parser.add_argument("--log-dir", default=str(ROOT / ".bench" / "rolling_restart"))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--broker-logs",
        default=str(ROOT / ".stack" / "logs" / "kafka*.log"),
        help="glob of the brokers' log4j files (the group coordinator's rebalances)",
    )
    args = parser.parse_args()
    args.bootstrap = os.environ.get("WIREDESK_KAFKA_BOOTSTRAP", "")
    base_url = os.environ.get("WIREDESK_TEST_DATABASE_URL", "")
    if not args.bootstrap or not base_url:
        parser.error('needs Kafka and PostgreSQL: eval "$(deploy/local/stack env)" first')
    if not BBC.exists():
        parser.error(f"{BBC} is missing (the dev data)")
    records = articles(args.articles)
    results = [run_mode(m, args, base_url, records) for m in args.modes.split(",")]
    print(f"machine: {machine()}  commit: {commit()}  bootstrap: {args.bootstrap}")
    for r in results:
        print_mode(r, args.workers)
    print(
        "\nmode     restart window  rebalances (stopped)  others=0 (s)  others longest stall (s)"
        "  others min/s over 2 s  others mean/s  steady mean/s  steady longest stall (s)"
    )
    for r in results:
        rebal = "?" if r["rebalances"] is None else "{} ({} s)".format(*r["rebalances"])
        print(
            f"{r['mode']:<8} {r['restart_window_s']:>13}s {rebal:>21} {r['others_zero_s']:>13} "
            f"{r['others_longest_stall_s']:>25} {r['others_min_2s_per_s']:>22} "
            f"{r['others_mean_per_s']:>14} "
            f"{r['steady_mean_per_s']:>14} {r['steady_longest_stall_s']:>25}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
