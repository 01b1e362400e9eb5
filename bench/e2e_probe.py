"""What bench/end_to_end.py watches while the pipeline runs, once a second, in a thread.

* CPU: user+system seconds of every process of each service (the worker and its sandbox
  forkserver and workers), summed; a restarted worker's old processes keep their last
  reading. Also the broker and PostgreSQL (all backends) when their pids are known.
* memory: each service's peak VmHWM of the worker process, and the peak of the sum of
  VmRSS over its process tree (worker + sandbox children).
* rows: ``count(*)`` of the articles table, for the throughput curve.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchlib import cpu_seconds, descendants, status_kb


@dataclass
class Service:
    name: str
    pids: Callable[[], list[int]]  # the root processes (one per worker)
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> last reading
    before: float | None = None  # CPU already spent when first sampled (broker, database)
    hwm_kb: int = 0
    tree_rss_kb: int = 0

    def sample(self) -> None:
        tree_rss = 0
        for root in self.pids():
            self.hwm_kb = max(self.hwm_kb, status_kb(root, "VmHWM"))
            for pid in descendants(root):
                seconds = cpu_seconds(pid)
                if seconds:
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), seconds)
                tree_rss += status_kb(pid, "VmRSS")
        self.tree_rss_kb = max(self.tree_rss_kb, tree_rss)

    @property
    def cpu_total(self) -> float:
        """CPU seconds spent since the first sample."""
        total = sum(self.cpu.values())
        if self.before is None:
            self.before = total
        return total - self.before


@dataclass
class Probe:
    services: list[Service]
    count_rows: Callable[[], int]
    every_s: float = 1.0
    series: list[tuple[float, int, dict[str, float]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Probe:
        self.sample()  # the baseline: CPU the broker and the database spent before us
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def sample(self) -> None:
        for s in self.services:
            s.sample()
        try:
            rows = self.count_rows()
        except Exception:  # noqa: BLE001 (a transient database error: skip the point)
            return
        self.series.append((time.monotonic(), rows, {s.name: s.cpu_total for s in self.services}))

    @property
    def rows(self) -> int:
        return self.series[-1][1] if self.series else 0

    def when_rows(self, n: float) -> tuple[float, dict[str, float]] | None:
        """Time and CPU readings of the first sample with at least ``n`` rows."""
        for t, rows, cpu in self.series:
            if rows >= n:
                return t, cpu
        return None
