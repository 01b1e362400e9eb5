"""Issue 13's faults in the fault run, one phase each (they report; the tests judge):

* a poison record per stage (fetch, extract, enrich, sink) that never finishes by itself
  (``WIREDESK_TEST_POISON``, see worker_main): it must end as a ``budget_exceeded``
  dead letter of that stage while the worker keeps running and answering /healthz;
* a sink frozen (SIGSTOP) in the middle of a batch, evicted, then resumed: its stale
  batch must not move any stored row back (the offset fence and the row order);
* dead letters for a 600 KB key and a 700 KB host name: they must fit in the DLQ
  without any worker exiting.
"""

from __future__ import annotations

import base64
import json
import random
import signal
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from devserver.server import CorpusArticle
from tests.reliability.harness import kafka_state
from tests.reliability.harness.phases import Context, PhaseReport, redeliver_tail, say
from tests.reliability.harness.pipeline import wait_until
from tests.reliability.harness.supervisor import Slot, metric_sum
from wiredesk.db.tables import ArticleRow
from wiredesk.records import DeadLetter

POISON_ENV = {"WIREDESK_TEST_POISON": "1"}
POISON_STAGES = {  # worker command -> its stage (the dead letter's ``stage``)
    "fetch": "fetch_pages",
    "extract": "extract_articles",
    "enrich": "enrich_articles",
    "sink": "write_articles",
}
HUGE_KEY_BYTES = 600_000
HUGE_HOST_BYTES = 700_000
PROBE_TIMEOUT_S = 3.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# -- the poison articles ----------------------------------------------------------------


def poison_articles(site: str, seed: int = 13) -> dict[str, CorpusArticle]:
    """One article per stage whose URL names the stage that will spin on it. Their words
    are invented, so that the one that reaches the enricher joins no story or copy group."""
    rng = random.Random(seed)
    syllables = ["zor", "quel", "vint", "ashk", "brum", "tiv", "olp", "yath", "greb", "unk"]

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(3))

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = {}
    for command in POISON_STAGES:
        paragraphs = tuple(" ".join(word() for _ in range(40)).capitalize() + "." for _ in range(5))
        out[command] = CorpusArticle(
            id=f"poison-{command}",
            site=site,
            slug=f"poison-{command}-record",
            title=f"The {word()} {word()} report",
            author="Test Desk",
            published=now,
            paragraphs=paragraphs,
            story=f"poison-{command}",
        )
    return out


def poison_command(url: str) -> str | None:
    """The worker command a URL poisons, if any."""
    return next((c for c in POISON_STAGES if f"poison-{c}" in url), None)


# -- probes -----------------------------------------------------------------------------


