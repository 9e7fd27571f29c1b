"""Where ingestion batches run: Hamilton's own task executors, chosen by the `executor` setting.

The ingestion flow splits the corpus into batches with Hamilton's `Parallelizable`/`Collect`
(`dataflows/batching.py`); each batch is one Hamilton task. This module only picks the executor
that runs those tasks — the dataflow modules are the same for every choice:

    sync       SynchronousLocalTaskExecutor: one batch after another in this process (the default)
    threads    MultiThreadingExecutor: batches in threads of this process
    processes  MultiProcessingExecutor, with spawned worker processes of one compute thread each
    ray        batches on `executor_workers` Ray actors (one CPU each), on a local Ray instance or on
               the cluster at `ray_address`

Ray and its actors are started once per process and left running, so the workers keep the loaded
model between runs. Hamilton's scheduling loop polls the futures of running tasks without pausing; the futures
here wait briefly for their task instead, so the driver process does not take a core from the
workers while it waits.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hamilton.execution import executors as hamilton_executors
from hamilton.execution.executors import TaskFutureWrappingPythonFuture
from hamilton.execution.grouping import TaskImplementation
from hamilton.execution.state import TaskState
from hamilton.lifecycle import NodeExecutionHook, TaskGroupingHook, TaskReturnHook

from ragkit.errors import ConfigError
from ragkit.schema import NO_PROGRESS, Progress
from workbench.spawn_context import worker_context

IN_PROCESS_EXECUTORS = ("sync", "threads")
_POLL_SECONDS = 0.05
_REPO_ROOT = Path(__file__).resolve().parent.parent
_RAY_LOCK = threading.Lock()


def worker_count(config: dict[str, Any]) -> int:
    """Parallel batches: `executor_workers`, or one per CPU core."""
    return int(config.get("executor_workers") or 0) or os.cpu_count() or 1


def runs_in_process(executor: str) -> bool:
    """Whether batches run in this process (so they can share its loaded model, handles and callbacks)."""
    return executor in IN_PROCESS_EXECUTORS


class _PatientFuture(TaskFutureWrappingPythonFuture):
    """A task future whose state query waits up to 50 ms for the task, instead of returning at once."""

    def get_state(self) -> TaskState:
        if not self.future.done():
            concurrent.futures.wait([self.future], timeout=_POLL_SECONDS)
        return super().get_state()


class _ThreadExecutor(hamilton_executors.MultiThreadingExecutor):
    def submit_task(self, task: TaskImplementation) -> _PatientFuture:
        future = self.pool.submit(hamilton_executors.base_execute_task, task)
        self.active_futures.append(future)
        return _PatientFuture(future)


def _one_compute_thread() -> None:
    """Worker-process initialiser: one compute thread per worker (the workers are the parallelism)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a requirement
        pass


class _ProcessExecutor(hamilton_executors.MultiProcessingExecutor):
    """Worker processes started with 'spawn' (a fork after torch has started its thread pool can hang), without
    re-running the page script that is `__main__` inside Streamlit (`workbench.spawn_context`)."""

    def create_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.max_tasks, mp_context=worker_context(), initializer=_one_compute_thread
        )

    def submit_task(self, task: TaskImplementation) -> _PatientFuture:
        future = self.pool.submit(hamilton_executors.base_execute_task, task)
        self.active_futures.append(future)
        return _PatientFuture(future)


