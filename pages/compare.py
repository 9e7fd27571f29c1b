"""Compare: two indexes (or one index with two retrieval settings) side by side on the same question."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dataflows import driver
from ui.navigation import run_inside_app
from ui.widgets import api_keys, config_for_index, data_dir, index_picker, result_card, retrieval_settings, show_error

run_inside_app()  # a page URL opened first on a fresh server still goes through app.py

st.title("Compare")
manifests = driver.indexes(data_dir())
left, right = st.columns(2)
with left:
    manifest_a = index_picker(manifests, "Left index", key="compare_a", param="a")
    settings_a = retrieval_settings("compare_a") if manifest_a else {}
with right:
    manifest_b = index_picker(manifests, "Right index", key="compare_b", param="b")
    settings_b = retrieval_settings("compare_b") if manifest_b else {}
if manifest_a is None or manifest_b is None:
    st.stop()

config_a = {**config_for_index(manifest_a), **settings_a}
config_b = {**config_for_index(manifest_b), **settings_b}
with st.form("compare_form"):
    question = st.text_input("Question", key="compare_question", placeholder="The same question goes to both sides")
    top_k = st.slider("Top k", 1, 20, 5, key="compare_top_k")
    asked = st.form_submit_button("Search both", type="primary")


def _passage(hit: dict) -> tuple:
    return hit["document_id"], hit["char_start"], hit["char_end"]


if asked and not question.strip():
    st.warning("Type a question first.")
elif asked:
    results = []
    for config in (config_a, config_b):
        try:
            results.append(driver.search(config, question, top_k=top_k, api_keys=api_keys()))
        except Exception as error:
            results.append(error)
    passages = [{_passage(h) for h in r["hits"]} if isinstance(r, dict) else set() for r in results]
    both = passages[0] & passages[1]
    st.caption(f"{len(both)} passage(s) found by both sides are marked ◆.")
    for side, column, result in zip(("a", "b"), st.columns(2), results):
        with column:
            if isinstance(result, Exception):
                show_error(result, "Search")
                continue
            st.metric("Latency", f"{result['latency_ms']['total']:.0f} ms",
                      help=f"embed {result['latency_ms']['embed']:.0f} ms, search {result['latency_ms']['search']:.0f} ms")
            for rank, hit in enumerate(result["hits"], start=1):
                result_card(rank, hit, question, marker="◆ " if _passage(hit) in both else "", side=side)

st.divider()
st.subheader("Benchmark on SQuAD questions")
if not hasattr(driver, "evaluate"):
    st.info("The evaluation dataflow is not available in this build.")
    st.stop()
sample = st.number_input("Questions to sample (fixed seed; 0 = all)", 0, 20_000, 200, 50, key="compare_sample")
if st.button("Run benchmark on both"):
    rows = []
    for label, config, manifest in (("left", config_a, manifest_a), ("right", config_b, manifest_b)):
        with st.spinner(f"Evaluating {manifest['index_name']} ({label})…"):
            try:
                evaluation = driver.evaluate(config, sample_size=int(sample), seed=0, api_keys=api_keys())
            except Exception as error:
                show_error(error, f"Benchmark of the {label} index")
                continue
        rows.append({"side": f"{label}: {manifest['index_name']} · {config.get('retrieval_mode', 'dense')}",
                     **evaluation["metrics"], **evaluation["latency_ms"], "questions": evaluation["questions"]})
    if rows:
        table = pd.DataFrame(rows).set_index("side")
        st.dataframe(table, width="stretch")
        metric_columns = [c for c in ("recall@1", "recall@5", "recall@10", "mrr@10") if c in table.columns]
        st.bar_chart(table[metric_columns].T, stack=False)
if hasattr(driver, "evaluations"):
    history = driver.evaluations(data_dir(), index_key=manifest_a["index_key"], limit=50)
    if history:
        st.caption(f"Past evaluations of {manifest_a['index_name']}")
        st.dataframe(pd.DataFrame([{"when": h["started_at"], "questions": h["questions"],
                                    "mode": h["config"].get("retrieval_mode", "dense"), **h["metrics"]} for h in history]),
                     hide_index=True, width="stretch")
