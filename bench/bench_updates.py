"""Benchmark: article updates -- re-check request cost per 1,000 articles, and freshness.

Part 1, cost (embedded mode: SQLite, in-process bus, the local news server over HTTP).
Publishes ``--articles`` articles (the demo corpus cloned under new URLs), ingests them,
then runs the three scheduled re-check rounds (1 h, 6 h, 24 h; time is moved forward in
the schedule table instead of waited for), changing ``--change`` of the pages on the
server before each round. Per round, in the same run:

* conditional re-check (what wiredesk does): requests, 304s, 200s, body bytes sent,
  new versions stored;
* baseline "unconditional GET": the same due pages fetched once more without validators
  (a dry pass: nothing published), its requests, 200s and body bytes;
* baseline "no re-check" (wiredesk before updates: a URL is fetched once): a poll round
  with re-checks off, before the real one -- the versions it finds.

Part 2, freshness (``wiredesk run``, the one-process service on SQLite, as a user runs
it): feeds polled every ``--poll-s`` seconds; ``--changes`` times, one page's title and
text change on the server and the time until its new version row is in the database is
measured, for a change its feed shows (feed path), and for a change only a due re-check
finds (schedule path: the check is made due at the moment of the change). Baseline in the
same run: the same service with re-checks and feed updates off sees none of them within
the same wait.

    .venv/bin/python bench/bench_updates.py [--articles 1000] [--change 0.05] [--changes 8]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchlib import commit, machine, pct
from sqlalchemy import Engine, func, select, update

from devserver.server import Corpus, Faults, NewsServer, load_corpus
from ingest.http import FetchOptions, make_client
from ingest.pages import FetchPages
from ingest.politeness import HostGate
from ingest.recheck import RecheckPolicy, due
from wiredesk import db
from wiredesk.app.commands import run_embedded
from wiredesk.bus import make_bus
from wiredesk.db.feed_tables import ArticleRecheckRow
from wiredesk.db.tables import ArticleVersionRow
from wiredesk.settings import load_settings

ROUNDS = ((3_601, "1 h"), (6 * 3_600, "6 h"), (18 * 3_600, "24 h"))


def clones(n: int) -> Corpus:
    """``n`` articles: the demo corpus's, then copies under new slugs (paragraphs rotated
    so that each text differs)."""
    corpus = load_corpus()
    out = list(corpus.articles)
    base = corpus.articles
    i = 0
    while len(out) < n:
        a = base[i % len(base)]
        k = i // len(base) + 1
        paras = a.paragraphs[k % len(a.paragraphs) :] + a.paragraphs[: k % len(a.paragraphs)]
        out.append(
            dataclasses.replace(
                a, id=f"{a.id}-c{k}", slug=f"{a.slug}-{k}", paragraphs=paras, wire_of=None
            )
        )
        i += 1
    corpus.articles = out[:n]
    return corpus


def time_passes(engine: Engine, seconds: float) -> None:
    back = timedelta(seconds=seconds)
    t = ArticleRecheckRow
    with engine.begin() as conn:
        rows = conn.execute(select(t.article_id, t.first_seen_at, t.next_check_at)).all()
        for r in rows:
            conn.execute(
                update(t)
                .where(t.article_id == r.article_id)
                .values(
                    first_seen_at=r.first_seen_at - back if r.first_seen_at else None,
                    next_check_at=r.next_check_at - back if r.next_check_at else None,
                )
            )


def versions(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(ArticleVersionRow)) or 0


def page_stats(server: NewsServer, sent_before: int) -> dict:
    codes = [s for _, p, s in server.requests_log if p.endswith(".html")]
    return {
        "requests": len(codes),
        "304": codes.count(304),
        "200": codes.count(200),
        "bytes": server.bytes_sent - sent_before,
    }


def unconditional(engine: Engine, server: NewsServer) -> dict:
    """The due pages fetched without validators (dry: nothing is published)."""
    links = due(engine, _now(), RecheckPolicy(batch=100_000))
    opts = FetchOptions(user_agent="wiredesk-bench", allow_loopback_ports=frozenset({server.port}))
    client = make_client(opts)
    fetcher = FetchPages(client, opts, HostGate(min_delay_s=0.0), None, workers=4)
    server.reset_log()
    before = server.bytes_sent
    changed = 0
    try:
        for link in links:
            bare = link.model_copy(update={"etag": None, "last_modified": None})
            changed += fetcher.fetch(bare) is not None
    finally:
        fetcher.close()
        client.close()
    return {**page_stats(server, before), "changed": changed}


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def cost(args: argparse.Namespace, tmp: Path) -> list[dict]:
    url = f"sqlite:///{tmp / 'cost.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    corpus = clones(args.articles)
    bus = make_bus("memory", partitions=1)
    rows: list[dict] = []
    with NewsServer(corpus, feed_limit=args.articles) as server:
        common = dict(
            feeds=server.feed_urls(),
            database_url=url,
            allow_private_addresses=True,
            fetch_host_delay_s=0.0,
            ner_enabled=False,  # request cost, not NER, is measured here
            recheck_batch=100_000,
            recheck_feed_updates=False,
        )
        settings = load_settings(**common)
        off = load_settings(**{**common, "recheck_after_s": ""})
        started = time.perf_counter()
        first = run_embedded(settings, engine, bus)
        print(f"ingested {first['links']} articles in {time.perf_counter() - started:.0f} s")
        step = max(1, round(1 / args.change)) if args.change else 0
        for n, (seconds, name) in enumerate(ROUNDS):
            changed = corpus.articles[n::step] if step else []
            for a in changed:
                server.revise(a.id, title=f"{a.title} (updated {name})")
            time_passes(engine, seconds)
            was = versions(engine)
            run_embedded(off, engine, bus)
            missed = versions(engine) - was
            bare = unconditional(engine, server)
            server.reset_log()
            before = server.bytes_sent
            started = time.perf_counter()
            out = run_embedded(settings, engine, bus)
            row = {
                "round": name,
                "pages_changed": len(changed),
                "no_recheck_versions": missed,
                **{f"cond_{k}": v for k, v in page_stats(server, before).items()},
                "cond_versions": versions(engine) - was,
                "cond_seconds": time.perf_counter() - started,
                **{f"uncond_{k}": v for k, v in bare.items()},
                "links": out["links"],
            }
            rows.append(row)
    engine.dispose()
    return rows


def _service(env: dict[str, str], log: Path, command: str = "run") -> subprocess.Popen:
    extra = ["create"] if command == "topics" else []
    return subprocess.Popen(
        [sys.executable, "-m", "wiredesk.app.cli", command, *extra],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


SERVICES = ("poll", "fetch", "extract", "enrich", "sink")


def freshness(args: argparse.Namespace, tmp: Path, recheck: bool) -> dict:
    """``wiredesk run`` on SQLite, or the five services on Kafka + PostgreSQL
    (``--stack kafka``); seconds from each change to its version row."""
    name = "on" if recheck else "off"
    kafka = args.stack == "kafka"
    url = _fresh_database(name) if kafka else f"sqlite:///{tmp / f'fresh-{name}.db'}"
    corpus = load_corpus()
    faults = Faults(feed_cache_control="no-cache")  # feeds may be polled every poll-s
    latencies: dict[str, list[float]] = {"feed": [], "schedule": []}
    seen = {"feed": 0, "schedule": 0}
    with NewsServer(corpus, faults=faults) as server:
        env = {
            "WIREDESK_BUS": "sql",
            "WIREDESK_DATABASE_URL": url,
            "WIREDESK_FEEDS": json.dumps(server.feed_urls()),
            "WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS": str(server.port),
            "WIREDESK_FETCH_HOST_DELAY_S": "0",
            "WIREDESK_POLL_ADAPTIVE": "false",
            "WIREDESK_POLL_INTERVAL_S": str(args.poll_s),
            "WIREDESK_POLL_MIN_INTERVAL_S": "1",
            "WIREDESK_METRICS_PORT": "0",
            "WIREDESK_LOG_LEVEL": "warning",
            "WIREDESK_ARCHIVE_URL": str(tmp / f"warc-{name}"),
        }
        if not recheck:
            env |= {"WIREDESK_RECHECK_AFTER_S": "", "WIREDESK_RECHECK_FEED_UPDATES": "false"}
        if kafka:
            env |= {
                "WIREDESK_BUS": "kafka",
                "WIREDESK_NAMESPACE": f"bench{os.getpid()}{name}.",
                "WIREDESK_PARTITIONS": "3",
                "WIREDESK_POLL_TIMEOUT_S": "0.5",
            }
            db.upgrade(url)
            topics = _service(env, tmp / f"topics-{name}.log", "topics")
            topics.wait(60)
            procs = [_service(env, tmp / f"{c}-{name}.log", c) for c in SERVICES]
        else:
            procs = [_service(env, tmp / f"run-{name}.log")]
        engine = db.make_engine(url) if kafka else None
        try:
            deadline = time.monotonic() + 300
            while engine is None or _rows(engine, server.base_url) < len(corpus.articles):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    codes = [(c, p.poll()) for c, p in zip(SERVICES, procs, strict=False)]
                    logs = "\n".join(f"{p.name}: {p.read_text()[-800:]}" for p in tmp.glob("*.log"))
                    logs = f"exit codes {codes}\n{logs}"
                    raise RuntimeError(f"the services did not store the corpus:\n{logs}")
                time.sleep(0.5)
                if engine is None and (tmp / f"fresh-{name}.db").exists():
                    engine = db.make_engine(url)
            time.sleep(2)  # let the first round settle
            # a body-only change shows in Atom feeds (<updated>): schedule path on RSS only
            rss = {s.site for s in corpus.sites if s.feed_format == "rss"}
            feed_picks = corpus.articles[: args.changes]
            body_picks = [a for a in corpus.articles[args.changes :] if a.site in rss]
            picks = [("feed", a) for a in feed_picks] + [
                ("schedule", a) for a in body_picks[: args.changes]
            ]
            for path, a in picks:
                was = versions(engine)
                if path == "feed":  # title and text: the feed entry changes too
                    server.revise(a.id, title=a.title + " (updated)")
                else:  # only the body: the feed entry stays the same
                    server.revise(a.id, paragraphs=(*a.paragraphs, "This story has been updated."))
                changed_at = time.monotonic()
                if path == "schedule":
                    _due_now(engine, a.id, server)
                while time.monotonic() - changed_at < args.wait_s:
                    if versions(engine) > was:
                        latencies[path].append(time.monotonic() - changed_at)
                        seen[path] += 1
                        break
                    time.sleep(0.05)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(30)
            if engine is not None:
                engine.dispose()
            if kafka:
                _drop_database(url)
    return {"recheck": recheck, "seen": seen, "latencies": latencies, "changes": args.changes}


def _fresh_database(name: str) -> str:
    """A new PostgreSQL database beside WIREDESK_DATABASE_URL's (no feeds of older runs)."""
    from sqlalchemy import create_engine, make_url, text

    base = make_url(os.environ["WIREDESK_DATABASE_URL"])
    database = f"wiredesk_bench_updates_{name}_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return base.set(database=database).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    admin = create_engine(
        make_url(os.environ["WIREDESK_DATABASE_URL"]), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
    admin.dispose()


