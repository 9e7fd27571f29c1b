"""Ingest: pick a source and a stack; see the DAG it resolves to; preview chunks; run with a live DAG."""

from __future__ import annotations

import os
import threading

import pandas as pd
import streamlit as st

from ui.navigation import run_inside_app

run_inside_app()  # first: a page URL opened first on a fresh server goes through app.py

from ui.dag_view import show_dag  # noqa: E402
from ui.errors import show_error  # noqa: E402
from ui.keys import api_keys  # noqa: E402
from ui.run_summary import STATUS_ICONS, run_counts, run_file_errors, run_timings  # noqa: E402
from ui.safe_text import markdown_literal  # noqa: E402
from ui.stack_picker import stack_picker  # noqa: E402
from ui.wording import plural  # noqa: E402
from workbench import api  # noqa: E402
from workbench.api import InputFile, LiveDag, NodeStatusListener, Progress, status_digraph  # noqa: E402

UPLOAD_TYPES = ["pdf", "txt", "md", "markdown", "docx", "html", "htm"]
STEP_LABELS = {"batches": "Batches", "fresh_embeddings": "Embedding (batches begun so far)",
               "written_chunk_ids": "Writing to the store (batches begun so far)"}
REDRAW_SECONDS = 0.5
LOCAL_BACKENDS = {"all-MiniLM-L6-v2-onnx-int8": "ONNX Runtime (int8, the default)", "all-MiniLM-L6-v2": "torch (float32)"}
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
                       key="ingest_backend", help="The same all-MiniLM-L6-v2 weights. int8 ONNX (built from them at install "
                       "time) embeds about 1.8x as fast on CPU, at -0.001 SQuAD recall@10; torch float32 is the exact model. "
                       "An index keeps the backend it was built with.")
    config["model_name"] = backend

with st.expander("Scale: batches and executor"):
    left, middle, right = st.columns(3)
    config["executor"] = left.selectbox("Executor", list(EXECUTOR_LABELS), format_func=EXECUTOR_LABELS.get, key="ingest_executor",
                                        help="Where the batches run. The live DAG follows every batch's nodes with each of them.")
    config["ingest_batch_documents"] = middle.number_input("Documents per batch", 1, 100_000, api.DEFAULTS["ingest_batch_documents"], 32,
                                                           key="ingest_batch_documents")
    config["executor_workers"] = right.number_input("Workers (0 = one per core)", 0, 256, 0, 1, key="ingest_workers",
                                                    disabled=config["executor"] == "sync")
    if config["executor"] == "ray":
        config["ray_address"] = st.text_input("Ray cluster address (empty: a local Ray instance)", "", key="ingest_ray_address")
    if config["executor"] != "sync":
        st.caption("The batches run in workers, which send their node events to this page through a queue: a node shows "
                   "running while any batch runs it, and the batches it finished.")

try:
    graph = api.flow_graph(config, "ingest")
except Exception as error:
    show_error(error, "Resolving the DAG for this configuration")
    st.stop()

with st.expander("The DAG this configuration resolves to", expanded=True):
    st.caption("Each box is a Python function; its module (and the @config.when variant) is under its name.")
    dag_slot = st.empty()
    show_dag(dag_slot, status_digraph(graph, {}))

sync = source == "files" and st.checkbox(
    "Sync: these files are the whole index", key="ingest_sync",
    help="Documents of the index that are not among this run's files are deleted after the run (counted in its record).")
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

if has_input and not api.EMBEDDERS.get(config["embedding_service"]).has("offline"):
    if st.button("Estimate tokens and cost", help="Parses and chunks the selected documents (nothing is embedded) and "
                 "counts their tokens the way the run records them."):
        try:
            with st.spinner("Parsing, chunking and counting tokens…"):
                estimate = api.ingest_estimate(config, files=files, api_keys=api_keys())
        except Exception as error:
            show_error(error, "The estimate")
        else:
            cost = "not in the price table" if estimate["cost"] is None else f"${estimate['cost']:,.4f}"
            st.info(f"Estimated before ingesting: {estimate['tokens']:,} tokens in {plural(estimate['texts'], 'chunk')} of "
                    f"{plural(estimate['documents'], 'document')}, cost {cost} (prices as of {estimate['price_table_as_of']}); "
                    f"counted by {estimate['method']}. Chunks already embedded are not sent again.")

if ingest_clicked:
    # The run goes on in a worker thread; this script thread redraws the DAG and the bars from what it reports
    # (no st.* call from the worker), so a long node shows running, with its time ticking, while it runs.
    live = LiveDag()
    bars: dict[str, st.delta_generator.DeltaGenerator] = {}
    progress_area = st.container()
    outcome: dict = {}
    run_keys = api_keys()
    listener = NodeStatusListener(live.node_event, on_batch_event=live.node_event)

    def run_ingest() -> None:
        try:
            outcome["record"] = api.ingest(config, files=files, api_keys=run_keys, adapters=[listener],
                                           progress=Progress(live.progress), sync=sync)
        except Exception as error:  # shown by the script thread below
            outcome["error"] = error

    def redraw() -> None:
        show_dag(dag_slot, status_digraph(graph, live.status(), live.details()))
        for step, (done, total) in dict(live.steps).items():
            if step not in bars:
                bars[step] = progress_area.progress(0.0, text=STEP_LABELS.get(step, step))
            bars[step].progress(min(1.0, done / total) if total else 1.0, text=f"{STEP_LABELS.get(step, step)}: {done} / {total}")

    with st.status("Ingesting…", expanded=True) as box:
        worker = threading.Thread(target=run_ingest, name="ingest", daemon=True)
        worker.start()
        while worker.is_alive():
            redraw()
            worker.join(REDRAW_SECONDS)
        redraw()
        if "error" in outcome:
            box.update(label="Ingestion failed", state="error")
            st.session_state.pop("ingest_last_record", None)  # the summary below must not be taken for this run's
            show_error(outcome["error"], "Ingestion")
            st.stop()
        record = outcome["record"]
        counts = record["counts"]
        failed = len(record["file_errors"])
        if failed:
            box.update(label=f"Run {record['run_id']} finished with errors: {plural(counts['written'], 'chunk')} written, "
                             f"{plural(failed, 'file')} failed", state="complete")
        else:
            box.update(label=f"Run {record['run_id']} finished: {plural(counts['written'], 'chunk')} written", state="complete")
    st.session_state["ingest_last_record"] = record

last_record = st.session_state.get("ingest_last_record")
if last_record:  # kept until the next run, so the summary survives reruns (a widget change, a download)
    outcome_key = "finished with errors" if last_record["file_errors"] else "succeeded"
    st.subheader(f"{STATUS_ICONS[outcome_key]} Run {last_record['run_id']}" + (" — finished with errors" if last_record["file_errors"] else ""))
    st.caption(f"{last_record['started_at']} → {last_record['finished_at']} · index "
               f"{last_record['config']['index_name']} ({last_record['config']['vector_db']})")
    run_counts(last_record["counts"])
    run_file_errors(last_record)
    with st.expander("Seconds per node"):
        run_timings(last_record)
    st.page_link("pages/runs.py", label="Open this run on the Runs page (config, DAG, chunks written)",
                 icon=":material/history:", query_params={"run": last_record["run_id"]})
