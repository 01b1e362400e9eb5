"""A worker terminated while it is still starting exits 0 (nothing consumed, nothing to
lose); a one-shot command terminated before it began exits 143, as if killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

SLOW_START = """
import os, sys, time
from wiredesk.app import services
services.stop_early_on_signals()
print("ready", flush=True)
time.sleep(2)  # stands in for imports and model loading before the service loop
stop = services.stop_on_signals()
sys.exit(0 if stop.is_set() else 3)
"""


def _started(code: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_start_up_becomes_the_stop_request(signum: int) -> None:
    proc = _started(SLOW_START)
    proc.send_signal(signum)
    assert proc.wait(timeout=20) == 0


def test_one_shot_commands_get_default_signals_back() -> None:
    code = """
from wiredesk.app import services
services.stop_early_on_signals()
print("ready", flush=True)
import time
time.sleep(1)
print(services.default_signals(), flush=True)
time.sleep(30)
"""
    proc = _started(code)
    proc.send_signal(signal.SIGTERM)  # during start-up: remembered
    assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # after: the default action, the process dies
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert time.monotonic() - t0 < 5
