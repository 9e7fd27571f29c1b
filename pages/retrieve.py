"""Retrieve: ask an index a question; results as cards with highlighted terms and lineage."""

from __future__ import annotations

import streamlit as st

from ui.navigation import run_inside_app

run_inside_app()  # first: a page URL opened first on a fresh server goes through app.py

from ui.cards import result_card  # noqa: E402
from ui.errors import show_error  # noqa: E402
from ui.index_picker import config_for_index, index_picker, indexes_or_stop  # noqa: E402
from ui.keys import api_keys  # noqa: E402
from ui.marking import mark_controls  # noqa: E402
from ui.retrieval_picker import retrieval_settings  # noqa: E402
from ui.wording import plural, score_note  # noqa: E402
from workbench import api  # noqa: E402

st.title("Retrieve")
manifest = index_picker(indexes_or_stop())
if manifest is None:
    st.stop()

with st.form("retrieve_form"):
    question = st.text_input("Question", value=st.query_params.get("q", ""), key="retrieve_question",
                             placeholder="e.g. Who won Super Bowl 50?")
    top_k = st.slider("Top k", 1, 20, 5, key="retrieve_top_k")
    settings = retrieval_settings("retrieve", manifest=manifest)
    asked = st.form_submit_button("Search", type="primary")

config = {**config_for_index(manifest), **settings}
# A refresh or a shared link (?q=...) shows the results again: the question searched is kept in the URL.
again = not asked and "retrieve_result" not in st.session_state and bool(st.query_params.get("q", "").strip())
if (asked or again) and question.strip():
    try:
        result = api.search(config, question, top_k=top_k, api_keys=api_keys())
    except Exception as error:
        show_error(error, "Search")
        st.stop()
    # kept for the reruns that marking a hit makes
    st.session_state["retrieve_result"] = {"index_key": manifest["index_key"], "config": config, "result": result}
    if st.query_params.get("q") != question:
        st.query_params["q"] = question
elif asked:
    st.warning("Type a question first.")
    st.session_state.pop("retrieve_result", None)

shown = st.session_state.get("retrieve_result")
if shown and shown["index_key"] == manifest["index_key"]:
    result, question = shown["result"], shown["result"]["question"]
    latency = result["latency_ms"]
    parts = [f"{name} {latency[name]:.0f} ms" for name in ("embed", "search", "rerank") if name in latency]
    st.caption(f"{plural(len(result['hits']), 'hit')} in {latency['total']:.0f} ms ({', '.join(parts)}) · "
               f"{result['manifest']['embedding_service']} / {result['manifest']['model_name']} · mark hits to build "
               f"the question set {api.marked_set_name(manifest['index_name'])!r} that evaluates this index")
    st.caption(score_note(shown["config"].get("retrieval_mode", "dense"), shown["config"].get("reranker", "none")))
    controls = mark_controls(shown["config"], question, api.hit_marks(shown["config"], question), "retrieve")
    for rank, hit in enumerate(result["hits"], start=1):
        result_card(rank, hit, question, controls=controls, config=shown["config"])
