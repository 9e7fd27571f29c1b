"""Every page runs inside app.py's navigation, even when Streamlit runs the page file on its own.

Streamlit runs a file of `pages/` on its own (no app.py: no navigation, no API-key fields) when a
page URL such as `/retrieve` is the first request a fresh server process gets, because it learns
that the app uses `st.navigation` only once app.py has run (Streamlit's AppTest does this on
every run). Each page calls `run_inside_app()` first; run on its own, it runs app.py, whose
navigation picks this same page by its URL, and stops.
"""

from __future__ import annotations

import runpy
import threading
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

APP_SCRIPT = Path(__file__).resolve().parent.parent / "app.py"
_script_run = threading.local()


def run_page(navigation: StreamlitPage) -> None:
    """Run the page that app.py's navigation picked, marking the run as coming through app.py."""
    _script_run.inside_app = True
    try:
        navigation.run()
    finally:
        _script_run.inside_app = False


def run_inside_app() -> None:
    """Run app.py (navigation, sidebar, then this page) when a page file was run on its own."""
    if getattr(_script_run, "inside_app", False):
        return
    runpy.run_path(str(APP_SCRIPT), run_name="__main__")
    st.stop()
