"""Runs: every ingestion run — when, config, counts, timings, errors, its DAG — and the chunks it wrote."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.navigation import run_inside_app

run_inside_app()  # first: a page URL opened first on a fresh server goes through app.py

from ui.errors import show_error  # noqa: E402
from ui.index_picker import runs_or_stop, url_choice  # noqa: E402
from ui.keys import api_keys  # noqa: E402
from ui.run_dag import show_run_dag  # noqa: E402
from ui.run_summary import STATUS_ICONS, run_counts, run_file_errors, run_timings  # noqa: E402
from ui.safe_text import markdown_literal  # noqa: E402
from ui.wording import plural  # noqa: E402
from workbench import api  # noqa: E402

st.title("Runs")
records = runs_or_stop()
if not records:
    st.info("No runs yet. Ingest something first.")
    st.stop()

st.dataframe(
    pd.DataFrame([{"started": r["started_at"].replace("T", " ")[:19], "run": r["run_id"], "kind": r["kind"], "status": r["status"],
                   "index": f"{r['config'].get('index_name', '?')} ({r['config'].get('vector_db', '?')})",
                   "source": r["inputs"].get("source", ""), "written": r["counts"].get("written"),
                   "unchanged": r["counts"].get("skipped_unchanged"), "failed files": r["counts"].get("failed"),
                   "error": r["error"][:120]} for r in records]),
    hide_index=True, width="stretch", height=min(400, 38 + 35 * len(records)),
)

run_ids = [r["run_id"] for r in records]
wanted = st.query_params.get("run")
chosen = st.selectbox("Run", run_ids, index=run_ids.index(wanted) if wanted in run_ids else 0, key="runs_pick",
                      on_change=url_choice, args=("run", "runs_pick"),
                      format_func=lambda rid: f"{rid} · {next(r['status'] for r in records if r['run_id'] == rid)}")
record = next(r for r in records if r["run_id"] == chosen)

st.subheader(f"{STATUS_ICONS.get(record['status'], '')} {record['run_id']} — {record['status']}")
st.caption(f"{record['started_at']} → {record['finished_at'] or '…'} · {record['index_key']} · {record['code_version']}")
if record["error"]:
    st.error(markdown_literal(record["error"]))
run_counts(record["counts"])
run_file_errors(record)

config_tab, timing_tab, dag_tab, chunks_tab = st.tabs(["Config", "Timings", "DAG", "Chunks written"])
with config_tab:
    st.json({"config": record["config"], "inputs": record["inputs"]})
with timing_tab:
    run_timings(record)
with dag_tab:
    show_run_dag(record)
with chunks_tab:
    try:
        chunks = api.run_chunks(record["config"], record["run_id"], limit=200, api_keys=api_keys())
    except Exception as error:
        show_error(error, "Reading the run's chunks")
    else:
        st.caption(f"{plural(len(chunks), 'chunk')} written by this run {'is' if len(chunks) == 1 else 'are'} still stored "
                   "(at most 200 shown).")
        if chunks:
            st.dataframe(pd.DataFrame(chunks)[["source_name", "title", "page", "chunk_index", "char_start", "char_end",
                                               "text", "chunk_id", "ingested_at"]], hide_index=True, width="stretch")
