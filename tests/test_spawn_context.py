"""Worker processes of the 'processes' executor never run the parent's main script.

Inside Streamlit (and its AppTest) `__main__` is the page script being run; a spawned worker re-runs `__main__`
before its task, so a worker used to execute the page in a process without Streamlit and die starting up
(an `EOFError` in the parent: CI saw it whenever an AppTest test had run earlier in the session).
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from workbench.executors import event_queue, task_executor


@pytest.fixture
def page_script_as_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`__main__` is a script that, when run, leaves a mark and fails: what a page does outside Streamlit."""
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "page.py"
    script.write_text(
        "import os, pathlib\n"
        f"pathlib.Path({str(marks)!r}, str(os.getpid())).touch()\n"
        "raise RuntimeError('a page script ran outside Streamlit')\n"
    )
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    page.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", page)
    return marks


def test_worker_processes_do_not_run_the_main_script(page_script_as_main: Path) -> None:
    executor = task_executor({"executor": "processes", "executor_workers": 2})
    pool = executor.create_pool()
    try:
        pids = {pool.submit(os.getpid).result(timeout=120) for _ in range(4)}
    finally:
        pool.shutdown()
    assert os.getpid() not in pids and pids
    assert list(page_script_as_main.iterdir()) == []
    assert sys.modules["__main__"].__file__.endswith("page.py")  # the parent's main module is left as it was


def test_the_event_queue_manager_does_not_run_the_main_script(page_script_as_main: Path) -> None:
    with event_queue({"executor": "processes"}) as events:
        events.put({"node": "parse", "state": "running"})
        assert events.get(timeout=30) == {"node": "parse", "state": "running"}
    assert list(page_script_as_main.iterdir()) == []
