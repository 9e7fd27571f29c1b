"""Errors shown where they happened, in one sentence; never a traceback."""

from __future__ import annotations

import streamlit as st

from ragkit.errors import WorkbenchError
from ui.safe_text import markdown_literal


def show_error(error: Exception, doing: str) -> None:
    """One clear message where the error happened; unexpected errors also name their type, without a traceback."""
    if isinstance(error, WorkbenchError):
        st.error(f"{doing} failed: {markdown_literal(str(error))}")  # messages may quote file names and content
    else:
        st.error(f"{doing} failed unexpectedly ({type(error).__name__}: {markdown_literal(str(error))}). The page is still usable; see the server log.")
