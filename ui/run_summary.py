"""A run's summary as widgets: its counts, the files that failed, seconds per node, the status icons."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.safe_text import markdown_literal

COUNT_LABELS = {"read": "Read", "chunked": "Chunked", "embedded": "Embedded", "embedded_by_model": "Model calls",
                "written": "Written", "skipped_unchanged": "Unchanged", "skipped_files": "Unchanged files", "deleted_stale": "Replaced",
                "failed": "Failed files"}
COUNT_HELP = {"embedded_by_model": "Chunks the model embedded in this run; the rest came from the embedding cache.",
              "skipped_unchanged": "Chunks already stored with the same content: not embedded or written again.",
              "skipped_files": "Files with the bytes they had when stored (same settings, their chunks still in the index): "
                               "not parsed or chunked again; their chunks count as unchanged.",
              "deleted_stale": "Old chunks of changed documents, removed."}
STATUS_ICONS = {"succeeded": ":material/check_circle:", "failed": ":material/error:", "interrupted": ":material/warning:",
                "running": ":material/hourglass_top:", "finished with errors": ":material/warning:"}


def run_counts(counts: dict[str, int]) -> None:
    """A run's counts as one row of metrics, in pipeline order, with short labels."""
    names = [name for name in COUNT_LABELS if name in counts] + [name for name in counts if name not in COUNT_LABELS]
    for column, name in zip(st.columns(max(1, len(names))), names):
        column.metric(COUNT_LABELS.get(name, name.replace("_", " ")), f"{counts[name]:,}", help=COUNT_HELP.get(name))


def run_file_errors(record: dict[str, Any]) -> None:
    """Each file that failed in a run, by name, with the reason."""
    for error in record["file_errors"]:
        st.error(f"**{markdown_literal(error['source_name'])}** was not ingested: {markdown_literal(error['reason'])}")


def run_timings(record: dict[str, Any]) -> None:
    """Seconds spent in each node of a run, slowest first."""
    st.dataframe(pd.DataFrame(sorted(record["timings"].items(), key=lambda item: -item[1]), columns=["node", "seconds"]),
                 hide_index=True, width="stretch")
