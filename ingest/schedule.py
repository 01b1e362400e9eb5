"""When to poll a feed next: pure functions of what the last poll saw and the clock.

After a successful poll (200 or 304) the delay is the feed's own fixed ``interval_s`` if
the registry sets one, else an adaptive interval: half the mean gap between the feed's
recent entries (a feed that publishes hourly is polled every 30 min), kept within
``[min_interval_s, max_interval_s]``. The server's own hints are floors: Cache-Control
``max-age`` and RSS ``<ttl>`` (minutes), both capped at ``max_interval_s`` so a silly
value cannot stop polling. After a failure the delay backs off exponentially from
``min_interval_s`` (x2 per consecutive failure, up to ``max_backoff_s``) with "equal
jitter" (half fixed, half random) so failing feeds don't retry in lockstep; a
Retry-After (429/503) is a floor on that delay.

A feed keeps its place in the interval (:func:`next_poll_at`): a poll that ran on time
schedules the next one interval after its due time, and a feed polled for the first
time (or late, or forced) goes to the next point of its own grid, offset by a phase
drawn from its id. Feeds added together therefore spread over the interval instead of
being polled in lockstep, and their new articles reach the pipeline as a steady stream
rather than as one burst per interval (issue 17: freshness).

Every number that comes from the outside (Retry-After, max-age, ``<ttl>``, the failure
count) is clamped before arithmetic: no hint or hold is ever longer than ``MAX_HOLD_S``
(24 h), non-finite values are ignored, and the backoff exponent stops growing once the
delay is at its cap (catalogue B6).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

MIN_WAKE_S = 0.1  # a poll loop waits at least this long between rounds
ON_TIME_SLACK_S = 2.0  # a poll this late (at most a quarter interval) still ran "on time"
SPREAD_S = 300.0  # feeds with longer intervals are spread over this span, not the interval
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I | re.ASCII)
MAX_HOLD_S = 86_400.0  # the longest any server hint or hold is honoured
MAX_RETRY_AFTER_S = MAX_HOLD_S


def clamp_hold(seconds: float | None, cap: float = MAX_HOLD_S) -> float:
    """``seconds`` within ``[0, cap]``; None and NaN are 0, +inf is ``cap``."""
    if seconds is None or math.isnan(seconds):
        return 0.0
    return min(max(0.0, seconds), cap)


def digits_seconds(digits: str, cap: float = MAX_HOLD_S) -> float:
    """An ASCII digit string as seconds, capped without converting a huge number."""
    digits = digits.lstrip("0") or "0"
    return cap if len(digits) > len(str(int(cap))) else min(float(int(digits)), cap)


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
    return digits_seconds(match.group(1)) if match else None


def ttl_seconds(ttl: object) -> float | None:
    """RSS ``<ttl>`` (minutes) as seconds, at most ``MAX_HOLD_S``; None when absent or
    not a positive finite number."""
    try:
        text = str(ttl).strip()
        minutes = float(text) if len(text) <= 32 else math.nan
    except (TypeError, ValueError):
        return None
    if not math.isfinite(minutes) or minutes <= 0:
        return None
    return min(minutes * 60, MAX_HOLD_S)


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
    exponent = min(max(0, failures - 1), 62)  # 2**62 x any interval is past every cap
    backoff = min(policy.max_backoff_s, policy.min_interval_s * 2.0**exponent)
    jittered = backoff / 2 + rng.uniform(0, backoff / 2)
    return max(jittered, clamp_hold(retry_after_s))


def feed_phase(feed_id: str) -> float:
    """The feed's place in its interval, in ``[0, 1)``: a fixed function of its id."""
    digest = hashlib.blake2b(feed_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def next_poll_at(now: float, delay: float, due: float | None, phase: float) -> float:
    """When to poll a feed next (seconds since 1970), ``delay`` after this poll at ``now``.

    A poll that ran on time (at most ``min(delay / 4, ON_TIME_SLACK_S)`` after ``due``, its
    due time) schedules the next one ``delay`` after ``due``, so a loop's lateness does not
    accumulate. Otherwise (first poll, a stall, a forced poll) the next is the first point
    of the feed's grid, ``phase`` x ``period`` past a multiple of ``period`` (the interval,
    at most ``SPREAD_S``), at least ``delay`` from now: at most one period late. The gap
    between two polls is thus never below ``delay`` less the slack, and is ``delay`` on
    average.
    """
    if not math.isfinite(delay):
        return now + MAX_HOLD_S
    if delay <= 0:
        return now
    if due is not None and due <= now <= due + min(delay / 4, ON_TIME_SLACK_S):
        return due + delay
    earliest = now + delay
    period = min(delay, SPREAD_S)
    return earliest + (phase * period - earliest) % period


def next_due(feed_id: str, now: datetime, delay: float, due: datetime | None) -> datetime:
    """:func:`next_poll_at` for the feed ``feed_id`` polled at ``now`` (aware UTC), due at
    ``due`` (naive values are UTC, as SQLite hands them back)."""
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    at = next_poll_at(
        now.timestamp(), delay, None if due is None else due.timestamp(), feed_phase(feed_id)
    )
    return datetime.fromtimestamp(at, UTC)
