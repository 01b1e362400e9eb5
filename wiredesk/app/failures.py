"""One clear line for the failures a user can fix: a server that cannot be reached, a file
that cannot be read. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import kafka.errors
import sqlalchemy.exc
from sqlalchemy import make_url

from ingest.registry import RegistryError
from wiredesk.settings import Settings

EXIT_RUNTIME = 1
EXIT_CONFIG = 2


def describe(exc: BaseException, settings: Settings) -> tuple[str, int] | None:
    """``(message, exit code)`` for a failure the user can act on, else None."""
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return (
            f"cannot use the database {url} (WIREDESK_DATABASE_URL): {cause[:200]}",
            EXIT_RUNTIME,
        )
    if isinstance(exc, kafka.errors.KafkaTimeoutError | kafka.errors.KafkaConnectionError):
        return (
            f"cannot reach the Kafka broker at {settings.kafka_bootstrap} "
            f"(WIREDESK_KAFKA_BOOTSTRAP): {type(exc).__name__}",
            EXIT_RUNTIME,
        )
    if isinstance(exc, RegistryError):
        return f"{exc}", EXIT_CONFIG
    if isinstance(exc, OSError) and exc.filename is not None:
        setting = (
            " (WIREDESK_FEEDS_FILE)"
            if settings.feeds_file is not None and str(exc.filename) == str(settings.feeds_file)
            else ""
        )
        return f"cannot read {exc.filename}{setting}: {exc.strerror or exc}", EXIT_CONFIG
    return None
