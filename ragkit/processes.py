"""Whether a process is still running, for the records and scratch folders a process leaves behind when it is killed
(a run's record that still reads `running`, a half-made ONNX export)."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether a process of this id is running on this machine (one of another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
