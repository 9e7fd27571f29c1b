"""The embedded default model, warmed up once per app process in the background.

The first script run of a fresh server starts the load in a thread and does not wait for it, so the
page paints at once; the sidebar says whether the model is still loading. Whoever needs the model
first (an ingestion, a query) waits for the same load (`ragkit.local_models` loads each model once,
under a lock), never a second one.
"""

from __future__ import annotations

import threading
import time

import streamlit as st

from ragkit.local_models import DEFAULT_LOCAL_MODEL, load_sentence_transformer

DEFAULT_MODEL = DEFAULT_LOCAL_MODEL
_STATE: dict[str, object] = {}
_LOCK = threading.Lock()


def _warm() -> None:
    started = time.perf_counter()
    try:
        load_sentence_transformer(DEFAULT_MODEL)
    except Exception as error:  # shown in the sidebar; the page that needs the model reports it again
        _STATE["error"] = f"{type(error).__name__}: {error}"
    _STATE["seconds"] = time.perf_counter() - started


def warm_default_model() -> None:
    """Start loading the default model in a background thread, once per process."""
    with _LOCK:
        if "thread" not in _STATE:
            thread = threading.Thread(target=_warm, name="warm-default-model", daemon=True)
            _STATE["thread"] = thread
            thread.start()


def model_status_line() -> None:
    """A line in the sidebar while the model loads (or if it failed); nothing once it is ready."""
    thread = _STATE.get("thread")
    if isinstance(thread, threading.Thread) and thread.is_alive():
        st.sidebar.caption(f":material/hourglass_top: Loading the embedded model ({DEFAULT_MODEL}) in the background…")
    elif _STATE.get("error"):
        st.sidebar.caption(f"The embedded model could not be loaded: {_STATE['error']}")
