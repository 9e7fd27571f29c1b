"""Lifecycle adapters: Hamilton hooks that watch a run.

`NodeTimer` records each node's wall time and outcome for the run record. `NodeStatusListener`
forwards node start/finish events to a callback, which is how the UI draws the live DAG; it is
thread-safe because Hamilton may fire hooks from worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hamilton.lifecycle import NodeExecutionHook

# Nodes that Hamilton adds for data-quality checks carry these suffixes in their names.
_DQ_MARKERS = ("_raw", "_dq_", "_validator")


class NodeTimer(NodeExecutionHook):
    """Wall time and status of every node that ran."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self.timings: dict[str, float] = {}
        self.failed: dict[str, str] = {}

    def run_before_node_execution(self, *, node_name: str, **future_kwargs: Any) -> None:
        with self._lock:
            self._started[node_name] = time.perf_counter()

    def run_after_node_execution(
        self, *, node_name: str, success: bool, error: Exception | None = None, **future_kwargs: Any
    ) -> None:
        with self._lock:
            started = self._started.pop(node_name, None)
            if started is not None:
                self.timings[node_name] = round(time.perf_counter() - started, 4)
            if not success:
                self.failed[node_name] = f"{type(error).__name__}: {error}" if error else "failed"


class NodeStatusListener(NodeExecutionHook):
    """Calls `on_event(node_name, status, elapsed_seconds, error_message)` as nodes start and finish.

    status is "running", "done" or "failed".
    """

    def __init__(self, on_event: Callable[[str, str, float, str], None]) -> None:
        self._on_event = on_event
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def run_before_node_execution(self, *, node_name: str, **future_kwargs: Any) -> None:
        with self._lock:
            self._started[node_name] = time.perf_counter()
        self._on_event(node_name, "running", 0.0, "")

    def run_after_node_execution(
        self, *, node_name: str, success: bool, error: Exception | None = None, **future_kwargs: Any
    ) -> None:
        with self._lock:
            elapsed = time.perf_counter() - self._started.pop(node_name, time.perf_counter())
        self._on_event(node_name, "done" if success else "failed", elapsed, "" if success else str(error or ""))
