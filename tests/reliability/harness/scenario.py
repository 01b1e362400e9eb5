"""The fault run (catalogue K2, K4, K5, K8, P1 at volume, and issue 13's B1, B4, B5): a
generated corpus served by the local news server flows through every stage as separate
worker processes (several per consumer group) while workers are killed, the broker is
stopped and paused, PostgreSQL is stopped, workers join and leave, a sink is frozen and
resumed after eviction, oversized dead letters are made, and a poison record per stage
runs over its budget. Then everything is reconciled against a fault-free run of the
same corpus in the embedded mode."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devserver.server import NewsServer, load_corpus
from tests.reliability.harness import corpus, hardening, kafka_state, phases, reconcile
from tests.reliability.harness.guard import violations
from tests.reliability.harness.pipeline import (
    Releaser,
    fresh_schema,
    new_supervisor,
    wait_until,
    worker_env,
)
from tests.reliability.harness.stack import PrivateStack
from tests.reliability.harness.supervisor import Supervisor, parse_metrics
from wiredesk.records import DeadLetter


@dataclass(frozen=True)
class Plan:
    size: str
    articles: int
    kills: int
    broker_outage_s: float
    broker_pause_s: float
    pg_outage_s: float
    storm_s: float
    release_s: float
    workers_per_stage: int = 2
    drain_timeout_s: float = 300
    static_members: bool = False  # WIREDESK_WORKER_ID per worker (static group membership)
    faults: tuple[str, ...] = (
        "kill9",
        "storm",
        "broker_outage",
        "broker_pause",
        "pg_outage",
        "zombie_sink",
        "oversized_letter",
        "poison",
    )


PLANS = {
    "reduced": Plan("reduced", 300, 4, 10, 15, 10, 20, release_s=90),
    "full": Plan("full", 2000, 12, 30, 60, 30, 300, release_s=480, drain_timeout_s=900),
}


@dataclass
class FaultRunResult:
    plan: Plan
    served: int = 0
    reference: dict[str, int] = field(default_factory=dict)
    phases: list[phases.PhaseReport] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lags: dict[str, int] = field(default_factory=dict)
    dedup: dict[str, Any] = field(default_factory=dict)
    replays: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics_series: dict[str, int] = field(default_factory=dict)
    bad_labels: list[str] = field(default_factory=list)
    forbidden_connections: list[dict[str, Any]] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    dead_letters: int = 0
    letters: dict[str, Any] = field(default_factory=dict)  # hardening.classify of the DLQ
    poison_rows: int = 0  # rows stored for the poison records (none expected)
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return len(self.missing)

    @property
    def duplicate_rows(self) -> int:
        return self.rows.get("rows", 0) - self.rows.get("distinct_urls", 0)


def run(
    plan: Plan,
    stack: PrivateStack,
    workdir: Path,
    seed: int = 1,
    extra_faults: dict[str, Callable[[phases.Context], phases.PhaseReport]] | None = None,
    extra_env: dict[str, str] | None = None,
) -> FaultRunResult:
    started = time.monotonic()
    result = FaultRunResult(plan)
    corpus_dir = corpus.write(workdir / "corpus", corpus.CorpusSpec(plan.articles, seed=seed))
    ref_verdicts, result.reference = reconcile.reference_run(corpus_dir, workdir / "reference")
    paths = reconcile.corpus_paths(corpus_dir)
    loaded = load_corpus(corpus_dir)
    result.served = len(loaded.articles)
    namespace = f"rel{uuid.uuid4().hex[:8]}."
    db_url = fresh_schema(stack.database_url())
    initial = max(1, plan.articles // 10)
    burst = plan.articles // 12  # held back for each of the four faults that release one
    server = NewsServer(loaded, hold_back=plan.articles - initial, feed_limit=400).start()
    env = {**worker_env(stack, db_url, namespace, workdir, server.feed_urls()), **(extra_env or {})}
    supervisor = new_supervisor({**env, **hardening.POISON_ENV}, workdir)
    steady = plan.articles - initial - 4 * burst
    releaser = Releaser(server, steady / plan.release_s, reserve=4 * burst).start()
    try:
        supervisor.add("poll")
        for command in phases.CONSUMER_COMMANDS:
            if plan.static_members:  # one stable member id per worker slot
                for i in range(plan.workers_per_stage):
                    supervisor.add(command, 1, WIREDESK_WORKER_ID=f"{command}-{i}")
            else:
                supervisor.add(command, plan.workers_per_stage)
        ctx = phases.Context(
            stack, supervisor, namespace, random.Random(seed), releaser.release_reserve, burst
        )
        time.sleep(8)  # let every worker join its group before the first fault
        faults = {
            "kill9": lambda: phases.kill9(ctx, plan.kills),
            "storm": lambda: phases.rebalance_storm(ctx, plan.storm_s),
            "broker_outage": lambda: phases.broker_outage(ctx, plan.broker_outage_s),
            "broker_pause": lambda: phases.broker_pause(ctx, plan.broker_pause_s),
            "pg_outage": lambda: phases.postgres_outage(ctx, plan.pg_outage_s),
            "zombie_sink": lambda: hardening.zombie_sink(ctx, db_url),
            "oversized_letter": lambda: hardening.oversized_letters(ctx),
            "poison": lambda: hardening.poison_records(ctx, server.publish, loaded.sites[0].site),
            **{name: (lambda f=f: f(ctx)) for name, f in (extra_faults or {}).items()},
        }
        for fault in plan.faults:
            result.phases.append(faults[fault]())
        releaser.finish()
        _drain(result, stack, namespace, db_url, plan.drain_timeout_s)
        _reconcile(result, ref_verdicts, db_url, paths)
        _observe_metrics(result, supervisor)
        _replays(result, stack, supervisor, namespace, db_url, paths)
    finally:
        releaser.finish()
        result.peak_rss_mb = {k: round(v, 1) for k, v in supervisor.peak_rss_mb().items()}
        result.exit_codes = supervisor.stop_all()
        result.restarts = supervisor.restarts()
        server.stop()
    result.forbidden_connections = violations(workdir / "socket-audit")
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _drain(
    result: FaultRunResult, stack: PrivateStack, ns: str, db_url: str, timeout: float
) -> None:
    def done() -> bool:
        stored = reconcile.row_counts(db_url)["rows"]
        return stored >= result.served and not any(
            kafka_state.group_lags(stack.bootstrap, ns).values()
        )

    wait_until(done, timeout, 2.0)
    result.lags = kafka_state.group_lags(stack.bootstrap, ns)
    dlq = kafka_state.end_offsets(stack.bootstrap, ns + "news.dlq")
    result.dead_letters = sum(dlq.values())
    letters = kafka_state.read_topic(stack.bootstrap, ns + "news.dlq")
    result.letters = hardening.classify([DeadLetter.decode(r.value) for r in letters])


def _reconcile(
    result: FaultRunResult,
    ref: reconcile.Verdicts,
    db_url: str,
    paths: dict[str, str],
) -> None:
    stored = reconcile.stored_articles(db_url, paths)
    result.rows = reconcile.row_counts(db_url)
    result.poison_rows = reconcile.rows_like(db_url, "%/poison-%")
    ids = {a.corpus_id for a in stored}
    result.missing = sorted(set(paths.values()) - ids)
    result.unexpected = sorted(a.article_id for a in stored if a.corpus_id is None)
    comparison = reconcile.compare(ref, reconcile.verdicts_of(stored))
    result.dedup = comparison.as_dict()


_URLISH = re.compile(r"https?://|[0-9a-f]{32}")


def _observe_metrics(result: FaultRunResult, supervisor: Supervisor) -> None:
    """M1: series per worker, and no label value that names a URL or an article."""
    for slot in supervisor.live():
        samples = supervisor.scrape(slot)
        if samples is None:
            continue
        result.metrics_series[slot.name] = len(samples)
        for (name, labels), _ in samples.items():
            result.bad_labels += [f"{name}{{{k}={v}}}" for k, v in labels if _URLISH.search(v)]


def _replays(
    result: FaultRunResult,
    stack: PrivateStack,
    supervisor: Supervisor,
    ns: str,
    db_url: str,
    paths: dict[str, str],
) -> None:
    """K16 (offsets deleted) and K15 (rewound to earliest) on the sink; D3 dedup rebuild."""
    bootstrap = stack.bootstrap
    group = ns + "write_articles"
    for row, reset in (("K16", kafka_state.delete_group), ("K15", _rewind_sink)):
        for slot in supervisor.live("sink"):
            supervisor.retire(slot)
        wait_until(lambda: not kafka_state.group_members(bootstrap, group), 60, 1)
        before = {
            a.article_id: (a.content_hash, a.updated_at)
            for a in reconcile.stored_articles(db_url, paths)
        }
        reset(bootstrap, group) if row == "K16" else reset(bootstrap, ns)
        started = time.monotonic()
        supervisor.add("sink")
        took = wait_until(
            lambda: (
                kafka_state.group_lags(bootstrap, ns)["write_articles"] == 0
                and kafka_state.committed_total(bootstrap, ns, "write_articles") > 0
            ),
            300,
            0.5,
        )
        after = {
            a.article_id: (a.content_hash, a.updated_at)
            for a in reconcile.stored_articles(db_url, paths)
        }
        replayed = kafka_state.committed_total(bootstrap, ns, "write_articles")
        result.replays[row] = {
            "records": replayed,
            "seconds": round(time.monotonic() - started, 1),
            "caught_up": took is not None,
            "rows_before": len(before),
            "rows_after": len(after),
            "rows_changed": sum(1 for k, v in before.items() if after.get(k) != v),
            "content_changed": sum(1 for k, v in before.items() if after.get(k, v)[0] != v[0]),
            "changed_versions": _versions(
                bootstrap, ns, {k for k, v in before.items() if after.get(k) != v}
            ),
        }
    result.replays["D3"] = _dedup_rebuild(stack, supervisor, ns, db_url, paths)


def _versions(bootstrap: str, ns: str, ids: set[str]) -> dict[str, Any]:
    """For rows a replay rewrote: the fields in which news.enriched's versions differ."""
    import json

    versions: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for r in kafka_state.read_topic(bootstrap, ns + "news.enriched"):
            data = json.loads(r.value)
            if data.get("article_id") in ids and data not in versions.get(data["article_id"], []):
                versions.setdefault(data["article_id"], []).append(data)
    detail: dict[str, Any] = {}
    for key, found in versions.items():
        fields = sorted({f for v in found for f in v if any(v.get(f) != w.get(f) for w in found)})
        detail[key[:12]] = {"versions": len(found), "differ_in": fields}
    return detail


