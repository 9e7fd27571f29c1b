"""Every page runs inside app.py's navigation, even when Streamlit runs the page file on its own.

Streamlit runs a file of `pages/` on its own (no app.py: no navigation, no API-key fields) when a
page URL such as `/retrieve` is the first request a fresh server process gets, because it learns
that the app uses `st.navigation` only once app.py has run (Streamlit's AppTest does this on
every run). Each page calls `run_inside_app()` first; run on its own, it runs app.py, whose
navigation picks this same page by its URL, and stops.

`run_page` is also the pages' one error boundary (`error_boundary`; app.py puts the sidebar under it too):
whatever a page's body raises that it did not handle itself is shown as one line through `ui.errors.show_error`
(redacted; an unexpected error names its type) and logged with its traceback for the server log, never as
Streamlit's traceback box. Streamlit's own control flow
(`st.stop`, `st.rerun`, `st.switch_page`) raises `BaseException`s, which pass through.
"""

from __future__ import annotations

import logging
import runpy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ui.errors import show_error

APP_SCRIPT = Path(__file__).resolve().parent.parent / "app.py"
_script_run = threading.local()
_log = logging.getLogger(__name__)


@contextmanager
def error_boundary(doing: str) -> Iterator[None]:
    """Run a part of the app so that an error it did not handle is one line on the page, its traceback in the log."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the one boundary: every unhandled error, shown in words
        _log.exception("%s failed", doing)
        show_error(error, doing)


def run_page(navigation: StreamlitPage) -> None:
    """Run the page that app.py's navigation picked, marking the run as coming through app.py; an error the page did not
    handle is one line on the page (the boundary), its traceback only in the server log."""
    _script_run.inside_app = True
    try:
        with error_boundary(f"The {navigation.title} page"):
            navigation.run()
    finally:
        _script_run.inside_app = False


def run_inside_app() -> None:
    """Run app.py (navigation, sidebar, then this page) when a page file was run on its own."""
    if getattr(_script_run, "inside_app", False):
        return
    runpy.run_path(str(APP_SCRIPT), run_name="__main__")
    st.stop()
