"""When to poll a feed next: pure functions of what the last poll saw and the clock.

After a successful poll (200 or 304) the delay is the feed's own fixed ``interval_s`` if
the registry sets one, else an adaptive interval: half the mean gap between the feed's
recent entries (a feed that publishes hourly is polled every 30 min), kept within
``[min_interval_s, max_interval_s]``. The server's own hints are floors: Cache-Control
``max-age`` and RSS ``<ttl>`` (minutes), both capped at ``max_interval_s`` so a silly
value cannot stop polling. After a failure the delay backs off exponentially from
``min_interval_s`` (x2 per consecutive failure, up to ``max_backoff_s``) with "equal
jitter" (half fixed, half random) so failing feeds don't retry in lockstep; a
Retry-After (429/503) is a floor on that delay, capped at a day.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)
MAX_RETRY_AFTER_S = 86_400.0


@dataclass(frozen=True)
class PollPolicy:
    default_interval_s: float = 300.0
    min_interval_s: float = 60.0
    max_interval_s: float = 21_600.0
    max_backoff_s: float = 21_600.0
    adaptive: bool = True


def max_age(cache_control: str | None) -> float | None:
    """Seconds of Cache-Control ``max-age``; None when absent or ``no-cache``/``no-store``."""
    if not cache_control or "no-store" in cache_control or "no-cache" in cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def ttl_seconds(ttl: object) -> float | None:
    """RSS ``<ttl>`` (minutes) as seconds; None when absent or not a number."""
    try:
        minutes = float(str(ttl).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def update_rate_interval(published: Iterable[datetime | None], window: int = 20) -> float | None:
    """Half the mean gap between the newest ``window`` distinct entry dates, or None."""
    dates = sorted({d for d in published if d is not None})[-window:]
    if len(dates) < 2:
        return None
    span = (dates[-1] - dates[0]).total_seconds()
    return span / (len(dates) - 1) / 2 if span > 0 else None


def delay_after_success(
    policy: PollPolicy,
    *,
    fixed_interval_s: float | None = None,
    adaptive_s: float | None = None,
    max_age_s: float | None = None,
    ttl_s: float | None = None,
) -> float:
    if fixed_interval_s:
        base = float(fixed_interval_s)
    elif policy.adaptive and adaptive_s:
        base = min(max(adaptive_s, policy.min_interval_s), policy.max_interval_s)
    else:
        base = policy.default_interval_s
    floor = min(max(max_age_s or 0.0, ttl_s or 0.0), policy.max_interval_s)
    return max(base, floor)


def delay_after_failure(
    policy: PollPolicy,
    failures: int,
    rng: random.Random,
    retry_after_s: float | None = None,
) -> float:
    backoff = min(policy.max_backoff_s, policy.min_interval_s * 2 ** max(0, failures - 1))
    jittered = backoff / 2 + rng.uniform(0, backoff / 2)
    return max(jittered, min(retry_after_s or 0.0, MAX_RETRY_AFTER_S))
