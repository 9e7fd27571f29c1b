"""A search hit as a card: rank, score, title, section path, source, page, the matched text with query terms highlighted, its lineage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui.safe_text import escape_text, highlighted


def result_card(rank: int, hit: dict[str, Any], question: str, marker: str = "", side: str = "",
                controls: Callable[[dict[str, Any]], None] | None = None) -> None:
    """One hit: rank, score, title, section path, source, page, the matched text with query terms highlighted, its
    lineage, and the controls drawn under it (marking it relevant or not)."""
    with st.container(border=True, key=f"hit{side}_{rank}"):
        page = f" · page {hit['page']}" if hit.get("page") else ""
        section = f" · <span class='hit-section'>{escape_text(hit['section'])}</span>" if hit.get("section") else ""
        st.markdown(
            f"**{rank}.** {marker}score **{hit['score']:.3f}** · **{escape_text(hit['title'])}**{section} · "
            f"{escape_text(hit['source_name'])}{page}",
            unsafe_allow_html=True,
        )
        st.markdown(f"<div class='hit-text'>{highlighted(hit['text'], question)}</div>", unsafe_allow_html=True)
        # in a container keyed by the chunk: a lineage opened on this search's card is not open on the next search's
        with st.container(key=f"lineage{side}_{hit['chunk_id']}"), st.expander("Lineage"):
            st.json({name: hit.get(name) for name in (
                "chunk_id", "document_id", "run_id", "embedding_service", "model_name", "dimension", "ingested_at",
                "chunk_index", "char_start", "char_end", "content_hash")})
        if controls is not None:
            controls(hit)
