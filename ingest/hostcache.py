"""A per-host cache of fetched files (robots.txt, tdmrep.json): each host's file is
fetched by one thread at a time and kept until its own expiry time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class HostCache(Generic[T]):
    """``load(key)`` returns the value and how many seconds it stays valid."""

    def __init__(
        self, load: Callable[[str], tuple[T, float]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.load = load
        self.clock = clock
        self._values: dict[str, tuple[T, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> T:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one fetch per host at a time; the others wait for its answer
            cached = self._values.get(key)
            now = self.clock()
            if cached is None or cached[1] <= now:
                value, ttl_s = self.load(key)
                cached = (value, now + ttl_s)
                self._values[key] = cached
            return cached[0]
