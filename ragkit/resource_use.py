"""What a run costs this machine: wall time, CPU seconds (this process and its worker processes) and peak memory.

Peak RSS is the process's high-water mark over the run: on Linux the mark is reset at the start
(`/proc/self/clear_refs`, "5") and read from `/proc/self/status` (VmHWM) at the end; where that is not possible it
is `getrusage`'s ru_maxrss, the peak since the process started (the record says which). Worker processes' peaks
(the `processes` executor) are getrusage's largest child, reported beside it.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_RU_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kilobytes on Linux


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _high_water_mark() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@dataclass
class ResourceMeter:
    """Started before a run's work and read after it: `meter = ResourceMeter.start()`, ..., `meter.reading()`."""

    started: float = 0.0
    cpu_self: float = 0.0
    cpu_children: float = 0.0
    peak_was_reset: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls) -> ResourceMeter:
        """A meter started now (the peak-memory mark reset where the system allows it)."""
        return cls(started=time.perf_counter(), cpu_self=_cpu_seconds(resource.RUSAGE_SELF),
                   cpu_children=_cpu_seconds(resource.RUSAGE_CHILDREN), peak_was_reset=_reset_peak())

    def reading(self) -> dict[str, Any]:
        """Wall seconds, CPU seconds (this process, and its children that ended), peak RSS bytes and how it was measured."""
        peak = _high_water_mark() if self.peak_was_reset else 0
        method = "VmHWM over the run" if peak else "ru_maxrss since the process started"
        if not peak:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _RU_MAXRSS_UNIT
        cpu_self = _cpu_seconds(resource.RUSAGE_SELF) - self.cpu_self
        cpu_children = _cpu_seconds(resource.RUSAGE_CHILDREN) - self.cpu_children
        return {
            "wall_s": round(time.perf_counter() - self.started, 3),
            "cpu_s": round(cpu_self + cpu_children, 3),
            "cpu_s_workers": round(cpu_children, 3),
            "peak_rss_bytes": int(peak),
            "peak_rss_method": method,
            "peak_rss_workers_bytes": int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * _RU_MAXRSS_UNIT),
        }
