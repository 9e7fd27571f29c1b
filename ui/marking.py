"""Marking a hit relevant or not relevant for the question searched, and undoing it (Retrieve and Compare)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from ui.errors import show_error
from workbench import api


def _apply(action: Callable[[], dict[str, Any]], done: str) -> None:
    try:
        summary = action()
    except Exception as error:
        show_error(error, "Marking the hit")
        return
    st.toast(f"{done} · question set {summary['name']}: {summary['questions']} questions "
             f"({summary['relevant_marks']} relevant, {summary['not_relevant_marks']} not relevant marks)")


def mark_controls(config: Mapping[str, Any], question: str, marked: Mapping[str, bool], key: str) -> Callable[[dict], None]:
    """The controls drawn under a hit: mark relevant / not relevant, or the mark made and Undo."""

    def controls(hit: dict[str, Any]) -> None:
        chunk_id = hit["chunk_id"]
        state, undo = st.columns([3, 1]) if chunk_id in marked else st.columns(2)
        if chunk_id in marked:
            state.caption("✓ marked relevant" if marked[chunk_id] else "✗ marked not relevant")
            undo.button("Undo", key=f"{key}_undo_{chunk_id}", on_click=_apply,
                        args=(lambda: api.unmark_hit(config, question, chunk_id), "Mark undone"))
            return
        state.button("✓ Relevant", key=f"{key}_yes_{chunk_id}", on_click=_apply,
                     args=(lambda: api.mark_hit(config, question, hit, True), "Marked relevant"),
                     help="Adds this question, with this chunk as its answer, to the index's marked question set.")
        undo.button("✗ Not relevant", key=f"{key}_no_{chunk_id}", on_click=_apply,
                    args=(lambda: api.mark_hit(config, question, hit, False), "Marked not relevant"))

    return controls
