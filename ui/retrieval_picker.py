"""Query-time retrieval settings: the retrieval mode and the reranker (from the rerankers' registry) with its settings."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.backend_fields import backend_settings
from ui.index_picker import config_for_index, data_dir
from ui.keys import missing_key_for
from ui.service_checks import show_backend_problem
from workbench import api

RETRIEVAL_MODES = {"dense": "Dense (vectors)", "lexical": "Lexical (BM25 / full text)", "hybrid": "Hybrid (fused)"}


def _preset(key: str, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The index's retrieval presets (made by Tune) as a pick list; the settings of the one picked, or None for custom."""
    try:
        presets = api.retrieval_presets(config_for_index(manifest))
    except Exception:  # no catalog yet: no presets
        return None
    if not presets:
        return None
    names = ["custom", *(preset["name"] for preset in presets)]
    picked = st.selectbox("Retrieval preset", names, key=f"{key}_preset_{manifest['index_key']}",
                          format_func=lambda name: "Custom settings" if name == "custom" else f"Preset: {name}",
                          help="Presets are made by Tune (Compare page, or `python -m workbench tune`).")
    if picked == "custom":
        return None
    preset = next(preset for preset in presets if preset["name"] == picked)
    tuned = preset["tuned"]
    held_out = tuned.get("held_out_metrics", {})
    st.caption(f"{preset['settings']['retrieval_mode']}, reranker {preset['settings']['reranker']} · tuned on "
               f"{tuned.get('question_set', '?')}{' (generated)' if tuned.get('generated') else ''}: held-out "
               f"{tuned.get('metric', 'mrr@10')} {held_out.get(tuned.get('metric', 'mrr@10'), 0):.3f} vs default "
               f"{tuned.get('held_out_default_metrics', {}).get(tuned.get('metric', 'mrr@10'), 0):.3f}")
    return dict(preset["settings"])


def retrieval_settings(key: str, side_by_side: bool = True, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Retrieval mode (dense, lexical, hybrid) and reranker: query-time settings that leave the index as it is, or
    a retrieval preset of the index when it has any.

    Side by side on a page; one under the other in the narrow sidebar, where two columns truncate the values.
    """
    preset = _preset(key, manifest) if manifest else None
    if preset is not None:
        return preset
    settings: dict[str, Any] = {}
    left, right = st.columns(2) if side_by_side else (st.container(), st.container())
    modes, param = list(RETRIEVAL_MODES), f"{key}_mode"
    in_url = st.query_params.get(param)  # kept in the URL, so a refresh or a shared link keeps it
    settings["retrieval_mode"] = left.selectbox("Retrieval mode", modes, format_func=RETRIEVAL_MODES.get, key=param,
                                                index=modes.index(in_url) if in_url in modes else 0)
    # Written only when the person changed it (a form allows no callback; writing the default on every load would
    # push a browser-history entry each time and trap the back button).
    if settings["retrieval_mode"] != (in_url if in_url in modes else modes[0]):
        st.query_params[param] = settings["retrieval_mode"]
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
