"""A run's DAG, readable: its function nodes in the Ingest page's style, coloured by what the run did, with the
run's settings in a table beside it rather than ~40 config inputs stacked in the picture."""

from __future__ import annotations

from typing import Any

import graphviz
import pandas as pd
import streamlit as st

from ui.dag_view import show_dag
from workbench import api


def _statuses(graph: Any, record: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """done (with its seconds) for each node the run timed, "done with errors" for the parse node when files failed;
    for a failed run, the first untimed node fed only by timed ones is the one that failed; the rest pending."""
    timings = record["timings"]
    status = {name: ("done", float(timings[name])) for name in graph.nodes if name in timings}
    if record["status"] in ("failed", "interrupted"):
        inputs = {name: [source for source, target in graph.edges if target == name] for name in graph.nodes}
        for name in graph.nodes:
            if name not in status and all(source in status for source in inputs[name]):
                status[name] = ("failed", 0.0)
                break
    if record["file_errors"] and "parsed_files" in status:  # the node where files fail one by one
        status["parsed_files"] = ("done with errors", status["parsed_files"][1])
    return status


def show_run_dag(record: dict[str, Any]) -> None:
    """The run's DAG (nodes and edges of its own config) beside the table of its settings; Hamilton's recorded picture,
    with every config input, in an expander."""
    picture, settings = st.columns([3, 2])
    try:
        graph = api.flow_graph(record["config"], "ingest")
    except Exception:  # a config today's code no longer builds: the recorded picture is all there is
        graph = None
    with picture:
        if graph is not None:
            show_dag(st, api.status_digraph(graph, _statuses(graph, record)))
            st.caption("Green: done (seconds in the node); orange: done, but some files failed in it; red: failed; "
                       "grey: not reached. The nodes in the batches are timed over every batch.")
        else:
            st.info("This run's config does not build with today's code; Hamilton's recorded picture is below.")
    with settings:
        st.dataframe(pd.DataFrame([{"setting": name, "value": str(value)} for name, value in sorted(record["config"].items())]),
                     hide_index=True, width="stretch", height=min(700, 38 + 35 * len(record["config"])))
    dot = record["dag_dot"]
    if dot.lstrip().startswith(("digraph", "//")) and "digraph" in dot:
        with st.expander("Hamilton's own picture of the run, with every config input (as recorded)"):
            show_dag(st, graphviz.Source(dot))