@dataclass
class HealthProbe:
    """Probes /healthz of every live worker once a second, in a thread, during a phase."""

    ctx: Context
    skip: Callable[[Slot], bool] = lambda slot: False
    probes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> HealthProbe:
        self._thread = threading.Thread(target=self._run, name="healthz-probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:  # the first round at once: a phase can be over in under a second
            self._probe_all()
            if self._stop.wait(1.0):
                return

    def _probe_all(self) -> None:
        for slot in self.ctx.supervisor.live():
            if slot.alive and not self.skip(slot):
                self.probes += 1
                if not healthz_ok(slot):
                    self.failures[slot.name] += 1


def healthz_ok(slot: Slot) -> bool:
    try:
        url = f"http://127.0.0.1:{slot.metrics_port}/healthz"
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:
            return response.status == 200
    except OSError:
        return False


def _exits_since(ctx: Context, since: float) -> list[str]:
    return [
        f"{name}: {what}"
        for t, name, what in ctx.supervisor.events
        if t >= since and "exited" in what
    ]


def dead_letters(ctx: Context) -> list[DeadLetter]:
    return [
        DeadLetter.decode(r.value)
        for r in kafka_state.read_topic(ctx.stack.bootstrap, ctx.namespace + "news.dlq")
    ]


def _letter_bytes(ctx: Context) -> int:
    records = kafka_state.read_topic(ctx.stack.bootstrap, ctx.namespace + "news.dlq")
    return max((len(r.value) + len(r.key or b"") for r in records), default=0)


# -- phases -----------------------------------------------------------------------------


def poison_records(
    ctx: Context, publish: Callable[[CorpusArticle], None], site: str
) -> PhaseReport:
    """B1: one record per stage that spins until its budget stops it, in a burst of
    ordinary articles; every stage must dead-letter its own and carry on."""
    say("a poison record per stage (over its budget)")
    report = PhaseReport("poison record per stage over its budget", ("B1",), injections=4)
    started = time.monotonic()
    articles = poison_articles(site)
    starts = {s.name: s.starts for s in ctx.supervisor.live()}
    with HealthProbe(ctx) as probe:
        ctx.release(ctx.burst)  # ordinary articles in the same batches
        for article in articles.values():
            publish(article)

        def found() -> dict[str, DeadLetter]:
            return _poison_letters(dead_letters(ctx))

        wait_until(lambda: len(found()) == len(POISON_STAGES), 180, 2.0)
        letters = found()
    report.seconds = time.monotonic() - started
    report.checks.update(
        budget_exceeded={
            command: f"{letter.stage}: {letter.detail}" for command, letter in letters.items()
        },
        missing_stages=sorted(set(POISON_STAGES) - set(letters)),
        exits=_exits_since(ctx, started),
        restarted=sorted(
            s.name for s in ctx.supervisor.live() if s.starts != starts.get(s.name, s.starts)
        ),
        healthz_probes=probe.probes,
        healthz_failures=dict(probe.failures),
    )
    return report


def _poison_letters(letters: list[DeadLetter]) -> dict[str, DeadLetter]:
    """command -> its stage's budget_exceeded letter for that stage's poison record."""
    out: dict[str, DeadLetter] = {}
    for letter in letters:
        command = poison_command(_record_url(letter))
        if (
            command
            and letter.reason == "budget_exceeded"
            and letter.stage == POISON_STAGES[command]
        ):
            out.setdefault(command, letter)
    return out


def zombie_sink(ctx: Context, db_url: str) -> PhaseReport:
    """B4: a sink frozen (SIGSTOP) right after processing a batch, evicted from its group,
    and resumed once the other sinks have written newer versions of that batch's records
    (the same records published again, at later offsets): it must write nothing stale (no
    stored row's version moves back), then carry on as a member (and exit 0 on SIGTERM)."""
    say("a sink frozen mid-batch, evicted, resumed")
    report = PhaseReport("zombie sink resumed after eviction", ("B4",), injections=1)
    started = time.monotonic()
    bootstrap, group = ctx.stack.bootstrap, ctx.namespace + "write_articles"
    topic = ctx.namespace + "news.enriched"
    (zombie,) = ctx.supervisor.add("sink", WIREDESK_CRASH_AT="freeze:after_process")
    c = report.checks
    # joined = partitions assigned (a member listed mid-rebalance has none yet), or the
    # zombie already froze: the hook fires only after a non-empty batch, so it had
    # partitions. With records left from the outage phase it can get them, process a
    # batch and stop between two looks at the group (a CI run missed it for 180 s). The
    # group's rebalance right after the PostgreSQL outage phase took over 60 s in CI runs.
    pid = zombie.pid
    seen: list[str] = []

    def has_joined() -> bool:
        if pid is not None and _stopped(pid):
            seen.append("froze on a batch")
        elif kafka_state.group_assignment(bootstrap, group).get(pid):
            seen.append("partitions assigned")
        return bool(seen)

    joined = wait_until(has_joined, 180, 1)
    c["joined"] = joined is not None
    c["joined_s"] = None if joined is None else round(joined, 1)
    c["joined_by"] = seen[0] if seen else None
    c["redelivered"] = redeliver_tail(ctx, "news.enriched", 60)  # work for its partitions
    c["frozen"] = pid is not None and wait_until(lambda: _stopped(pid), 60, 0.2) is not None
    if not c["frozen"] or pid is None:
        ctx.supervisor.retire(zombie)
        return report
    # the same records again, at later offsets: versions newer than the zombie's batch
    c["newer_versions"] = redeliver_tail(ctx, "news.enriched", 60)
    ends = kafka_state.end_offsets(bootstrap, topic)
    evicted = wait_until(lambda: pid not in kafka_state.group_assignment(bootstrap, group), 60, 1)
    c["evicted_s"] = None if evicted is None else round(evicted, 1)

    def past_the_batch() -> bool:
        progress = kafka_state.partition_progress(bootstrap, group, topic)
        return all(progress[p][0] >= end for p, end in ends.items())

    c["others_wrote_past_it"] = wait_until(past_the_batch, 120, 1) is not None
    before = _positions(db_url)
    with HealthProbe(ctx, skip=lambda slot: slot is zombie) as probe:
        ctx.supervisor.kill(zombie, signal.SIGCONT)
        resumed = time.monotonic()
        refused = wait_until(
            lambda: metric_sum(ctx.supervisor.scrape(zombie), "wiredesk_commit_failed_total") > 0,
            60,
            0.5,
        )
        answered = wait_until(lambda: healthz_ok(zombie), 60, 0.5)
        samples = ctx.supervisor.scrape(zombie)
        after = _positions(db_url)
    c.update(
        stale_commit_refused=refused is not None,
        fenced_rows=metric_sum(samples, "wiredesk_sink_rows_total", outcome="fenced"),
        healthz_after_resume_s=None if answered is None else round(time.monotonic() - resumed, 1),
        rows_compared=len(before),
        rows_moved_back=sorted(k[:12] for k, v in before.items() if k in after and after[k] < v),
        rows_changed=sum(1 for k, v in before.items() if after.get(k) != v),
        zombie_alive=zombie.alive,
        exits=_exits_since(ctx, started),
        healthz_failures_others=dict(probe.failures),
    )
    c["zombie_exit_code"] = ctx.supervisor.retire(zombie)
    report.seconds = time.monotonic() - started
    return report


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("T")
    except (OSError, IndexError):
        return False


def _positions(db_url: str) -> dict[str, tuple[Any, ...]]:
    """article_id -> the stored row's version (fetched_at, source partition, offset)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    ArticleRow.article_id,
                    ArticleRow.fetched_at,
                    ArticleRow.source_partition,
                    ArticleRow.source_offset,
                )
            ).all()
    finally:
        engine.dispose()
    return {
        r.article_id: (r.fetched_at or EPOCH, r.source_partition or 0, r.source_offset or 0)
        for r in rows
    }


def oversized_letters(ctx: Context) -> PhaseReport:
    """B5: a links message with a 600 KB key and a link to a 700 KB host name: the fetch
    stage dead-letters both within the broker's limit, and no worker exits."""
    from wiredesk.bus import MAX_MESSAGE_BYTES
    from wiredesk.bus.kafka import KafkaBus
    from wiredesk.records import Link
    from wiredesk.topics import LINKS

    say("dead letters for a 600 KB key and a 700 KB host name")
    report = PhaseReport("oversized dead letters", ("B5",), injections=2)
    started = time.monotonic()
    before = len(dead_letters(ctx))
    with HealthProbe(ctx) as probe:
        bus = KafkaBus(ctx.stack.bootstrap, namespace=ctx.namespace, client_id="fault-run")
        try:
            bus.publish(LINKS.name, "k" * HUGE_KEY_BYTES, b'{"schema": "news.links/1"}')
            host = Link(url=f"http://{'a' * HUGE_HOST_BYTES}.example/news/1", article_id="0" * 32)
            bus.publish(LINKS.name, None, host.encode())
            bus.flush()
        finally:
            bus.close()

        def new_letters() -> list[DeadLetter]:
            return dead_letters(ctx)[before:]

        wait_until(lambda: len(_oversized(new_letters())) >= 2, 120, 1.0)
        letters = _oversized(new_letters())
        fetchers = ctx.supervisor.live("fetch")
        lost = sum(
            metric_sum(ctx.supervisor.scrape(s), "wiredesk_dlq_lost_total") for s in fetchers
        )
    report.seconds = time.monotonic() - started
    report.checks.update(
        letters={k: f"{d.stage} {d.reason}" for k, d in letters.items()},
        largest_letter_bytes=_letter_bytes(ctx),
        broker_limit_bytes=MAX_MESSAGE_BYTES,
        key_kept=letters["key"].source_key[-90:] if "key" in letters else None,
        original_size=letters["host"].original_size if "host" in letters else None,
        original_truncated=letters["host"].original_truncated if "host" in letters else None,
        dlq_lost=lost,
        exits=_exits_since(ctx, started),
        healthz_probes=probe.probes,
        healthz_failures=dict(probe.failures),
    )
    return report


def _oversized(letters: list[DeadLetter]) -> dict[str, DeadLetter]:
    out: dict[str, DeadLetter] = {}
    for letter in letters:
        if letter.source_key_truncated:
            out.setdefault("key", letter)
        elif (letter.original_size or 0) > HUGE_HOST_BYTES:
            out.setdefault("host", letter)
    return out


def _record_url(letter: DeadLetter) -> str:
    """The ``url`` of the dead-lettered record ('' if its original is not such JSON)."""
    try:
        value = json.loads(base64.b64decode(letter.original))
    except ValueError:
        return ""
    return str(value.get("url", "")) if isinstance(value, dict) else ""


def classify(letters: list[DeadLetter]) -> dict[str, Any]:
    """Every letter of the run: the injected ones by kind, and any other (a loss)."""
    kinds: Counter[str] = Counter()
    others = []
    for letter in letters:
        command = poison_command(_record_url(letter))
        if command and letter.reason == "budget_exceeded":
            kinds[f"poison-{command} at {letter.stage}"] += 1
        elif letter.source_key_truncated or (letter.original_size or 0) > HUGE_HOST_BYTES:
            kinds[f"oversized: {letter.reason}"] += 1
        else:
            others.append(f"{letter.stage} {letter.reason}: {letter.detail[:200]}")
    return {"injected": dict(sorted(kinds.items())), "others": others}
