"""Subcommands of transform (dedup, story and entity evaluation)."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any, evals: Any) -> None:
    """Register this domain's subcommands on `sub` and its evaluations on `evals`.

    Each parser sets `handler=fn(args, settings) -> exit code`.
    """
    del sub, evals  # nothing registered yet
