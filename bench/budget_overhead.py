"""What the per-record budget and the poison-record ledger cost (issue 13).

    .venv/bin/python bench/budget_overhead.py [--records 20000] [--pg URL]

Runs one stage on the in-process bus three ways over the same records and prints the
time per record beside the unguarded baseline measured in the same command:

* ``none``: no budget (the runner before issue 13);
* ``soft``: the SIGALRM budget (setitimer on and off around each record);
* ``soft+hard``: plus the faulthandler hard deadline armed and cancelled per record
  (what the Kafka services run).

Then the ledger: ``begin_batch`` + ``end_batch`` per batch of 100 on SQLite (and on
PostgreSQL with ``--pg`` or WIREDESK_TEST_DATABASE_URL, both ways: the batch marks as one
statement on the ledger's own connection, and in transactions of the stage's engine as
before cut 10), i.e. its cost (wall and this process's CPU) per record in a normal
batch, and the cost per record of a *suspect* batch (one write before and one after each
record). Each figure is the median of 5 rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wiredesk import db  # noqa: E402
from wiredesk.attempts import SqlLedger  # noqa: E402
from wiredesk.budget import Budget, Guard  # noqa: E402
from wiredesk.bus.memory import MemoryBus  # noqa: E402
from wiredesk.records import Link, url_id  # noqa: E402
from wiredesk.runner import RunnerOptions, StageRunner, drain  # noqa: E402
from wiredesk.stage import Stage  # noqa: E402
from wiredesk.topics import LINKS, RAW  # noqa: E402


def work(record: Link):
    """A small stage: about 20 us of Python per record."""
    total = 0
    for i in range(300):
        total += i
    yield record


def per_record_us(records: int, options: RunnerOptions) -> float:
    rounds = []
    for _ in range(5):
        bus = MemoryBus(partitions=1)
        for i in range(records):
            link = Link(url=f"http://example.com/{i}", article_id=url_id(f"http://example.com/{i}"))
            bus.publish(LINKS.name, link.key(), link.encode())
        runner = StageRunner(Stage("bench", LINKS, work, output=RAW), bus, options=options)
        started = time.perf_counter()
        drain([runner])
        rounds.append((time.perf_counter() - started) / records * 1e6)
    return statistics.median(rounds)


def guard_us(hard: bool, n: int = 20_000) -> float:
    """The guard alone: ``with guard.limit(budget): pass``, median of 5 rounds."""
    guard = Guard(hard_grace_s=5.0 if hard else None)
    budget = Budget(cpu_s=10, wall_s=20)
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            with guard.limit(budget):
                pass
        rounds.append((time.perf_counter() - started) / n * 1e6)
        guard.disarm()
    return statistics.median(rounds)


def ledger_ms(
    url: str, batches: int = 50, own_connection: bool = True
) -> tuple[float, float, float]:
    """(ms per normal batch, its CPU ms, ms per record of a suspect batch)."""
    engine = db.make_engine(url)
    ledger = SqlLedger(engine, own_connection=own_connection)
    normal, cpu, careful = [], [], []
    for r in range(5):
        group = f"bench-{r}-{time.time_ns()}"
        started, cpu_started = time.perf_counter(), time.process_time()
        for b in range(batches):
            starts = {("news.articles", p): b * 100 for p in range(3)}
            ledger.begin_batch(group, starts)
            ledger.end_batch(group, starts)
        normal.append((time.perf_counter() - started) / batches * 1000)
        cpu.append((time.process_time() - cpu_started) / batches * 1000)
        started = time.perf_counter()
        for offset in range(200):
            ledger.begin_record(group, ("news.articles", 0), offset)
            ledger.end_record(group, ("news.articles", 0), offset)
        careful.append((time.perf_counter() - started) / 200 * 1000)
    ledger.close()
    engine.dispose()
    return statistics.median(normal), statistics.median(cpu), statistics.median(careful)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--pg", default=os.environ.get("WIREDESK_TEST_DATABASE_URL"))
    args = parser.parse_args()
    base = RunnerOptions(poll_timeout_s=0)
    budget = Budget(cpu_s=10, wall_s=20)
    variants = {
        "none": base,
        "soft": RunnerOptions(poll_timeout_s=0, budget=budget),
        "soft+hard": RunnerOptions(poll_timeout_s=0, budget=budget, hard_grace_s=5),
    }
    figures = {name: per_record_us(args.records, options) for name, options in variants.items()}
    print(f"runner, {args.records} records of ~20 us work, median of 5 rounds (us per record):")
    for name, us in figures.items():
        extra = us - figures["none"]
        print(f"  {name:<10} {us:8.1f} us   overhead vs none: {extra:+6.1f} us per record")

    print(
        f"guard alone (enter + exit, no work): soft {guard_us(False):.1f} us, "
        f"soft+hard {guard_us(True):.1f} us per record"
    )

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.db"
        db.upgrade(url)
        urls = {"sqlite": url}
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        if args.pg:  # a schema of its own, dropped afterwards: the database is left as it was
            admin = create_engine(args.pg)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            pg = make_url(args.pg).update_query_dict({"options": f"-csearch_path={schema}"})
            urls["postgresql"] = pg.render_as_string(hide_password=False)
            db.upgrade(urls["postgresql"])
        try:
            print("attempt ledger (3 partitions per batch), median of 5 rounds:")
            runs = [("sqlite", urls["sqlite"], True)]
            if "postgresql" in urls:  # cut 10's marks beside the transactions before it
                runs += [
                    ("postgresql, transactions (before)", urls["postgresql"], False),
                    ("postgresql, one statement", urls["postgresql"], True),
                ]
            for name, u, own in runs:
                batch, cpu, record = ledger_ms(u, own_connection=own)
                print(
                    f"  {name:<34} normal batch {batch:6.2f} ms, CPU {cpu:5.2f} ms "
                    f"(= {batch / 100 * 1000:5.1f} us per record at batch_size 100); "
                    f"suspect batch {record:6.2f} ms per record"
                )
        finally:
            if args.pg:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
