"""A search hit as a card: rank, score, title, section path, source, page, the matched text with query terms highlighted, its lineage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui.safe_text import escape_text, highlighted
from workbench import api


def result_card(rank: int, hit: dict[str, Any], question: str, marker: str = "", side: str = "",
                controls: Callable[[dict[str, Any]], None] | None = None, config: dict[str, Any] | None = None) -> None:
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
        if config is not None and st.toggle("Open source", key=f"source{side}_{rank}_{hit['chunk_id']}"):
            source_panel(config, hit)
        if controls is not None:
            controls(hit)


def source_panel(config: dict[str, Any], hit: dict[str, Any]) -> None:
    """The hit in its kept source: the PDF page with the chunk highlighted, or the text around it (shown as text)."""
    try:
        shown = api.source_view(config, hit)
    except Exception as error:  # an unreadable file: say so, keep the page
        st.warning(f"The source cannot be shown: {type(error).__name__}")
        return
    if shown["kind"] == "pdf":
        found = "the chunk highlighted" if shown["boxes"] else "the chunk's text not found on it"
        st.image(shown["image"], caption=f"page {shown['page']} of {shown['pages']}, {found}")
    elif shown["kind"] == "text":
        st.markdown(f"<div class='hit-text'>…{escape_text(shown['before'])}<mark>{escape_text(shown['match'])}</mark>"
                    f"{escape_text(shown['after'])}…</div>", unsafe_allow_html=True)
    else:
        st.info(shown["reason"])
