"""Lifecycle adapters: Hamilton hooks that watch a run.

`NodeTimer` records each node's wall time and outcome for the run record. `NodeStatusListener`
forwards node start/finish events to a callback, which is how the UI draws the live DAG; it is
thread-safe because Hamilton may fire hooks from worker threads.

A batch of a streamed run may run in another thread, process or Ray task. Its node events and
progress then go into an `EventSink` — a queue that the workers write to (a `queue.Queue`, a
multiprocessing manager queue, a Ray queue: whichever the executor reaches) — and `EventRelay`
hands them, from the driver's process, to the caller's listeners and progress callback.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from hamilton.lifecycle import NodeExecutionHook

from ragkit.schema import NO_PROGRESS, Progress

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


def finished_state(success: bool, result: Any = None) -> str:
    """"failed", "done with errors" (a result that carries per-input errors, such as parsed files that failed), or "done"."""
    if not success:
        return "failed"
    return "done with errors" if getattr(result, "errors", None) else "done"


class NodeStatusListener(NodeExecutionHook):
    """Calls `on_event(node_name, status, elapsed_seconds, error_message)` as nodes start and finish.

    status is "running", "done", "done with errors" (the node ran, but some of its inputs failed in it:
    files that could not be parsed) or "failed". In a streamed run the nodes of every batch report here,
    whichever executor runs the batches; `on_batch_event` also gets the batch number (None outside a batch).
    """

    def __init__(self, on_event: Callable[[str, str, float, str], None],
                 on_batch_event: Callable[[str, str, float, str, int | None], None] | None = None) -> None:
        self._on_event = on_event
        self._on_batch_event = on_batch_event
        self._started: dict[tuple[Any, str], float] = {}
        self._lock = threading.Lock()

    def relay(self, node_name: str, status: str, elapsed: float, error: str, batch: int | None = None) -> None:
        """Pass on one event (from this process's hooks, or relayed from a batch's worker)."""
        if self._on_batch_event is not None:
            self._on_batch_event(node_name, status, elapsed, error, batch)
        else:
            self._on_event(node_name, status, elapsed, error)

    def run_before_node_execution(self, *, node_name: str, run_id: Any = None, **future_kwargs: Any) -> None:
        with self._lock:
            self._started[(run_id, node_name)] = time.perf_counter()
        self.relay(node_name, "running", 0.0, "")

    def run_after_node_execution(
        self, *, node_name: str, success: bool, error: Exception | None = None, result: Any = None, run_id: Any = None,
        **future_kwargs: Any,
    ) -> None:
        with self._lock:
            elapsed = time.perf_counter() - self._started.pop((run_id, node_name), time.perf_counter())
        self.relay(node_name, finished_state(success, result), elapsed, "" if success else str(error or ""))


class EventSink:
    """The queue a batch's node events and progress are written to, wherever the batch runs; picklable when
    its queue is (a multiprocessing manager queue's proxy, a Ray queue), so it travels to worker processes."""

    def __init__(self, events: Any) -> None:
        self._events = events

    def node_event(self, batch: int, node_name: str, status: str, elapsed: float, error: str) -> None:
        self._events.put(("node", batch, node_name, status, elapsed, error))

    def progress_event(self, batch: int, step: str, done: int, total: int) -> None:
        self._events.put(("progress", batch, step, done, total))

    def listener(self, batch: int) -> NodeStatusListener:
        """The hook a batch's driver gets: its node events, tagged with the batch number, into the queue."""
        return NodeStatusListener(functools.partial(self.node_event, batch))

    def progress(self, batch: int) -> Progress:
        """The progress callback a batch's nodes get: their steps, tagged with the batch number, into the queue."""
        return Progress(functools.partial(self.progress_event, batch))

    def get(self, timeout: float) -> tuple | None:
        """The next event, or None if none came within `timeout` seconds."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:  # ray.util.queue.Empty is a queue.Empty too
            return None


class EventRelay:
    """In the driver's process: takes the events of every batch and hands them to the caller's listeners and progress.

    Node events go to each `NodeStatusListener` with their batch number. A step's progress is added up over
    the batches that reported it (each batch reports its own done and total), so a bar moves forward through
    the whole run instead of starting again with each batch. `handle` is called from one thread at a time.
    """

    def __init__(self, listeners: Iterable[NodeStatusListener], progress: Progress = NO_PROGRESS) -> None:
        self._listeners = list(listeners)
        self._progress = progress
        self._steps: dict[str, dict[int, tuple[int, int]]] = {}

    def handle(self, event: tuple) -> None:
        kind, batch, *rest = event
        if kind == "node":
            node_name, status, elapsed, error = rest
            for listener in self._listeners:
                listener.relay(node_name, status, elapsed, error, batch)
        elif kind == "progress":
            step, done, total = rest
            per_batch = self._steps.setdefault(step, {})
            per_batch[batch] = (done, total)
            self._progress(step, sum(d for d, _ in per_batch.values()), sum(t for _, t in per_batch.values()))

    def sink(self) -> EventSink:
        """A sink that hands each event straight to this relay, in the writer's thread (for batches run in the caller's thread)."""
        relay = self

        class _Direct:
            def put(self, event: tuple) -> None:
                relay.handle(event)

        return EventSink(_Direct())

    def drain(self, sink: EventSink, stop: threading.Event, idle_seconds: float = 0.05) -> None:
        """Hand on the sink's events until `stop` is set and the queue is empty (run in a thread of the driver)."""
        while True:
            event = sink.get(idle_seconds)
            if event is not None:
                self.handle(event)
            elif stop.is_set():
                return
