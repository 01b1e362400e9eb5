"""A supervisor for ``wiredesk <service>`` worker processes, like a process manager.

Each slot runs one worker (through ``worker_main``, so the socket guard is on), gets its
own metrics port, and is restarted when it dies, with a crash-loop backoff. The monitor
thread samples each worker's peak RSS (``VmHWM`` in /proc) and, optionally, probes
``/healthz`` and restarts a worker whose probe fails, as a container runtime would.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.harness.procfs import proc_status_kb
from tests.reliability.harness.stack import REPO, free_port

WORKER_MODULE = "tests.reliability.harness.worker_main"


@dataclass
class Slot:
    name: str
    command: str
    env: dict[str, str]
    metrics_port: int
    proc: subprocess.Popen[bytes] | None = None
    wanted: bool = True
    starts: int = 0
    started_at: float = 0.0
    exit_codes: list[int] = field(default_factory=list)
    peak_rss_kb: int = 0
    probe_failed_since: float | None = None
    liveness_restarts: int = 0
    last_probe_at: float = 0.0
    term_sent: bool = False
    next_start_at: float = 0.0
    backoff_s: float = 0.5
    profilers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.alive and self.proc else None


PROFILE_RATE_HZ = 100  # py-spy samples per second (bench/profile_report.py divides by it)


def _profiler(slot: Slot, out_dir: Path) -> subprocess.Popen[bytes]:
    """py-spy attached to the worker (and its sandbox children): writes raw stacks to
    ``<out_dir>/<slot>-<start>.txt`` when the worker exits."""
    assert slot.proc is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    output = out_dir / f"{slot.name}-{slot.starts}.txt"
    with open(out_dir / f"{slot.name}-{slot.starts}.log", "ab") as log:
        return subprocess.Popen(
            [str(spy), "record", "--pid", str(slot.proc.pid), "--subprocesses", "--nonblocking"]
            + ["--rate", str(PROFILE_RATE_HZ), "--format", "raw", "--output", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )


class Supervisor:
    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        *,
        liveness_probe_s: float | None = None,
        probe_timeout_s: float = 2.0,
    ) -> None:
        # the fetchers' raw archive beside the logs, not ./wiredesk-warc in the repository
        self.env = {"WIREDESK_ARCHIVE_URL": str(log_dir / "warc"), **env}
        self.log_dir = log_dir
        self.liveness_probe_s = liveness_probe_s
        self.probe_timeout_s = probe_timeout_s
        self.slots: list[Slot] = []
        self.events: list[tuple[float, str, str]] = []  # (time, slot, what)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._monitor, name="supervisor", daemon=True)
        log_dir.mkdir(parents=True, exist_ok=True)

    # -- slots -------------------------------------------------------------------------
    def add(self, command: str, count: int = 1, **env: str) -> list[Slot]:
        with self._lock:
            added = []
            for _ in range(count):
                n = sum(1 for s in self.slots if s.command == command)
                slot = Slot(f"{command}-{n}", command, dict(env), free_port())
                self.slots.append(slot)
                self._start(slot)
                added.append(slot)
            if not self._thread.is_alive():
                self._thread.start()
            return added

    def _start(self, slot: Slot) -> None:
        log = open(self.log_dir / f"{slot.name}.log", "ab")  # noqa: SIM115 (child owns it)
        env = {**os.environ, **self.env, **slot.env}
        env["WIREDESK_METRICS_PORT"] = str(slot.metrics_port)
        slot.proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, slot.command],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        profile_dir = env.get("WIREDESK_PROFILE_DIR")
        if profile_dir:  # bench/end_to_end.py --profile: sample the worker with py-spy
            slot.profilers.append(_profiler(slot, Path(profile_dir)))
        slot.starts += 1
        slot.term_sent = False
        slot.started_at = time.monotonic()
        slot.probe_failed_since = None
        self._event(slot, f"started pid {slot.proc.pid}")

    def _event(self, slot: Slot, what: str) -> None:
        self.events.append((time.monotonic(), slot.name, what))

    def live(self, command: str | None = None) -> list[Slot]:
        with self._lock:
            return [s for s in self.slots if s.wanted and (command is None or s.command == command)]

    # -- faults and membership changes --------------------------------------------------
    def kill(self, slot: Slot, sig: int = signal.SIGKILL) -> int | None:
        with self._lock:
            pid = slot.pid
            if pid is None:
                return None
            os.kill(pid, sig)
            self._event(slot, f"signal {signal.Signals(sig).name} to pid {pid}")
            return pid

    def kill_random(self, commands: Iterable[str], rng: random.Random) -> Slot | None:
        candidates = [s for s in self.live() if s.command in set(commands) and s.alive]
        if not candidates:
            return None
        slot = rng.choice(candidates)
        self.kill(slot)
        return slot

    def retire(self, slot: Slot, timeout: float = 60) -> int | None:
        """A worker leaves for good: SIGTERM, wait, no restart. Returns its exit code."""
        with self._lock:
            slot.wanted = False
            proc = slot.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        if not slot.term_sent:  # a second SIGTERM during interpreter exit would kill it
            slot.term_sent = True
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        slot.exit_codes.append(code)
        self._event(slot, f"retired, exit {code}")
        return code

    def stop_all(self, timeout: float = 60) -> dict[str, int | None]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._lock:
            for slot in self.slots:
                self._sample(slot)
                slot.wanted = False
                if slot.alive and slot.proc is not None and not slot.term_sent:
                    slot.term_sent = True
                    slot.proc.send_signal(signal.SIGTERM)
        codes = {slot.name: self.retire(slot, timeout) for slot in self.slots}
        for profiler in (p for slot in self.slots for p in slot.profilers):
            try:  # py-spy writes its file once its worker has exited
                profiler.wait(30)
            except subprocess.TimeoutExpired:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
        return codes

    # -- observation -------------------------------------------------------------------
    def scrape(self, slot: Slot, timeout: float = 3.0) -> dict[tuple[str, tuple], float] | None:
        """The worker's /metrics as {(sample name, sorted labels): value}; None if down."""
        try:
            url = f"http://127.0.0.1:{slot.metrics_port}/metrics"
            body = urllib.request.urlopen(url, timeout=timeout).read().decode()
        except OSError:
            return None
        return parse_metrics(body)

    def peak_rss_mb(self) -> dict[str, float]:
        """Highest VmHWM seen per command, in MiB."""
        peaks: dict[str, float] = {}
        with self._lock:
            for slot in self.slots:
                self._sample(slot)
                peaks[slot.command] = max(peaks.get(slot.command, 0.0), slot.peak_rss_kb / 1024)
        return peaks

    def restarts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for slot in self.slots:
            counts[slot.command] = counts.get(slot.command, 0) + max(0, slot.starts - 1)
        return counts

    def _sample(self, slot: Slot) -> None:
        if slot.pid:
            slot.peak_rss_kb = max(slot.peak_rss_kb, proc_status_kb(slot.pid, "VmHWM"))

    def _monitor(self) -> None:
        while not self._stop.wait(0.5):
            now = time.monotonic()
            with self._lock:
                for slot in self.slots:
                    self._sample(slot)
                    if not slot.wanted:
                        continue
                    if slot.proc is not None and slot.proc.poll() is not None:
                        self._on_exit(slot, now)
                    elif slot.proc is None and now >= slot.next_start_at:
                        self._start(slot)
                    elif self.liveness_probe_s and now - slot.started_at > 5:
                        self._probe(slot, now)

    def _on_exit(self, slot: Slot, now: float) -> None:
        assert slot.proc is not None
        code = slot.proc.returncode
        slot.exit_codes.append(code)
        self._event(slot, f"exited {code}")
        # crash-loop backoff: quick restarts, slower while it keeps dying young
        slot.backoff_s = 0.5 if now - slot.started_at > 30 else min(slot.backoff_s * 2, 8.0)
        slot.proc = None
        slot.next_start_at = now + slot.backoff_s

    def _probe(self, slot: Slot, now: float) -> None:
        if now - slot.last_probe_at < 2.0:
            return
        slot.last_probe_at = now
        try:
            url = f"http://127.0.0.1:{slot.metrics_port}/healthz"
            ok = urllib.request.urlopen(url, timeout=self.probe_timeout_s).status == 200
        except OSError:
            ok = False
        if ok:
            slot.probe_failed_since = None
            return
        slot.probe_failed_since = slot.probe_failed_since or now
        assert self.liveness_probe_s is not None
        if now - slot.probe_failed_since >= self.liveness_probe_s:
            slot.liveness_restarts += 1
            self._event(slot, "liveness probe failed: restarting")
            self.kill(slot)


def parse_metrics(body: str) -> dict[tuple[str, tuple], float]:
    samples: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def metric_sum(samples: dict[tuple[str, tuple], float] | None, name: str, **labels: str) -> float:
    """Sum of samples named ``name`` (or ending in ``name``) whose labels include ``labels``."""
    if not samples:
        return 0.0
    total = 0.0
    for (sample, sample_labels), value in samples.items():
        if sample == name or sample.endswith("_" + name):
            have = dict(sample_labels)
            if all(have.get(k) == v for k, v in labels.items()):
                total += value
    return total
