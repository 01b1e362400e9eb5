"""Which failures are worth retrying.

A transient failure (broker or database unreachable, a timeout) pauses the stage and is
retried with backoff; everything else is a property of the record and goes to the DLQ.
"""

from __future__ import annotations

import kafka.errors
import sqlalchemy.exc

from wiredesk.stage import Transient


class PublishError(Transient):
    """One or more sends were not acknowledged by the broker."""


class CommitFailed(Exception):
    """The group rebalanced before our commit: the batch will be redelivered elsewhere."""


class RecordRejected(Exception):
    """The bus refused one record for good (e.g. larger than the broker accepts)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, Transient | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(
        exc,
        sqlalchemy.exc.OperationalError
        | sqlalchemy.exc.InterfaceError
        | sqlalchemy.exc.DisconnectionError
        | sqlalchemy.exc.TimeoutError,
    ):
        return True
    if isinstance(exc, kafka.errors.KafkaError):
        return bool(getattr(exc, "retriable", False)) or isinstance(
            exc, kafka.errors.KafkaTimeoutError | kafka.errors.KafkaConnectionError
        )
    return False
