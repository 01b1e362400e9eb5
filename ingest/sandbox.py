"""A small pool of worker processes that run untrusted-input work under hard bounds.

Feed parsing (feedparser's author regex can take seconds on a crafted field; some inputs
make ``parse()`` raise) and page extraction (trafilatura on a 50 MB page takes 14 s and
1 GB) run here, so one pathological input costs at most ``timeout_s`` and
``memory_mb`` and never stalls or kills the stage's own process:

* each worker sets ``RLIMIT_AS`` on itself, so a runaway allocation is a MemoryError
  (or the worker dies), not the machine's OOM killer picking a victim;
* the parent waits at most ``timeout_s`` for an answer, then kills the worker and starts
  a fresh one (catalogue E2, X4).

Workers are fresh interpreters (``python -m ingest.sandbox``), not forks: forking a
process that runs Kafka and HTTP threads can copy a held lock into the child, and the
multiprocessing spawn/forkserver methods re-import the parent's ``__main__``. A worker
imports feedparser and trafilatura once (about a second) and then serves tasks over a
socket pair; tasks are module-level functions of :mod:`ingest.sandbox_tasks`, called by
name, with plain (picklable) arguments and results.
"""

from __future__ import annotations

import queue
import resource
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

import structlog

from ingest import metrics

log = structlog.get_logger(__name__)
STARTUP_TIMEOUT_S = 60.0  # importing trafilatura on a busy machine; not part of a task's bound


class SandboxError(Exception):
    """The task did not return: ``reason`` is timeout, memory, crashed or error."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _worker_main(conn: Connection, memory_bytes: int) -> None:
    # trafilatura imports py3langid (and numpy) when installed, for an option we never use
    # (target_language; the enricher detects languages): blocked here, in the worker's
    # own interpreter only, it keeps each worker ~100 MB smaller under its memory limit
    sys.modules.setdefault("py3langid", None)  # type: ignore[arg-type]
    from ingest import sandbox_tasks

    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send(("ready", sandbox_tasks.__name__))  # imports done: task deadlines start now
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        except MemoryError:  # the input alone is over the limit; the stream is unusable now
            conn.send(("memory", "input too large"))
            return
        if message is None:
            return
        task, args = message
        try:
            reply: tuple[str, Any] = ("ok", getattr(sandbox_tasks, task)(*args))
        except MemoryError:
            reply = ("memory", "")
        except RecursionError as exc:
            reply = ("error", f"RecursionError: {exc}"[:500])
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}"[:500])
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("memory", "result too large"))


class _Worker:
    def __init__(self, memory_bytes: int) -> None:
        parent, child = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.sandbox", str(child.fileno()), str(memory_bytes)],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self.conn = Connection(parent.detach())
        if not self.conn.poll(STARTUP_TIMEOUT_S):
            self.stop(kill=True)
            raise SandboxError("crashed", f"worker not ready after {STARTUP_TIMEOUT_S}s")
        self.conn.recv()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.conn.close()


def _last_words(conn: Connection) -> tuple[str, Any]:
    try:
        if conn.poll(1.0):
            return conn.recv()
    except (EOFError, OSError):
        pass
    return ("crashed", "")


class Sandbox:
    """``run(task, *args)`` in one of ``workers`` processes; thread-safe."""

    def __init__(self, workers: int = 1, timeout_s: float = 20.0, memory_mb: int = 1024) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_mb * 1024 * 1024
        self.size = workers
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False

    def run(self, task: str, *args: Any, timeout_s: float | None = None) -> Any:
        worker = self._acquire()
        try:
            try:
                worker.conn.send((task, args))
            except OSError:  # the worker quit while reading: it may have said why
                status, _ = _last_words(worker.conn)
                worker = self._replace(worker, status)
                raise SandboxError(status, f"{task}: the worker refused the input") from None
            if not worker.conn.poll(timeout_s or self.timeout_s):
                worker = self._replace(worker, "timeout")
                raise SandboxError("timeout", f"{task} took over {timeout_s or self.timeout_s}s")
            status, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            worker = self._replace(worker, "crashed")
            raise SandboxError("crashed", f"{task}: worker died ({exc!r})") from exc
        finally:
            self._idle.put(worker)
        if status == "ok":
            return value
        if status == "memory":
            self._swap_idle_later("memory")
            raise SandboxError("memory", f"{task} exceeded {self.memory_bytes >> 20} MB")
        raise SandboxError("error", str(value))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            started, self._started = self._started, 0
        for _ in range(started):
            worker = self._idle.get()
            if worker is not None:
                worker.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------
    def _acquire(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("sandbox closed")
            if self._started < self.size and self._idle.empty():
                self._started += 1
                return _Worker(self.memory_bytes)
        worker = self._idle.get()
        assert worker is not None
        if not worker.alive:
            worker = self._replace(worker, "crashed")
        return worker

    def _replace(self, worker: _Worker, reason: str) -> _Worker:
        metrics.SANDBOX_RESTARTS.labels(reason).inc()
        log.warning("sandbox_worker_replaced", reason=reason, pid=worker.process.pid)
        worker.stop(kill=True)
        return _Worker(self.memory_bytes)

    def _swap_idle_later(self, reason: str) -> None:
        """After a MemoryError the worker's heap may be fragmented: replace one idle worker."""
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            return
        if worker is not None:
            worker = self._replace(worker, reason)
        self._idle.put(worker)


if __name__ == "__main__":
    _worker_main(Connection(int(sys.argv[1])), int(sys.argv[2]))
