"""Errors shown where they happened, in one sentence; never a traceback."""

from __future__ import annotations

import streamlit as st

from ragkit.errors import WorkbenchError
from ragkit.failures import expected_failure
from ragkit.redaction import redact
from ui.safe_text import markdown_literal


def show_error(error: Exception, doing: str) -> None:
    """One clear message where the error happened; unexpected errors also name their type, without a traceback.

    The message is redacted here too: an unexpected error's text did not pass `WorkbenchError`'s redaction.
    """
    error = expected_failure(error) or error  # a full disk, a read-only file, damaged index files: told as such
    message = markdown_literal(redact(str(error)))  # messages may quote file names and content
    if isinstance(error, WorkbenchError):
        st.error(f"{doing} failed: {message}")
    else:
        st.error(f"{doing} failed unexpectedly ({type(error).__name__}: {message}). The page is still usable; see the server log.")
