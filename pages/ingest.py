"""Ingest: pick a source and a stack; see the DAG it resolves to; preview chunks; run with a live DAG."""

from __future__ import annotations

import os
import time

import pandas as pd
import streamlit as st

from ui.errors import show_error
from ui.keys import api_keys
from ui.navigation import run_inside_app
from ui.run_summary import STATUS_ICONS, run_counts, run_file_errors, run_timings
from ui.safe_text import markdown_literal
from ui.stack_picker import stack_picker
from ui.wording import plural
from workbench import api
from workbench.api import InputFile, NodeStatusListener, Progress, status_digraph

run_inside_app()  # a page URL opened first on a fresh server still goes through app.py

UPLOAD_TYPES = ["pdf", "txt", "md", "markdown", "docx", "html", "htm"]
STEP_LABELS = {"batches": "Batches", "fresh_embeddings": "Embedding (this batch)", "written_chunk_ids": "Writing to the store (this batch)"}
LOCAL_BACKENDS = {"all-MiniLM-L6-v2": "torch (float32)", "all-MiniLM-L6-v2-onnx-int8": "ONNX Runtime (int8)"}
EXECUTOR_LABELS = {"sync": "Synchronous", "threads": "Threads", "processes": "Processes", "ray": "Ray"}

st.title("Ingest")

source = st.radio("Source", ["files", "squad"], horizontal=True,
                  format_func={"files": "Upload files", "squad": "SQuAD dataset"}.get, key="ingest_source")
files: list[InputFile] = []
config: dict = {"source": source}
if source == "files":
    limit_mb = int(api.resolve_config({})["max_file_mb"])  # the one file-size limit, for uploads and for paths alike
    uploads = st.file_uploader(f"Documents (PDF, TXT, MD, DOCX, HTML; up to {limit_mb} MB each)", type=UPLOAD_TYPES,
                               accept_multiple_files=True, key="ingest_uploads", max_upload_size=limit_mb)
    files = [InputFile(name=upload.name, data=upload.getvalue()) for upload in uploads or []]
else:
    left, middle, right = st.columns(3)
    config["squad_path"] = right.text_input("Local SQuAD v1.1 file (used instead of the hub)",
                                            value=os.environ.get("WORKBENCH_SQUAD_PATH", ""), key="ingest_squad_path")
    config["squad_split"] = left.selectbox(
        "Split", ["validation", "train"], key="ingest_split", disabled=bool(config["squad_path"].strip()),
        help="Of rajpurkar/squad on the hub. A local file is one split already (dev-v1.1 is validation) and is read whole.")
    config["limit"] = middle.number_input("Paragraphs (0 = all)", 0, 100_000, 200, 50, key="ingest_limit")

st.subheader("Stack")
config.update(stack_picker("ingest"))
if config["embedding_service"] == "sentence_transformers" and config["model_name"] == api.EMBEDDERS.get("sentence_transformers").default_model:
    backend = st.radio("Local model backend", list(LOCAL_BACKENDS), horizontal=True, format_func=LOCAL_BACKENDS.get,
                       key="ingest_backend", help="The same all-MiniLM-L6-v2 weights; int8 ONNX is built locally on first use "
                       "and is about twice as fast on CPU. An index keeps the backend it was built with.")
    config["model_name"] = backend

with st.expander("Scale: batches and executor"):
    left, middle, right = st.columns(3)
    config["executor"] = left.selectbox("Executor", list(EXECUTOR_LABELS), format_func=EXECUTOR_LABELS.get, key="ingest_executor",
                                        help="Where the batches run. The live DAG follows each batch's nodes with the synchronous executor.")
    config["ingest_batch_documents"] = middle.number_input("Documents per batch", 1, 100_000, api.DEFAULTS["ingest_batch_documents"], 32,
                                                           key="ingest_batch_documents")
    config["executor_workers"] = right.number_input("Workers (0 = one per core)", 0, 256, 0, 1, key="ingest_workers",
                                                    disabled=config["executor"] == "sync")
    if config["executor"] == "ray":
        config["ray_address"] = st.text_input("Ray cluster address (empty: a local Ray instance)", "", key="ingest_ray_address")
    if config["executor"] != "sync":
        st.caption("The batches run in workers, whose node events do not reach this page: the DAG shows the steps before "
                   "and after the batches, and the progress bar counts finished batches. Pick Synchronous to watch every node.")

