"""``python -m tests.reliability.harness.worker_main <wiredesk args>``: a wiredesk worker
with the suite's test-only hooks, then exactly ``wiredesk.app.cli.main``.

Hooks, each enabled by an environment variable (none changes the stage code):

* ``WIREDESK_TEST_SOCKET_AUDIT=DIR``: the socket guard (record + refuse non-loopback);
* ``WIREDESK_TEST_CRASH_BEFORE_COMMIT=TABLE``: ``os._exit(137)`` when a transaction that
  wrote ``TABLE`` is about to commit (the "after_db_flush" boundary of catalogue K1);
* always: SIGUSR2 dumps every thread's stack into the worker's log (a wedged worker
  tells where it is stuck);
* ``WIREDESK_TEST_FREEZE_SIGNAL=1``: SIGUSR1 freezes the consume loop thread for good
  while the metrics/health thread keeps answering (catalogue M5);
* ``WIREDESK_TEST_POISON=1``: the stage's ``process`` spins in pure Python on a record
  whose URL contains ``poison-<command>`` (e.g. ``poison-enrich``), until the runner's
  per-record budget interrupts it: a stand-in for a CPU-unbounded bug, through the same
  budget path as any stage code (issue 13, catalogue B1).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def _install_crash_before_commit(table: str) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    wrote = threading.local()
    needle = f"insert into {table.lower()}"

    @event.listens_for(Engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if needle in statement.lower():
            wrote.flag = True

    @event.listens_for(Engine, "commit")
    def _commit(conn: Any) -> None:
        if getattr(wrote, "flag", False):
            sys.stderr.write(f"test hook: crash before commit of {table}\n")
            sys.stderr.flush()
            os._exit(137)


def _install_freeze() -> None:
    from wiredesk.runner import StageRunner

    frozen = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: frozen.set())
    original = StageRunner.run_batch

    def run_batch(self: StageRunner) -> int:
        if frozen.is_set():
            threading.Event().wait()  # the loop thread stops turning; nothing else does
        return original(self)

    StageRunner.run_batch = run_batch  # type: ignore[method-assign]


def _install_poison(command: str) -> None:
    import dataclasses

    from wiredesk.runner import StageRunner

    marker = f"poison-{command}"
    original_init = StageRunner.__init__

    def init(self: StageRunner, stage: Any, *args: Any, **kwargs: Any) -> None:
        process = stage.process

        def poisoned(record: Any) -> Any:
            if marker in str(getattr(record, "url", "")):
                spin_forever()
            return process(record)

        original_init(self, dataclasses.replace(stage, process=poisoned), *args, **kwargs)

    StageRunner.__init__ = init  # type: ignore[method-assign]


def spin_forever() -> None:
    """Busy Python code that never ends by itself (only the budget's signal stops it)."""
    n = 0
    while True:
        n = (n * 31 + 7) % 1_000_003


def main(argv: list[str]) -> int:
    from wiredesk.app.services import stop_early_on_signals

    stop_early_on_signals()  # as the CLI does, before the hooks' imports take their time
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    audit = os.environ.get("WIREDESK_TEST_SOCKET_AUDIT")
    if audit:
        from tests.reliability.harness.guard import install

        install(Path(audit), block=True)
    table = os.environ.get("WIREDESK_TEST_CRASH_BEFORE_COMMIT")
    if table:
        _install_crash_before_commit(table)
    if os.environ.get("WIREDESK_TEST_FREEZE_SIGNAL") == "1":
        _install_freeze()
    if os.environ.get("WIREDESK_TEST_POISON") == "1" and argv:
        _install_poison(argv[0])
    from wiredesk.app.cli import main as wiredesk_main

    return wiredesk_main(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
