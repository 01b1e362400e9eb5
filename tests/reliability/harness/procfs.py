"""Reading /proc for memory figures; shared by the supervisor and bench/ (no imports
beyond the standard library, so a measured process pays nothing for it)."""

from __future__ import annotations

from pathlib import Path


def proc_status_kb(pid: int, field_name: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (VmRSS, VmHWM); 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
