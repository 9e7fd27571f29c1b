"""Spawned worker processes that never run the parent's main script.

A spawned child re-runs the parent's `__main__` module before it unpickles its task (so that functions defined
there can be found). Inside Streamlit, and in its AppTest, `__main__` is the page script the server is running:
a worker would execute a page (app.py's navigation, a model warm-up, a page body) in a process with no
Streamlit runtime, and die or do a page's work before its batch; a child that dies while starting is an
`EOFError` in the parent. Nothing a worker runs is defined in a script (the nodes live in `dataflows`), so the
processes started here are spawned as if `__main__` were an empty module.
"""

from __future__ import annotations

import multiprocessing.context
import sys
import threading
import types

_MAIN_SWAP_LOCK = threading.Lock()


class _ProcessWithoutMainScript(multiprocessing.context.SpawnProcess):
    """A spawned process whose preparation data names no main script to re-run."""

    def start(self) -> None:
        # `start` reads `sys.modules["__main__"]` while it builds the child's preparation data, and only then.
        with _MAIN_SWAP_LOCK:
            main = sys.modules.get("__main__")
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                super().start()
            finally:
                if main is not None:
                    sys.modules["__main__"] = main


class _SpawnWithoutMainScript(multiprocessing.context.SpawnContext):
    Process = _ProcessWithoutMainScript


def worker_context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context for worker processes and managers: 'spawn', without re-running `__main__`."""
    return _SpawnWithoutMainScript()