def ensure_ray(config: dict[str, Any]) -> None:
    """Connect to Ray once per process: the cluster at `ray_address`, else a local instance with `executor_workers` CPUs."""
    try:
        import ray
    except ImportError as error:
        raise ConfigError("The ray executor needs the ray package: pip install -r requirements.txt.") from error
    with _RAY_LOCK:
        if ray.is_initialized():
            return
        python_path = os.pathsep.join(p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        runtime_env = {"env_vars": {"PYTHONPATH": python_path, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
                                    "HF_DATASETS_OFFLINE": os.environ.get("HF_DATASETS_OFFLINE", "1")}}
        try:
            if config.get("ray_address"):
                ray.init(address=config["ray_address"], runtime_env=runtime_env, log_to_driver=False)
            else:
                ray.init(num_cpus=worker_count(config), include_dashboard=False, runtime_env=runtime_env, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = config.get("ray_address") or "a local Ray instance"
            raise ConfigError(f"Could not start or reach Ray ({where}): {error}. Check ray_address, or use another executor.") from error


class _RayBatchWorker:
    """One Ray actor: runs the Hamilton tasks sent to it one at a time, in one process that keeps its loaded model."""

    def run(self, task: TaskImplementation) -> Any:
        return hamilton_executors.base_execute_task(task)


_RAY_WORKERS: dict[tuple[str, str, int], list[Any]] = {}


def _ray_workers(count: int) -> list[Any]:
    """`count` batch-worker actors of one CPU each on the Ray connection `ensure_ray` made, started once per Ray
    session and left running, so they keep the loaded model between runs. A worker that dies (out of memory) is
    restarted and its batch retried: batches are idempotent upserts."""
    import ray

    # Never more actors than the cluster has CPUs: the rest would wait for a CPU forever, and their batches with them
    # (Ray started by an earlier run with fewer `executor_workers`).
    count = max(1, min(count, int(ray.cluster_resources().get("CPU", count))))
    context = ray.get_runtime_context()
    key = (context.get_node_id(), context.get_job_id(), count)
    with _RAY_LOCK:
        if key not in _RAY_WORKERS:
            _RAY_WORKERS.clear()  # the actors of an earlier session or worker count: dropping the handles ends them
            worker = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(_RayBatchWorker)
            _RAY_WORKERS[key] = [worker.remote() for _ in range(count)]
        return _RAY_WORKERS[key]


class _RayExecutor(hamilton_executors.TaskExecutor):
    """Hamilton's tasks on a fixed pool of Ray actors, one task per actor at a time.

    Hamilton's RayTaskExecutor submits each task as a new remote function, and Ray starts another worker process
    whenever a running task blocks (each batch's node events go through a Ray queue), so a 2-worker run of 10
    batches used 5 to 7 processes, each loading the model again. Actors are exactly `executor_workers` processes,
    and a task is submitted only when one of them is free (two runs at once queue on the same actors)."""

    def __init__(self, workers: list[Any]) -> None:
        self._workers = workers
        self._running: list[concurrent.futures.Future | None] = [None] * len(workers)

    def init(self) -> None:
        pass

    def finalize(self) -> None:
        pass

    def _free_worker(self) -> int | None:
        return next((i for i, future in enumerate(self._running) if future is None or future.done()), None)

    def can_submit_task(self) -> bool:
        return self._free_worker() is not None

    def submit_task(self, task: TaskImplementation) -> _PatientFuture:
        index = self._free_worker()
        if index is None:  # pragma: no cover - Hamilton asks can_submit_task first
            raise RuntimeError("no free Ray worker")
        future = self._workers[index].run.remote(task).future()
        self._running[index] = future
        return _PatientFuture(future)


def task_executor(config: dict[str, Any]) -> Any:
    """The Hamilton task executor that runs the batches of a run, from the `executor` setting."""
    executor = config.get("executor", "sync")
    if executor == "sync":
        return hamilton_executors.SynchronousLocalTaskExecutor()
    if executor == "threads":
        return _ThreadExecutor(max_tasks=worker_count(config))
    if executor == "processes":
        return _ProcessExecutor(max_tasks=worker_count(config))
    if executor == "ray":
        ensure_ray(config)
        return _RayExecutor(_ray_workers(worker_count(config)))
    raise ConfigError(f"Unknown executor {executor!r}; use sync, threads, processes or ray.")


class RunTracker(NodeExecutionHook, TaskReturnHook, TaskGroupingHook):
    """The driver-side view of a batched run, from Hamilton's hooks in the driver's process.

    As each batch task returns, its report is passed to `on_batch` (the driver adds it to the run
    record, so an interrupted run shows what it finished) and progress reports ("batches", done,
    total). It also times the outer flow's own nodes. Hamilton ships the adapters with every task;
    a copy sent to a worker process is inert.
    """

    def __init__(self, on_batch: Any = None, progress: Progress = NO_PROGRESS) -> None:
        self._on_batch = on_batch
        self._progress = progress
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self.timings: dict[str, float] = {}
        self.reports: list[Any] = []
        self.total_batches = 0

    def __reduce__(self) -> tuple:
        return (RunTracker, ())

    def run_before_node_execution(self, *, node_name: str, **future_kwargs: Any) -> None:
        with self._lock:
            self._started[node_name] = time.perf_counter()

    def run_after_node_execution(self, *, node_name: str, **future_kwargs: Any) -> None:
        with self._lock:
            started = self._started.pop(node_name, None)
            if started is not None and node_name != "batch_report":  # a batch's own nodes are timed inside it
                self.timings[node_name] = round(self.timings.get(node_name, 0.0) + time.perf_counter() - started, 4)

    def run_after_task_grouping(self, *, run_id: str, task_ids: list[str], **future_kwargs: Any) -> None:
        pass

    def run_after_task_expansion(self, *, parameters: dict[str, Any], **future_kwargs: Any) -> None:
        self.total_batches = len(parameters)
        self._progress("batches", 0, self.total_batches)

    def run_after_task_return(self, *, result: Any, success: bool, **future_kwargs: Any) -> None:
        if not success or not isinstance(result, dict):
            return
        report = result.get("batch_report")
        if report is not None:
            self.reports.append(report)
            if self._on_batch is not None:
                self._on_batch(report, list(self.reports))
            self._progress("batches", len(self.reports), max(self.total_batches, len(self.reports)))


@contextlib.contextmanager
def event_queue(config: dict[str, Any]) -> Iterator[Any]:
    """A queue the batches' workers can write their node events to, for the run's executor, closed after the run.

    threads: a `queue.Queue`; processes: a multiprocessing manager's queue (its proxy pickles into spawned
    workers); ray: a `ray.util.queue.Queue` (an actor every Ray task can reach). sync: None, the batches run
    in the caller's thread and report directly.
    """
    executor = config.get("executor", "sync")
    if executor == "threads":
        yield queue.Queue()
    elif executor == "processes":
        with worker_context().Manager() as manager:
            yield manager.Queue()
    elif executor == "ray":
        ensure_ray(config)
        from ray.util.queue import Queue as RayQueue

        events = RayQueue(actor_options={"num_cpus": 0})
        try:
            yield events
        finally:
            events.shutdown()
    else:
        yield None
