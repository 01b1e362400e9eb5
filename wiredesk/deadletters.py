"""Dead letters that always fit under the broker's message limit (catalogue B5).

Every field that comes from the input is bounded: the source key (a prefix, then its
SHA-256 and size), the detail (a prefix) and the original bytes (a prefix, with the
whole value's SHA-256 and size). With these caps a letter's JSON stays under 0.75 MB
whatever the input; :func:`minimal` drops the original altogether for the rare retry,
and :func:`publish` never raises for a letter: no input can make a stage exit.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from wiredesk import metrics
from wiredesk.bus import Bus, Message
from wiredesk.errors import RecordRejected
from wiredesk.records import DeadLetter
from wiredesk.topics import DLQ

# base64 makes the original 4/3 larger: 512 KB -> 683 KB, leaving room for the rest.
ORIGINAL_MAX_BYTES = 512_000
KEY_MAX_BYTES = 512
DETAIL_MAX_CHARS = 2_000


def bounded_key(key: str | None) -> tuple[str | None, bool]:
    """``key`` itself if short, else a prefix with the whole key's hash and size."""
    if key is None:
        return None, False
    raw = key.encode("utf-8", "replace")  # a lone surrogate (memory bus) becomes "?"
    if len(raw) <= KEY_MAX_BYTES:
        return raw.decode("utf-8"), False
    digest = hashlib.sha256(raw).hexdigest()
    prefix = raw[:256].decode("utf-8", "ignore")
    return f"{prefix}...[{len(raw)} bytes, sha256 {digest}]", True


def bounded_detail(detail: str) -> str:
    detail = detail.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    if len(detail) <= DETAIL_MAX_CHARS:
        return detail
    return f"{detail[:DETAIL_MAX_CHARS]}...[{len(detail)} chars]"


def letter(stage: str, message: Message, reason: str, detail: str, attempts: int) -> DeadLetter:
    value = message.value or b""
    key, key_cut = bounded_key(message.key)
    return DeadLetter(
        stage=stage,
        source_topic=message.topic[:255],
        partition=message.partition,
        offset=message.offset,
        source_key=key,
        source_key_truncated=key_cut,
        reason=reason[:64],
        detail=bounded_detail(detail),
        attempts=attempts,
        original=base64.b64encode(value[:ORIGINAL_MAX_BYTES]).decode("ascii"),
        original_size=len(value),
        original_truncated=len(value) > ORIGINAL_MAX_BYTES,
        original_sha256=hashlib.sha256(value).hexdigest(),
    )


def minimal(dead: DeadLetter, why: str) -> DeadLetter:
    """The same letter without the original bytes or key: for a letter the bus refused."""
    return dead.model_copy(
        update={
            "source_key": None,
            "source_key_truncated": dead.source_key is not None,
            "detail": bounded_detail(f"{dead.detail[:500]} [letter refused: {why[:300]}]"),
            "original": "",
            "original_truncated": True,
        }
    )


def publish(bus: Bus, dead: DeadLetter, log: Any) -> None:
    """Publish a dead letter; one the bus refuses goes again without its original and
    key; one that still fails is logged and counted (``wiredesk_dlq_lost_total``)."""
    headers = {"stage": dead.stage, "reason": dead.reason}
    try:
        bus.publish(DLQ.name, dead.key(), dead.encode(), headers)
        return
    except RecordRejected as exc:
        why = f"{exc.reason}: {exc.detail}"
    except ValueError as exc:  # not serialisable (should not happen: fields are bounded)
        why = repr(exc)
    log.warning("dead_letter_refused", reason=dead.reason, error=why[:300])
    smaller = minimal(dead, why)
    try:
        bus.publish(DLQ.name, smaller.key(), smaller.encode(), headers)
    except (RecordRejected, ValueError) as exc:
        metrics.DLQ_LOST.labels(dead.stage, dead.reason).inc()
        log.error(
            "dead_letter_lost",
            reason=dead.reason,
            partition=dead.partition,
            offset=dead.offset,
            error=repr(exc)[:300],
        )
