"""Tune: retrieval settings searched on half of a question set, checked on the other half, saved as an index's preset."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.errors import show_error
from ui.keys import api_keys
from ui.paired_comparison import show_paired_comparison
from workbench import api


def tune_panel(config: dict[str, Any], manifest: dict[str, Any], set_name: str) -> None:
    """The Tune action for one index and question set, and its last result (kept across reruns)."""
    st.markdown(f"**Tune {manifest['index_name']}** on {set_name!r}: mode, fusion, alpha, rrf k and candidates are "
                "searched on a random half of the questions (with the reranker picked above, if any), the best and the "
                "default are scored on the other half, and the best is saved as a retrieval preset of the index.")
    metric_column, name_column = st.columns(2)
    metric = metric_column.selectbox("Maximise", ["mrr@10", "ndcg@10", "recall@5", "recall@1", "recall@10"],
                                     key="tune_metric")
    preset = name_column.text_input("Preset name", "tuned", key="tune_preset_name")
    ran_for = [manifest["index_key"], set_name]
    if st.button(f"Tune {manifest['index_name']}", key="tune_run"):
        with st.spinner("Scoring the settings on the tuning half…"):
            try:
                result = api.tune_retrieval(config, set_name, preset_name=preset, metric=metric, api_keys=api_keys())
            except Exception as error:
                show_error(error, "Tuning")
                return
        st.session_state["tune_result"] = {"for": ran_for, "result": result}
    shown = st.session_state.get("tune_result")
    if not shown or shown["for"] != ran_for:
        return
    result = shown["result"]
    split = result["split"]
    st.success(f"Saved preset {result['preset']!r}: {result['label']}. Pick it under “Retrieval preset” on Retrieve, "
               "Compare and Chat.")
    st.caption(f"Tuning half: {split['tuning_questions']} questions; held-out half: {split['held_out_questions']}"
               f"{' (generated questions)' if split['generated'] else ''}.")
    st.dataframe(pd.DataFrame([{"settings": row["label"], **row["metrics"], "search p50 ms": row["latency_ms"]["search_p50"]}
                               for row in result["tuning"]]), hide_index=True, width="stretch", height=240)
    st.caption("Held-out half: the default settings (left) against the preset (right)")
    show_paired_comparison(result["held_out"]["default"], result["held_out"]["best"], set_name)