def _rows(engine: Engine, base_url: str) -> int:
    from wiredesk.db.tables import ArticleRow

    try:
        with engine.connect() as conn:
            query = select(func.count()).where(ArticleRow.url.startswith(base_url + "/"))
            return conn.scalar(query) or 0
    except Exception:  # not migrated yet
        return 0


def _due_now(engine: Engine, corpus_id: str, server: NewsServer) -> None:
    """Make the article's next re-check due now (as if its 1 h had passed)."""
    from wiredesk.records import url_id

    article_id = url_id(server.article_url(corpus_id))
    t = ArticleRecheckRow
    with engine.begin() as conn:
        conn.execute(update(t).where(t.article_id == article_id).values(next_check_at=_now()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--change", type=float, default=0.05, help="share of pages changed per round")
    ap.add_argument("--changes", type=int, default=8, help="changes per path (freshness)")
    ap.add_argument("--poll-s", type=float, default=2.0, help="feed poll interval (freshness)")
    ap.add_argument("--wait-s", type=float, default=30.0, help="longest wait for a version")
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-freshness", action="store_true")
    ap.add_argument(
        "--stack",
        choices=("sql", "kafka"),
        default="sql",
        help="freshness on `wiredesk run` (SQLite) or on the services (Kafka + PostgreSQL "
        "of WIREDESK_KAFKA_BOOTSTRAP / WIREDESK_DATABASE_URL)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_cost:
            rows = cost(args, Path(tmp))
            print(f"\nRe-check cost, {args.articles} articles, {args.change:.0%} changed per round")
            keys = list(rows[0])
            print("  ".join(keys))
            for r in rows:
                print(
                    "  ".join(f"{r[k]:.1f}" if isinstance(r[k], float) else str(r[k]) for k in keys)
                )
            total = {k: sum(r[k] for r in rows) for k in keys if k != "round"}
            per = 1000 / args.articles

            def k(name: str) -> str:
                return f"{total[name] * per:,.0f}"

            print(
                "per 1,000 articles, 3 rounds: conditional "
                f"{k('cond_requests')} requests ({k('cond_304')} x 304, {k('cond_200')} x 200), "
                f"{total['cond_bytes'] * per / 1e6:.2f} MB sent; unconditional "
                f"{k('uncond_requests')} requests, {total['uncond_bytes'] * per / 1e6:.2f} MB "
                f"sent. Versions stored: {total['cond_versions']} with re-checks, "
                f"{total['no_recheck_versions']} without, of {total['pages_changed']} changes"
            )
        if not args.skip_freshness:
            for recheck in (True, False):
                out = freshness(args, Path(tmp), recheck)
                label = ("re-checks on " if recheck else "baseline: off") + f" [{args.stack}]"
                for path in ("feed", "schedule"):
                    lat = out["latencies"][path]
                    p50, p90 = pct(lat, 50, 90) if lat else (float("nan"), float("nan"))
                    print(
                        f"freshness {label} {path:<9}: {out['seen'][path]}/{args.changes} changes "
                        f"stored within {args.wait_s:.0f} s; change -> version row p50 "
                        f"{p50:.2f} s, p90 {p90:.2f} s, max {max(lat, default=float('nan')):.2f} s"
                    )
    print(f"machine: {machine()}; commit {commit()}")


if __name__ == "__main__":
    main()
