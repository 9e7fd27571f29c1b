"""Home: what the workbench does, the indexes that exist (with their state), and a one-click sample."""

from __future__ import annotations

import streamlit as st

from ui.errors import show_error
from ui.index_picker import data_dir
from ui.navigation import run_inside_app
from ui.scorecard import scorecard_table
from ui.wording import plural
from workbench import api

run_inside_app()  # a page URL opened first on a fresh server still goes through app.py

TRY_IT_PARAGRAPHS = 200


def _try_it() -> None:
    """Ingest a SQuAD sample with the embedded default stack, with a status box."""
    config = {"source": "squad", "limit": TRY_IT_PARAGRAPHS, "index_name": "squad_sample", "data_dir": data_dir()}
    with st.status(f"Ingesting {TRY_IT_PARAGRAPHS} SQuAD paragraphs with all-MiniLM-L6-v2 into LanceDB…", expanded=True) as box:
        try:
            record = api.ingest(config, api_keys={})
        except Exception as error:  # shown in words, the page stays usable
            box.update(label="Try it failed", state="error")
            show_error(error, "Ingesting the SQuAD sample")
            return
        counts = record["counts"]
        box.update(label=f"Done: {plural(counts['written'], 'chunk')} written, {counts['skipped_unchanged']:,} unchanged",
                   state="complete")


def _index_state_line(manifest: dict) -> str:
    """One line on the index's physical state: ANN index, full-text index, rows, fragments."""
    try:
        state = api.index_state({"vector_db": manifest["vector_db"], "vector_db_config": manifest["vector_db_config"],
                                    "index_name": manifest["index_name"], "data_dir": data_dir()})
    except Exception as error:  # a missing table or folder: say so, keep the page
        return f"index state unavailable: {type(error).__name__}"
    ann = f"ANN index {state['ann_index']}" if state["ann_index"] else "no ANN index (exact search)"
    if state.get("ann_unindexed_rows"):
        ann += f", {state['ann_unindexed_rows']:,} rows not yet in it"
    fragments = state.get("fragments")
    stored = plural(state["rows"], "row") + (f" in {plural(fragments, 'fragment')}" if fragments else "")
    return f"{ann} · full-text index {'yes' if state['fts_index'] else 'no'} · {stored}"


def home() -> None:
    """The three-line pitch, the indexes that exist, and a one-click sample."""
    st.title("RAG workbench")
    st.markdown(
        "Ingest your documents or the SQuAD benchmark, with the embedding service and vector store you pick.  \n"
        "Watch the Hamilton DAG run, query the index, compare two stacks side by side on the same questions.  \n"
        "Chat with the documents, with cited answers you can trace back to the run that stored them."
    )
    if st.button("Try it: ingest 200 SQuAD paragraphs with the embedded default", type="primary"):
        _try_it()
    st.subheader("Indexes")
    try:
        manifests = api.indexes(data_dir())
    except Exception as error:
        show_error(error, "Reading the catalog")
        return
    if not manifests:
        st.info("No index yet. Press “Try it”, or go to Ingest.")
        return
    runs = {run["run_id"]: run for run in api.runs(data_dir(), limit=1000)}
    for manifest in manifests:
        with st.container(border=True):
            name, links = st.columns([3, 2])
            last = runs.get(manifest["last_run_id"], {})
            name.markdown(
                f"**{manifest['index_name']}** · {manifest['vector_db']} · {manifest['embedding_service']} / "
                f"`{manifest['model_name']}` · {manifest['dimension']}-d · **{plural(manifest['chunk_count'], 'chunk')}**  \n"
                f"last run {manifest['last_run_id']} ({last.get('status', '?')}, {last.get('finished_at') or last.get('started_at', '')})"
            )
            if api.STORES.get(manifest["vector_db"]).has("embedded"):  # a hosted store is not asked on every page load
                name.caption(_index_state_line(manifest))
            with name.expander("Scorecard"):
                try:
                    scorecard_table(api.scorecard(manifest, data_dir(), save=False))
                except Exception as error:  # a scorecard that cannot be made: say why, keep the page
                    show_error(error, "The scorecard")
            with links:
                first, second = st.columns(2)
                first.page_link("pages/retrieve.py", label="Query", icon=":material/search:", query_params={"index": manifest["index_key"]})
                second.page_link("pages/compare.py", label="Compare", icon=":material/compare:", query_params={"a": manifest["index_key"]})


home()