try:
    graph = api.flow_graph(config, "ingest")
except Exception as error:
    show_error(error, "Resolving the DAG for this configuration")
    st.stop()

with st.expander("The DAG this configuration resolves to", expanded=True):
    st.caption("Each box is a Python function; its module (and the @config.when variant) is under its name.")
    dag_slot = st.empty()
    dag_slot.graphviz_chart(status_digraph(graph, {}), width="stretch")

has_input = source == "squad" or bool(files)
preview_col, ingest_col = st.columns([1, 1])
preview_clicked = preview_col.button("Preview chunks", disabled=not has_input, help="Runs only up to the chunking node.")
ingest_clicked = ingest_col.button("Ingest", type="primary", disabled=not has_input)

if preview_clicked:
    try:
        with st.spinner("Parsing and chunking…"):
            chunks, errors = api.preview_chunks(config, files=files, api_keys=api_keys())
    except Exception as error:
        show_error(error, "Preview")
    else:
        st.write(f"**{plural(len(chunks), 'chunk')}** from {plural(len({c.document_id for c in chunks}), 'document')}")
        for error in errors:
            st.warning(f"{markdown_literal(error.source_name)}: {markdown_literal(error.reason)}")
        st.dataframe(
            pd.DataFrame([{"source": c.source_name, "page": c.page, "chunk": c.chunk_index, "tokens": c.token_count,
                           "characters": len(c.text), "text": c.text} for c in chunks[:500]]),
            width="stretch", hide_index=True,
            column_config={"text": st.column_config.TextColumn("text", width="large")},
        )

if ingest_clicked:
    status: dict[str, tuple[str, float]] = {}
    bars: dict[str, st.delta_generator.DeltaGenerator] = {}
    progress_area = st.container()
    last_draw = [0.0]

    def redraw(force: bool = False) -> None:
        if force or time.monotonic() - last_draw[0] > 0.25:
            dag_slot.graphviz_chart(status_digraph(graph, status), width="stretch")
            last_draw[0] = time.monotonic()

    def on_node(name: str, state: str, elapsed: float, error: str) -> None:
        status[name] = (state, elapsed)
        redraw(force=state == "failed")

    def on_progress(step: str, done: int, total: int) -> None:
        if step not in bars:
            bars[step] = progress_area.progress(0.0, text=STEP_LABELS.get(step, step))
        bars[step].progress(min(1.0, done / total) if total else 1.0, text=f"{STEP_LABELS.get(step, step)}: {done} / {total}")

    with st.status("Ingesting…", expanded=True) as box:
        try:
            record = api.ingest(config, files=files, api_keys=api_keys(),
                                   adapters=[NodeStatusListener(on_node)], progress=Progress(on_progress))
        except Exception as error:
            redraw(force=True)
            box.update(label="Ingestion failed", state="error")
            st.session_state.pop("ingest_last_record", None)  # the summary below must not be taken for this run's
            show_error(error, "Ingestion")
            st.stop()
        redraw(force=True)
        counts = record["counts"]
        box.update(label=f"Run {record['run_id']} finished: {plural(counts['written'], 'chunk')} written", state="complete")
    st.session_state["ingest_last_record"] = record

last_record = st.session_state.get("ingest_last_record")
if last_record:  # kept until the next run, so the summary survives reruns (a widget change, a download)
    st.subheader(f"{STATUS_ICONS['succeeded']} Run {last_record['run_id']}")
    st.caption(f"{last_record['started_at']} → {last_record['finished_at']} · index "
               f"{last_record['config']['index_name']} ({last_record['config']['vector_db']})")
    run_counts(last_record["counts"])
    run_file_errors(last_record)
    with st.expander("Seconds per node"):
        run_timings(last_record)
    st.page_link("pages/runs.py", label="Open this run on the Runs page (config, DAG, chunks written)",
                 icon=":material/history:", query_params={"run": last_record["run_id"]})
