"""The faults of the fault run, one function each; each returns what it observed.

Every phase injects its fault while articles keep arriving, then checks the recovery
the catalogue asks for (K2, K4, K5, K8, P1). A phase never asserts: it reports, and the
tests (and RELIABILITY.md) judge the report.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.harness import kafka_state
from tests.reliability.harness.pipeline import CONSUMER_COMMANDS, wait_until
from tests.reliability.harness.procfs import proc_status_kb
from tests.reliability.harness.stack import PrivateStack
from tests.reliability.harness.supervisor import Slot, Supervisor, metric_sum

RECOVERY_S = 60.0  # the catalogue's bound for consumers to resume


def say(message: str) -> None:
    """Progress of a long run, on stderr (pytest shows it for failing tests)."""
    print(f"[{time.strftime('%H:%M:%S')}] fault run: {message}", file=sys.stderr, flush=True)


@dataclass
class PhaseReport:
    name: str
    rows: tuple[str, ...]  # catalogue ids
    injections: int = 0
    seconds: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    stack: PrivateStack
    supervisor: Supervisor
    namespace: str
    rng: random.Random
    release: Callable[[int], object] = lambda n: None  # publish n held-back articles
    burst: int = 0  # articles released at a fault, so recovery is checked under load


def _commits(ctx: Context, slot: Slot) -> float | None:
    samples = ctx.supervisor.scrape(slot)
    return None if samples is None else metric_sum(samples, "wiredesk_commits_total")


def _groups_resume(ctx: Context, timeout: float) -> dict[str, float | None]:
    """Per group: seconds until its committed offsets moved (or it had nothing left)."""
    bootstrap, ns = ctx.stack.bootstrap, ctx.namespace
    before = {g: kafka_state.committed_total(bootstrap, ns, g) for g in kafka_state.GROUP_TOPICS}

    def moved(group: str) -> bool:
        progress = kafka_state.partition_progress(
            bootstrap, ns + group, ns + kafka_state.GROUP_TOPICS[group]
        )
        committed = sum(c for c, _ in progress.values())
        return committed > before[group] or all(c == e for c, e in progress.values())

    return {g: wait_until(lambda g=g: moved(g), timeout) for g in kafka_state.GROUP_TOPICS}


def kill9(ctx: Context, kills: int) -> PhaseReport:
    """K2: kill -9 random workers of every consumer stage, 0.1-5 s apart."""
    say(f"kill -9 x{kills}")
    report = PhaseReport("kill -9 of random workers", ("K2",), injections=0)
    started = time.monotonic()
    kinds = list(CONSUMER_COMMANDS)
    ctx.rng.shuffle(kinds)
    order = kinds + [ctx.rng.choice(kinds) for _ in range(max(0, kills - len(kinds)))]
    waits: list[float | str | None] = []
    watchers = []
    killed: dict[str, int] = {}
    for kind in order:
        time.sleep(ctx.rng.uniform(0.1, 5.0))
        slot = ctx.supervisor.kill_random([kind], ctx.rng)
        if slot is None:
            continue
        report.injections += 1
        killed[kind] = killed.get(kind, 0) + 1
        watcher = threading.Thread(target=_first_commit, args=(ctx, slot, slot.starts, waits))
        watcher.start()
        watchers.append(watcher)
    for watcher in watchers:
        watcher.join(timeout=RECOVERY_S + 60)
    report.seconds = time.monotonic() - started
    measured = [w for w in waits if isinstance(w, float)]
    report.checks.update(
        killed=killed,
        restart_to_first_commit_max_s=round(max(measured), 1) if measured else None,
        restart_to_first_commit_measured=len(measured),
        restart_killed_again_first=sum(1 for w in waits if w == KILLED_AGAIN),
        restart_never_committed=sum(1 for w in waits if w is None),
    )
    return report


KILLED_AGAIN = "killed again before its first commit"


def _first_commit(
    ctx: Context, slot: Slot, starts_before: int, out: list[float | str | None]
) -> None:
    """Seconds from the slot's restart to its first offset commit; None: not seen; or
    KILLED_AGAIN when a later kill of the same slot came first (that kill's own watcher
    then measures the next restart)."""
    if wait_until(lambda: slot.starts > starts_before and slot.alive, 60, 0.2) is None:
        out.append(None)
        return
    restarted_at, generation = slot.started_at, slot.starts
    took = wait_until(
        lambda: slot.starts != generation or (_commits(ctx, slot) or 0) > 0, RECOVERY_S + 45, 0.5
    )
    if took is not None and slot.starts != generation:
        out.append(KILLED_AGAIN)
    else:
        out.append(None if took is None else time.monotonic() - restarted_at)


def rebalance_storm(ctx: Context, seconds: float) -> PhaseReport:
    """K8: extra consumers join and leave every 5 s; then every partition must move."""
    say(f"rebalance storm {seconds:.0f} s")
    report = PhaseReport("rebalance storm (workers join and leave)", ("K8",))
    started = time.monotonic()
    extras: list[Slot] = []
    while time.monotonic() - started < seconds:
        if extras and ctx.rng.random() < 0.5:
            for slot in ctx.rng.sample(extras, k=min(len(extras), ctx.rng.randint(1, 3))):
                extras.remove(slot)
                code = ctx.supervisor.retire(slot)
                report.checks.setdefault("leave_exit_codes", []).append(code)
        else:
            kind = ctx.rng.choice(list(CONSUMER_COMMANDS))
            extras += ctx.supervisor.add(kind, ctx.rng.randint(1, 3))
        report.injections += 1
        # every 5 s from the start (the catalogue's pace), however long a join/leave took
        time.sleep(max(0.0, started + 5 * report.injections - time.monotonic()))
    for slot in extras:
        report.checks.setdefault("leave_exit_codes", []).append(ctx.supervisor.retire(slot))
    report.seconds = time.monotonic() - started
    report.checks["partitions_stuck_after_storm"] = _stuck_partitions(ctx, RECOVERY_S)
    return report


def _stuck_partitions(ctx: Context, timeout: float) -> list[str]:
    """Partitions with lag whose committed offset did not advance within ``timeout``."""
    bootstrap, ns = ctx.stack.bootstrap, ctx.namespace
    pending: dict[tuple[str, int], int] = {}
    for group, topic in kafka_state.GROUP_TOPICS.items():
        for p, (committed, end) in kafka_state.partition_progress(
            bootstrap, ns + group, ns + topic
        ).items():
            if end > committed:
                pending[(group, p)] = committed

    def all_moved() -> bool:
        for group, topic in kafka_state.GROUP_TOPICS.items():
            progress = kafka_state.partition_progress(bootstrap, ns + group, ns + topic)
            for p, (committed, end) in progress.items():
                if (group, p) in pending and (committed > pending[(group, p)] or committed == end):
                    del pending[(group, p)]
        return not pending

    wait_until(all_moved, timeout, 2.0)
    return [f"{g}[{p}]" for g, p in sorted(pending)]


def broker_outage(ctx: Context, seconds: float) -> PhaseReport:
    """K4: the broker stopped (SIGTERM) for ``seconds``, then started again."""
    say(f"broker stopped for {seconds:.0f} s")
    report = PhaseReport(f"Kafka broker stopped {seconds:.0f} s", ("K4",), injections=1)
    started = time.monotonic()
    ctx.stack.down("kafka")
    ctx.release(ctx.burst)  # arrives while the broker is away
    time.sleep(seconds)
    ctx.stack.up("kafka")
    report.checks["resume_s"] = _groups_resume(ctx, RECOVERY_S)
    report.seconds = time.monotonic() - started
    return report


def broker_pause(ctx: Context, seconds: float) -> PhaseReport:
    """K5: the broker frozen (SIGSTOP) past the session timeout, then continued.

    No worker may stay wedged: within 60 s of CONT every worker is back in its group
    and every partition with records waiting has its committed offset advancing.
    """
    say(f"broker paused for {seconds:.0f} s")
    report = PhaseReport(f"Kafka broker paused {seconds:.0f} s (SIGSTOP)", ("K5",), injections=1)
    started = time.monotonic()
    ctx.stack.pause_kafka()
    try:
        time.sleep(seconds)
    finally:
        ctx.stack.resume_kafka()
    ctx.release(ctx.burst)  # new work for every stage after the pause
    resumed = time.monotonic()
    slots = [s for s in ctx.supervisor.live() if s.command in CONSUMER_COMMANDS]
    outside = wait_until(lambda: not _outside_group(ctx, slots), RECOVERY_S, 1.0)
    left = max(5.0, RECOVERY_S - (time.monotonic() - resumed))
    report.checks["partitions_stuck_60s"] = _stuck_partitions(ctx, left)
    report.checks["workers_outside_group_60s"] = (
        [] if outside is not None else _outside_group(ctx, slots)
    )
    report.checks["rejoin_s"] = round(outside, 1) if outside is not None else None
    report.checks["workers_checked"] = len(slots)
    for name in report.checks["workers_outside_group_60s"]:
        ctx.supervisor.kill(_slot(slots, name), signal.SIGUSR2)  # stack dump into its log
    report.seconds = time.monotonic() - started
    return report


def _outside_group(ctx: Context, slots: list[Slot]) -> list[str]:
    """Live workers that hold no membership in their stage's group."""
    members: dict[str, dict[int, list[int]]] = {}
    missing = []
    for slot in slots:
        group = ctx.namespace + CONSUMER_COMMANDS[slot.command]
        if group not in members:
            members[group] = kafka_state.group_assignment(ctx.stack.bootstrap, group)
        if slot.alive and slot.pid not in members[group]:
            missing.append(slot.name)
    return missing


