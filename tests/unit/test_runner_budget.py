"""Issue 13 on the in-process bus: per-record budgets (B1/B3), poison records that take
the worker down (crash loop), dead letters that always fit (B5)."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import metric
from tests.unit.test_runner import FAST, IN, OUT, committed, dead_letters, fill, link
from wiredesk import deadletters
from wiredesk.attempts import MemoryLedger, SqlLedger
from wiredesk.budget import Budget
from wiredesk.bus import MAX_MESSAGE_BYTES
from wiredesk.metrics import Health, serve_metrics
from wiredesk.runner import RunnerOptions, StageRunner, drain
from wiredesk.stage import BadInput, Stage

# The shape of the NER-span regex of issue 13 (nested quantifiers, then an anchor):
# exponential in the length of a punctuation run that is not at the end.
CATASTROPHIC = re.compile(r"(?:['’]s|[\s\"“”‘’')\].,;:]+)+$")
BUDGETED = RunnerOptions(
    poll_timeout_s=0,
    retry_initial_backoff_s=0.001,
    retry_max_backoff_s=0.01,
    budget=Budget(cpu_s=0.5, wall_s=2.0),
)


def spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def hostile(record):
    if record.entry_title == "loop":
        spin(60)  # pure Python: interrupted at the next bytecode
    elif record.entry_title == "regex":
        CATASTROPHIC.search("Acme Corp" + "." * 60 + "x")  # C code that checks signals
    elif record.entry_title == "sleep":
        time.sleep(60)  # no CPU: the wall budget
    elif record.entry_title == "swallow":
        with contextlib.suppress(Exception):  # catching everything does not swallow it
            spin(60)
    yield record


@pytest.mark.parametrize(
    ("title", "kind", "step"),
    [
        ("loop", "cpu", "tests.unit.test_runner_budget:spin"),
        ("regex", "cpu", "tests.unit.test_runner_budget:hostile"),
        ("sleep", "wall", "tests.unit.test_runner_budget:hostile"),
        ("swallow", "cpu", "tests.unit.test_runner_budget:spin"),
    ],
)
def test_a_record_over_its_budget_is_dead_lettered_and_the_batch_goes_on(
    memory_bus, title, kind, step
):
    fill(memory_bus, link(1), link(2, title), link(3))
    stage = Stage(f"budget_{title}", IN, hostile, output=OUT)
    started = time.monotonic()
    drain([StageRunner(stage, memory_bus, options=BUDGETED)])
    assert time.monotonic() - started < 5
    assert len(memory_bus.messages(OUT.name)) == 2
    (letter,) = dead_letters(memory_bus)
    assert letter.reason == "budget_exceeded"
    assert letter.detail.startswith(f"{kind} budget exceeded at step ")
    assert letter.stage == stage.name
    assert committed(memory_bus, stage.name) == 3
    assert metric("wiredesk_dlq_total", stage=stage.name, reason="budget_exceeded") == 1


def test_the_step_is_our_own_innermost_frame_not_a_library_one():
    from types import SimpleNamespace as Frame

    from wiredesk.budget import step_of

    def frame(module, name, back=None):
        return Frame(
            f_globals={"__name__": module},
            f_code=Frame(co_qualname=name, co_name=name),
            f_back=back,
        )

    runner = frame("wiredesk.runner", "StageRunner._guarded")
    ours = frame("transform.entities", "trim", runner)
    library = frame("spacy.language", "Language.__call__", ours)
    assert step_of(library) == "transform.entities:trim"
    assert step_of(frame("re", "sub", runner)) == "re:sub"  # nothing of ours: innermost
    assert step_of(None) == "?"


def test_a_long_record_under_its_budget_keeps_the_worker_live(memory_bus):
    alive_at_end = []

    def slow(record):
        spin(1.5)
        alive_at_end.append(runner.health.alive)
        yield record

    fill(memory_bus, link(1))
    options = RunnerOptions(poll_timeout_s=0, budget=Budget(cpu_s=10, wall_s=10))
    runner = StageRunner(Stage("budget_live", IN, slow, output=OUT), memory_bus, options=options)
    runner.health.stale_after_s = 1.2  # shorter than the record
    drain([runner])
    assert alive_at_end == [True] and len(memory_bus.messages(OUT.name)) == 1


def test_healthz_answers_while_a_record_runs_in_a_catastrophic_regex(memory_bus):
    health = Health("budget_health")
    server = serve_metrics("127.0.0.1", 0, health)
    port = server.server_address[1]
    answers: list[tuple[float, int]] = []

    def probe():
        time.sleep(0.3)  # the record is in the regex by now
        t = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            answers.append((time.monotonic() - t, r.status))

    def slow(record):
        CATASTROPHIC.search("Acme Corp" + "." * 60 + "x")
        yield record

    fill(memory_bus, link(1))
    options = RunnerOptions(poll_timeout_s=0, budget=Budget(cpu_s=30, wall_s=30))
    runner = StageRunner(Stage("budget_health", IN, slow, output=OUT), memory_bus, options=options)
    prober = threading.Thread(target=probe)
    prober.start()
    stopper = threading.Timer(1.5, runner.stop.set)  # SIGTERM: the handler sets this event
    stopper.start()
    started = time.monotonic()
    runner.run()  # interrupted by the stop request, within a tick of it
    took = time.monotonic() - started
    prober.join()
    server.shutdown()
    assert took < 3.0
    assert committed(memory_bus, "budget_health") == 0  # nothing committed: redelivered
    (elapsed, status) = answers[0]
    # the regex holds the GIL; the budget tick returns to Python every 0.1 s, so the
    # health thread gets its turn: answered long before the record would have ended
    assert status == 200 and elapsed < 1.5


class _Crash(BaseException):
    """Stands for the worker being killed (hard budget, OOM) while on a record."""


def crashes_on(title: str):
    def process(record):
        if record.entry_title == title:
            raise _Crash()
        yield record

    return process


@pytest.mark.parametrize("ledger_kind", ["memory", "sql"])
def test_a_record_that_keeps_killing_the_worker_ends_in_the_dlq(
    memory_bus, sqlite_engine, ledger_kind
):
    ledger = MemoryLedger() if ledger_kind == "memory" else SqlLedger(sqlite_engine)
    fill(memory_bus, link(1), link(2, "poison"), link(3))
    stage = Stage(f"crashy_{ledger_kind}", IN, crashes_on("poison"), output=OUT)
    options = RunnerOptions(poll_timeout_s=0, max_record_crashes=3)
    crashes = 0
    for _restart in range(10):  # each restart: a fresh worker on the committed offsets
        runner = StageRunner(stage, memory_bus, options=options, ledger=ledger)
        try:
            drain([runner])
            break
        except _Crash:
            crashes += 1
    assert crashes == 3
    (letter,) = dead_letters(memory_bus)
    assert letter.reason == "crash_loop" and letter.attempts == 3
    assert sorted(m.key for m in memory_bus.messages(OUT.name)) == sorted(
        link(i).key() for i in (1, 3)
    )


def test_a_redelivered_batch_that_did_not_crash_is_not_poison(memory_bus):
    """Records that finished are never counted, however often their batch comes back."""
    ledger = MemoryLedger()
    fill(memory_bus, link(1), link(2))
    stage = Stage("rebalanced", IN, crashes_on("never"), output=OUT)
    for _ in range(5):  # processed, then not committed (say a rebalance): redelivered
        runner = StageRunner(stage, memory_bus, options=FAST, ledger=ledger)
        messages = runner.consumer.poll(10, 0)
        starts = {(m.topic, m.partition): m.offset for m in messages}
        suspect = ledger.begin_batch(runner.group, starts)
        outbox = runner._process_all(messages, suspect)
        assert len(outbox.handled) == 2 and outbox.dead == []


def test_dead_letters_of_huge_keys_details_and_values_fit(memory_bus):
    huge_key = "k" * 600_000
    memory_bus.publish(IN.name, huge_key, b"x" * 300_000)  # 900 KB message

    def refuse(record):
        raise BadInput("refused", "d" * 700_000)
        yield

    memory_bus.publish(IN.name, None, link(1).model_copy(update={"url": "h" * 700_000}).encode())
    drain([StageRunner(Stage("huge_letters", IN, refuse, output=OUT), memory_bus, options=FAST)])
    letters = dead_letters(memory_bus)
    assert sorted(d.reason for d in letters) == ["decode_not_json", "refused"]
    for m in memory_bus.messages("news.dlq"):
        assert len(m.value) < 0.8 * MAX_MESSAGE_BYTES
    keyed = next(d for d in letters if d.source_key_truncated)
    assert "600000 bytes, sha256 " in keyed.source_key
    cut = next(d for d in letters if d.reason == "refused")
    assert cut.original_truncated and cut.original_size > 700_000
    assert len(cut.original_sha256) == 64 and len(cut.detail) < 2_100


def test_a_letter_the_bus_still_refuses_is_resent_minimal_and_never_raises(memory_bus):
    refused = []

    class PickyBus(type(memory_bus)):
        def publish(self, topic, key, value, headers=None):
            if topic == "news.dlq" and len(value) > 10_000:
                refused.append(len(value))
                from wiredesk.errors import RecordRejected

                raise RecordRejected("too_large", "the broker said no")
            super().publish(topic, key, value, headers)

    bus = PickyBus(partitions=1)
    fill(bus, b"\x00" * 50_000)
    drain([StageRunner(Stage("picky", IN, crashes_on("x"), output=OUT), bus, options=FAST)])
    (letter,) = dead_letters(bus)
    assert refused and letter.original == "" and "letter refused" in letter.detail
    assert committed(bus, "picky") == 1

    class DeafBus(type(memory_bus)):
        def publish(self, topic, key, value, headers=None):
            from wiredesk.errors import RecordRejected

            if topic == "news.dlq":
                raise RecordRejected("too_large", "never")
            super().publish(topic, key, value, headers)

    deaf = DeafBus(partitions=1)
    fill(deaf, b"not json")
    drain([StageRunner(Stage("deaf", IN, crashes_on("x"), output=OUT), deaf, options=FAST)])
    assert committed(deaf, "deaf") == 1  # lost letter counted, the stage went on
    assert metric("wiredesk_dlq_lost_total", stage="deaf", reason="decode_not_json") == 1


def test_deeply_nested_json_is_a_decode_error_not_a_crash(memory_bus):
    fill(memory_bus, b"[" * 200_000, link(1))
    drain([StageRunner(Stage("nested", IN, crashes_on("x"), output=OUT), memory_bus, options=FAST)])
    assert [d.reason for d in dead_letters(memory_bus)] == ["decode_undecodable"]
    assert len(memory_bus.messages(OUT.name)) == 1


def test_bounded_key_keeps_short_keys_and_hashes_long_ones():
    assert deadletters.bounded_key("abc") == ("abc", False)
    assert deadletters.bounded_key(None) == (None, False)
    key, cut = deadletters.bounded_key("é" * 10_000)
    assert cut and len(key.encode()) < 400 and "20000 bytes" in key


def test_c_code_that_never_checks_signals_is_killed_at_the_hard_deadline(tmp_path):
    """``sum(range(...))`` runs in C with the GIL held and never runs a signal handler:
    the soft budget cannot interrupt it, the faulthandler deadline ends the process."""
    import subprocess
    import sys

    script = tmp_path / "stuck.py"
    script.write_text(
        "from wiredesk.budget import Budget, Guard\n"
        "with Guard(hard_grace_s=0.5).limit(Budget(cpu_s=0.2, wall_s=0.3)):\n"
        "    sum(range(10**12))\n"
        "print('finished')\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    took = time.monotonic() - started
    assert done.returncode == 1 and b"finished" not in done.stdout
    assert b"Timeout" in done.stderr  # faulthandler's dump of the stuck stack
    assert took < 10