def _rewind_sink(bootstrap: str, ns: str) -> None:
    kafka_state.rewind_group(bootstrap, ns + "write_articles", ns + "news.enriched")


def _dedup_rebuild(
    stack: PrivateStack, supervisor: Supervisor, ns: str, db_url: str, paths: dict[str, str]
) -> dict[str, Any]:
    """Replay news.articles into an enricher with empty state; its verdicts must group
    the articles exactly as the live state did.

    The live verdicts are read before the replay starts, once the sink has written all
    the live enrichers published: the sink keeps running during the replay and writes
    the replay's records of a higher revision too, so a read afterwards could catch a
    row at one of the replay's intermediate revisions (a CI run's D3 compared such a
    mix)."""
    from wiredesk.records import EnrichedArticle

    bootstrap = stack.bootstrap
    for slot in supervisor.live("enrich"):
        supervisor.retire(slot)
    wait_until(lambda: not kafka_state.group_members(bootstrap, ns + "enrich_articles"), 60, 1)
    sink_drained = wait_until(
        lambda: kafka_state.group_lags(bootstrap, ns)["write_articles"] == 0, 120, 0.5
    )
    live = reconcile.stored_articles(db_url, paths)
    start = kafka_state.end_offsets(bootstrap, ns + "news.enriched")
    kafka_state.delete_group(bootstrap, ns + "enrich_articles")
    supervisor.add("enrich", WIREDESK_DATABASE_URL=fresh_schema(stack.database_url()))
    caught_up = wait_until(
        lambda: (
            kafka_state.group_lags(bootstrap, ns)["enrich_articles"] == 0
            and kafka_state.committed_total(bootstrap, ns, "enrich_articles") > 0
        ),
        300,
        1,
    )
    replayed = [
        EnrichedArticle.decode(r.value)
        for r in kafka_state.read_topic(bootstrap, ns + "news.enriched", start)
    ]
    corpus_of = {a.article_id: a.corpus_id for a in live}
    rebuilt = reconcile.Verdicts()
    for rec in reconcile.newest(replayed).values():
        cid = corpus_of.get(rec.article_id)
        if cid:
            rebuilt.duplicate_of[cid] = (
                corpus_of.get(rec.duplicate_of) if rec.duplicate_of else None
            )
            rebuilt.story[cid] = rec.story_id
    comparison = reconcile.compare(reconcile.verdicts_of(live), rebuilt)
    found = {
        "caught_up": caught_up is not None,
        "sink_drained_first": sink_drained is not None,
        "replayed": len(replayed),
    }
    if not comparison.groups_equal:  # what each run said about the articles that differ
        found["differing"] = _differing(comparison, live, replayed, corpus_of)
    return {**found, **comparison.as_dict()}