def _slot(slots: list[Slot], name: str) -> Slot:
    return next(s for s in slots if s.name == name)


def postgres_outage(ctx: Context, seconds: float) -> PhaseReport:
    """P1: PostgreSQL stopped (immediate) for ``seconds``; the sink must hold its ground."""
    say(f"PostgreSQL stopped for {seconds:.0f} s")
    report = PhaseReport(f"PostgreSQL stopped {seconds:.0f} s (immediate)", ("P1",), injections=1)
    bootstrap, group = ctx.stack.bootstrap, ctx.namespace + "write_articles"
    sinks = ctx.supervisor.live("sink")
    members_before = kafka_state.group_members(bootstrap, group)
    rss_before = {s.name: proc_status_kb(s.pid, "VmRSS") for s in sinks if s.pid}
    retries_before = sum(
        metric_sum(ctx.supervisor.scrape(s), "wiredesk_retries_total", stage="write_articles")
        for s in sinks
    )
    ctx.release(ctx.burst)  # in flight upstream when the database goes
    time.sleep(3)
    started = time.monotonic()
    ctx.stack.crash_postgres()
    # Load on the sink while the database is down: the newest enriched records arrive
    # again (a redelivery the sink must absorb as no-ops once the database is back).
    redelivered = redeliver_tail(ctx, "news.enriched", 60)
    time.sleep(min(3.0, seconds / 3))  # let batches in flight finish or fail
    committed_early = kafka_state.committed_total(bootstrap, ctx.namespace, "write_articles")
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    committed_late = kafka_state.committed_total(bootstrap, ctx.namespace, "write_articles")
    members_during = kafka_state.group_members(bootstrap, group)
    rss_after = {s.name: proc_status_kb(s.pid, "VmRSS") for s in sinks if s.pid}
    retries_during = sum(
        metric_sum(ctx.supervisor.scrape(s), "wiredesk_retries_total", stage="write_articles")
        for s in sinks
    )
    ctx.stack.up("postgres")
    growth = [(rss_after[n] - rss_before[n]) / 1024 for n in rss_before if n in rss_after] or [0.0]
    report.checks.update(
        redelivered_during_outage=redelivered,
        sink_commits_during_outage=committed_late - committed_early,
        sink_members_unchanged=members_before == members_during and bool(members_before),
        sink_rss_growth_mb_max=round(max(growth), 1),
        sink_db_retries_during_outage=retries_during - retries_before,
        sink_resume_s=_groups_resume(ctx, RECOVERY_S)["write_articles"],
    )
    report.seconds = time.monotonic() - started
    return report


def redeliver_tail(ctx: Context, topic: str, count: int) -> int:
    """Publish about ``count`` of the newest records of ``topic`` again, same keys and
    bytes: the tail of every partition (so that every member of the consuming group, a
    worker that just joined included, gets work), up to ``count`` in all."""
    from wiredesk.bus.kafka import KafkaBus

    by_partition: dict[int, list[Any]] = {}
    for r in kafka_state.read_topic(ctx.stack.bootstrap, ctx.namespace + topic):
        by_partition.setdefault(r.partition, []).append(r)
    each = -(-count // max(len(by_partition), 1))
    records = [r for part in by_partition.values() for r in part[-each:]][:count]
    bus = KafkaBus(ctx.stack.bootstrap, namespace=ctx.namespace, client_id="fault-run")
    try:
        for r in records:
            bus.publish(topic, r.key.decode() if r.key else None, r.value)
        bus.flush()
    finally:
        bus.close()
    return len(records)
