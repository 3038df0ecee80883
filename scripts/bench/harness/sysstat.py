"""RSS and CPU time of a process, read from /proc (Linux). Parsing is pure so it can be tested on canned text."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds", "parse_cpu_seconds", "parse_rss_mb", "rss_mb"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_rss_mb(status_text: str, field: str = "VmRSS") -> float:
    """``VmRSS`` (or ``VmHWM``, the peak) from /proc/PID/status in MiB."""
    for line in status_text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} line: the process has exited or this is not /proc/PID/status")


def parse_cpu_seconds(stat_text: str, clock_ticks: int = _CLOCK_TICKS) -> float:
    """utime + stime from /proc/PID/stat in seconds (fields 14 and 15; the command name may hold spaces)."""
    fields = stat_text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    try:
        return parse_rss_mb(Path(f"/proc/{pid}/status").read_text(), field)
    except (OSError, ValueError):
        return None


def cpu_seconds(pid: int) -> float | None:
    try:
        return parse_cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None
