"""Home: what the workbench does, the indexes that exist (with their state and documents), and a one-click sample."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.navigation import run_inside_app

run_inside_app()  # first: a page URL opened first on a fresh server goes through app.py

from ui.errors import show_error  # noqa: E402
from ui.index_picker import data_dir  # noqa: E402
from ui.keys import api_keys  # noqa: E402
from ui.safe_text import markdown_literal  # noqa: E402
from ui.scorecard import scorecard_table  # noqa: E402
from ui.wording import plural  # noqa: E402
from workbench import api  # noqa: E402

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


def _config(manifest: dict) -> dict:
    return {"vector_db": manifest["vector_db"], "vector_db_config": manifest["vector_db_config"],
            "index_name": manifest["index_name"], "data_dir": data_dir()}


def _documents(manifest: dict) -> None:
    """The index's documents, and deleting one of them or the index, each after a confirm step."""
    key = manifest["index_key"]
    try:
        documents = api.documents(_config(manifest), api_keys=api_keys())
    except Exception as error:
        show_error(error, "Reading the index's documents")
        return
    st.dataframe(pd.DataFrame([{"name": d["source_name"], "title": d["title"], "pages": d["pages"], "chunks": d["chunks"],
                                "last run": d["last_run"], "source kept": d["source_kept"]} for d in documents],
                              columns=["name", "title", "pages", "chunks", "last run", "source kept"]),
                 hide_index=True, width="stretch")
    names = [d["source_name"] for d in documents]
    chosen = st.selectbox("Document", names, key=f"home_doc_{key}", index=None, placeholder="Pick a document to delete")
    if chosen and st.checkbox(f"Yes, delete {chosen} from {manifest['index_name']}", key=f"home_doc_confirm_{key}"):
        if st.button("Delete the document", type="primary", key=f"home_doc_delete_{key}"):
            try:
                record = api.delete_documents(_config(manifest), [chosen], api_keys=api_keys())
            except Exception as error:
                show_error(error, "Deleting the document")
            else:
                st.session_state["home_done"] = (f"Deleted {markdown_literal(chosen)}: "
                                                 f"{plural(record['counts']['deleted_chunks'], 'chunk')} (run {record['run_id']}).")
                st.rerun()
    if st.checkbox(f"Yes, delete the whole index {manifest['index_name']}", key=f"home_index_confirm_{key}"):
        if st.button("Delete the index", type="primary", key=f"home_index_delete_{key}"):
            try:
                record = api.delete_index(_config(manifest), api_keys=api_keys())
            except Exception as error:
                show_error(error, "Deleting the index")
            else:
                st.session_state["home_done"] = f"Deleted index {manifest['index_name']} (run {record['run_id']})."
                st.rerun()


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
    if "home_done" in st.session_state:
        st.success(st.session_state.pop("home_done"))
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
            if st.toggle("Documents", key=f"home_docs_{manifest['index_key']}",
                         help="List the index's documents (read from the store), delete one, or delete the index."):
                _documents(manifest)


home()