def _differing(
    comparison: reconcile.Comparison,
    live: list[Any],
    replayed: list[Any],
    corpus_of: dict[str, str | None],
) -> dict[str, Any]:
    """For up to 12 articles of the groups in one run only: the live row's duplicate_of
    and every replayed record of it (type, revision, duplicate_of), as corpus ids."""
    ids = sorted(
        {cid for g in comparison.groups_only_expected + comparison.groups_only_found for cid in g}
    )[:12]
    out: dict[str, Any] = {}
    for a in live:
        if a.corpus_id in ids:
            records = [
                (type(r).__name__, r.revision, corpus_of.get(r.duplicate_of or ""))
                for r in replayed
                if r.article_id == a.article_id
            ]
            out[a.corpus_id] = {
                "live": corpus_of.get(a.duplicate_of or ""),
                "replayed": records,
            }
    return out


def summary(result: FaultRunResult) -> dict[str, Any]:
    """A JSON-able digest for logs and the report."""
    return {
        "plan": result.plan.__dict__,
        "served": result.served,
        "rows": result.rows,
        "lost": result.lost,
        "duplicate_rows": result.duplicate_rows,
        "unexpected": len(result.unexpected),
        "lags": result.lags,
        "dead_letters": result.dead_letters,
        "letters": result.letters,
        "dedup": result.dedup,
        "phases": [p.__dict__ for p in result.phases],
        "replays": result.replays,
        "metrics_series_max": max(result.metrics_series.values(), default=0),
        "bad_labels": result.bad_labels[:10],
        "forbidden_connections": len(result.forbidden_connections),
        "peak_rss_mb": result.peak_rss_mb,
        "restarts": result.restarts,
        "exit_codes": result.exit_codes,
        "seconds": result.seconds,
    }


__all__ = ["PLANS", "FaultRunResult", "Plan", "parse_metrics", "run", "summary"]
