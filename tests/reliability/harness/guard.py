"""Socket guard: records (and refuses) every connection to a non-loopback destination.

Installed with ``sys.addaudithook`` in worker processes (see ``worker_main``) and in the
test process. Only 127.0.0.0/8, ::1 and Unix sockets are legal in this suite; anything
else is appended as one JSON line to ``<audit dir>/<pid>.jsonl`` and, when ``block`` is
set, refused with ``PermissionError`` before a packet leaves.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any

AUDIT_DIR_ENV = "WIREDESK_TEST_SOCKET_AUDIT"
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def _destination(event: str, args: tuple[Any, ...]) -> tuple[object, object] | None:
    """(host, port) of a network event, or None when it is not a network destination."""
    if event in ("socket.connect", "socket.sendto"):
        address = args[1]
        if isinstance(address, tuple) and address:
            return address[0], address[1] if len(address) > 1 else None
        return None  # AF_UNIX path: local by construction
    if event == "socket.getaddrinfo":
        return args[0], args[1]
    return None


def install(audit_dir: Path, block: bool = True) -> list[dict[str, Any]]:
    """Start recording; returns the in-memory list of violations of this process."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    path = audit_dir / f"{os.getpid()}.jsonl"
    seen: list[dict[str, Any]] = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in ("socket.connect", "socket.sendto", "socket.getaddrinfo"):
            return
        dest = _destination(event, args)
        if dest is None or dest[0] is None or is_loopback(dest[0]):
            return
        entry = {"pid": os.getpid(), "event": event, "host": str(dest[0]), "port": dest[1]}
        seen.append(entry)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        if block:
            raise PermissionError(f"socket guard: {event} to {dest[0]}:{dest[1]} is not loopback")

    sys.addaudithook(hook)
    return seen


def violations(audit_dir: Path) -> list[dict[str, Any]]:
    """Every violation any guarded process recorded in ``audit_dir``."""
    found = []
    for path in sorted(audit_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(json.loads(line))
    return found
