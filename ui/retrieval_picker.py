"""Query-time retrieval settings: the retrieval mode and the reranker (from the rerankers' registry) with its settings."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.backend_fields import backend_settings
from ui.index_picker import data_dir
from ui.keys import missing_key_for
from ui.service_checks import show_backend_problem
from workbench import api

RETRIEVAL_MODES = {"dense": "Dense (vectors)", "lexical": "Lexical (BM25 / full text)", "hybrid": "Hybrid (fused)"}


def retrieval_settings(key: str, side_by_side: bool = True) -> dict[str, Any]:
    """Retrieval mode (dense, lexical, hybrid) and reranker: query-time settings that leave the index as it is.

    Side by side on a page; one under the other in the narrow sidebar, where two columns truncate the values.
    """
    settings: dict[str, Any] = {}
    left, right = st.columns(2) if side_by_side else (st.container(), st.container())
    settings["retrieval_mode"] = left.selectbox("Retrieval mode", list(RETRIEVAL_MODES), format_func=RETRIEVAL_MODES.get,
                                                key=f"{key}_mode")
    settings["reranker"] = right.selectbox("Reranker", api.RERANKERS.names(), key=f"{key}_reranker",
                                           format_func=lambda name: api.RERANKERS.get(name).label,
                                           help="Re-scores the top candidates; its latency is shown beside the results.")
    reranker = api.RERANKERS.get(settings["reranker"])
    with right:
        settings.update(backend_settings(reranker, key, data_dir()))
        show_backend_problem("reranker", reranker.name, settings)
        if missing_key_for(reranker):
            st.warning(f"{reranker.label} needs {missing_key_for(reranker)} (environment, secrets.toml or API keys in the sidebar).")
    return settings
