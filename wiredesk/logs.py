"""structlog, configured once by the CLI: JSON lines for services, readable for a terminal.

The standard library's records (kafka-python, SQLAlchemy, alembic) go through the same
renderer, so a service's stderr is JSON lines only, never a bare message.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric = getattr(logging, level.upper())
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    handler = logging.StreamHandler(_CurrentStderr())  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, _level, stamp],
        )
    )
    handler.set_name("wiredesk")
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "wiredesk"] + [handler]
    root.setLevel(max(numeric, logging.WARNING))
    # "No partition metadata for topic": the assignor's note while a topic's metadata is
    # still on its way at a consumer's first join; the consumer retries by itself
    logging.getLogger("kafka.coordinator.assignors").setLevel(logging.ERROR)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


def _level(_logger: object, _name: str, event: dict) -> dict:
    """The stdlib record's level under the key our own lines use."""
    record = event.get("_record")
    if record is not None:
        event["level"] = record.levelname.lower()
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test runners swap it out and close it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
