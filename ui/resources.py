"""Expensive objects, created once per app process with `st.cache_resource`.

The dataflows keep their own process-wide caches (the sentence-transformers model, query-time
clients), so these functions only make sure the default model is loaded once, up front, and
never again when the user switches pages.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ragkit.local_models import load_sentence_transformer


@st.cache_resource(show_spinner="Loading the embedded model (all-MiniLM-L6-v2)…")
def sentence_transformer(model_name: str = "all-MiniLM-L6-v2") -> Any:
    """The local embedding model, loaded once per process."""
    return load_sentence_transformer(model_name)


def warm_default_model() -> None:
    """Load the default model at start-up, so the first ingestion or query does not wait for it."""
    sentence_transformer()
