"""Per-record CPU and wall-clock budgets, enforced in the worker's own process.

What CPython lets us enforce, and how (issue 13, catalogue B1/B3):

* **Soft limit (interrupt and go on).** While a record is processed, ``SIGALRM`` ticks
  every ``tick_s`` (``setitimer(ITIMER_REAL)``, main thread only). The handler compares the
  main thread's CPU time (``time.thread_time``: the sandbox children, the fetch pool and
  Kafka's heartbeat thread are not charged to the record) and the elapsed wall time with
  the budget and raises :class:`BudgetExceeded` in the record's code. Python code is
  interrupted at the next bytecode; the ``re`` module checks for signals while it backtracks,
  so a catastrophic backtrack is interrupted too (measured: 0.5 s budget, 0.50 s). The
  runner dead-letters the record as ``budget_exceeded`` (stage, step) and goes on.
  The same tick honours a stop request (SIGTERM) within ``tick_s``: :class:`Interrupted`.
* **Hard limit (kill, then count).** C code that holds the GIL without ever returning
  to Python (an lxml or Cython loop) cannot run a signal handler, and it starves every
  Python thread, /healthz and the heartbeat included. For that, the runner arms
  ``faulthandler.dump_traceback_later(..., exit=True)`` at wall + ``hard_grace_s`` (up to
  ``REARM_SLACK_S`` later, so it is re-armed rarely): a C thread that needs no GIL, dumps
  every thread's stack to stderr and ``_exit(1)``\\ s the process. The
  supervisor restarts it; the record comes back, and :mod:`wiredesk.attempts` dead-letters
  it once it has taken a worker down ``max_record_crashes`` times.

Limits: off the main thread (tests, replays in threads) no budget is enforced; an
exception raised asynchronously may land in a library's cleanup code (context managers
still run; a transaction is rolled back). The budgets are per record and the runner
keeps the consumer alive between records, so a batch never outlives max.poll.interval.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

OWN_PACKAGES = ("ingest.", "transform.", "sink.", "wiredesk.")
SKIPPED_MODULES = ("wiredesk.budget", "wiredesk.runner")
REARM_SLACK_S = 5.0  # the hard deadline may fire up to this much later than wall + grace


@dataclass(frozen=True)
class Budget:
    cpu_s: float
    wall_s: float


class BudgetExceeded(BaseException):  # noqa: N818 (a BaseException: `except Exception` in stage code must not swallow it)
    """A record went over its CPU or wall budget; ``step`` is where it was at the time."""

    def __init__(self, kind: str, step: str, cpu_s: float, wall_s: float, budget: Budget) -> None:
        super().__init__(f"{kind} budget exceeded in {step}")
        self.kind = kind
        self.step = step
        self.cpu_s = cpu_s
        self.wall_s = wall_s
        self.budget = budget

    @property
    def detail(self) -> str:
        return (
            f"{self.kind} budget exceeded at step {self.step}: cpu {self.cpu_s:.2f}s "
            f"of {self.budget.cpu_s:g}s, wall {self.wall_s:.2f}s of {self.budget.wall_s:g}s"
        )


class Interrupted(BaseException):  # noqa: N818
    """A stop was requested (SIGTERM) while a record was being processed."""


def step_of(frame: FrameType | None) -> str:
    """``module:function`` of the innermost frame of our own code (``?`` if none)."""
    fallback = "?"
    while frame is not None:
        module = str(frame.f_globals.get("__name__", "?"))
        name = f"{module}:{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)}"
        if module.startswith(OWN_PACKAGES) and not module.startswith(SKIPPED_MODULES):
            return name
        if fallback == "?":
            fallback = name
        frame = frame.f_back
    return fallback


class Guard:
    """Enforces one budget at a time around a block of the main thread."""

    def __init__(
        self,
        stop: threading.Event | None = None,
        *,
        tick_s: float = 0.1,
        hard_grace_s: float | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.stop = stop or threading.Event()
        self.tick_s = tick_s
        self.on_tick = on_tick  # e.g. the liveness beat: a record under its budget is progress
        self.hard_grace_s = hard_grace_s  # None: no hard kill (tests, embedded mode)
        self._active: Budget | None = None
        self._started_wall = 0.0
        self._started_cpu = 0.0
        self._installed = False
        self._hard_deadline = 0.0  # monotonic time the armed hard deadline fires at

    @property
    def enforcing(self) -> bool:
        return threading.current_thread() is threading.main_thread()

    @contextmanager
    def limit(self, budget: Budget) -> Iterator[None]:
        """Run the block under ``budget``; raises BudgetExceeded or Interrupted in it."""
        if not self.enforcing or self._active is not None:
            yield  # another thread, or nested: the outer budget (if any) applies
            return
        self._install()
        self._started_wall = time.monotonic()
        self._started_cpu = time.thread_time()
        self._active = budget
        signal.setitimer(signal.ITIMER_REAL, self.tick_s, self.tick_s)
        self._arm_hard(budget)
        try:
            yield
        finally:
            self._active = None
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _arm_hard(self, budget: Budget) -> None:
        """Arm the hard deadline so that it fires no sooner than wall + grace after now.

        Arming starts a watchdog thread (about 30-100 us), so it is re-armed only when
        the armed deadline would be too early, with ``REARM_SLACK_S`` to spare: at most
        once per that many seconds. The runner disarms it after each batch."""
        if self.hard_grace_s is None:
            return
        needed = time.monotonic() + budget.wall_s + self.hard_grace_s
        if needed > self._hard_deadline:
            faulthandler.dump_traceback_later(
                budget.wall_s + self.hard_grace_s + REARM_SLACK_S, exit=True, file=sys.stderr
            )
            self._hard_deadline = needed + REARM_SLACK_S

    def disarm(self) -> None:
        """Cancel the hard deadline (between batches: polling is not a record)."""
        if self._hard_deadline:
            faulthandler.cancel_dump_traceback_later()
            self._hard_deadline = 0.0

    def _install(self) -> None:
        if not self._installed:
            signal.signal(signal.SIGALRM, self._tick)
            self._installed = True

    def _tick(self, signum: int, frame: FrameType | None) -> None:
        budget = self._active
        if budget is None:
            return
        if self.stop.is_set():
            self._active = None
            raise Interrupted()
        if self.on_tick is not None:
            self.on_tick()
        cpu = time.thread_time() - self._started_cpu
        wall = time.monotonic() - self._started_wall
        kind = "cpu" if cpu > budget.cpu_s else "wall" if wall > budget.wall_s else None
        if kind is not None:
            self._active = None
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise BudgetExceeded(kind, step_of(frame), cpu, wall, budget)
