"""Chat with an index: answers streamed by the chosen LLM (or extracted offline), with numbered citations."""

from __future__ import annotations

import json

import streamlit as st

from ui.backend_fields import backend_settings
from ui.errors import show_error
from ui.index_picker import config_for_index, data_dir, index_picker, indexes_or_stop
from ui.keys import api_keys, missing_key_for
from ui.navigation import run_inside_app
from ui.retrieval_picker import retrieval_settings
from ui.safe_text import escape_text, markdown_literal
from ui.service_checks import show_backend_problem
from workbench import api

run_inside_app()  # a page URL opened first on a fresh server still goes through app.py

st.title("Chat")
manifest = index_picker(indexes_or_stop(), key="chat_index")
if manifest is None:
    st.stop()

with st.sidebar:
    st.subheader("Answering")
    llm_service = st.selectbox("LLM", api.LLMS.names(), format_func=lambda name: api.LLMS.get(name).label, key="chat_llm",
                               help="Offline: the best-matching sentences of the top chunks, labelled as extracted, not generated.")
    llm = api.LLMS.get(llm_service)
    llm_config = {"llm_service": llm_service}
    if llm.default_model:
        llm_config["llm_model"] = st.text_input("Model", value=llm.default_model, key=f"chat_model_{llm_service}")
    llm_config.update(backend_settings(llm, "chat", data_dir()))
    show_backend_problem("llm_service", llm_service, llm_config)
    missing = missing_key_for(llm)
    if missing:
        st.warning(f"{llm.label} needs {missing} (environment, secrets.toml or API keys above). "
                   "Until then, choose the offline mode.")
    top_k = st.slider("Chunks retrieved", 1, 10, 5, key="chat_top_k")
    settings = retrieval_settings("chat", side_by_side=False)

# One conversation per index: switching the index shows that index's conversation, not another's.
conversations: dict[str, list[dict]] = st.session_state.setdefault("chat_histories", {})
history = conversations.setdefault(manifest["index_key"], [])
with st.sidebar:
    if st.button("Clear conversation", help="Clears the conversation with this index only."):
        history.clear()


def show_sources(turn: dict) -> None:
    """The numbered sources of an answer (each opens its text), and what was sent to the model."""
    for number, chunk in enumerate(turn.get("sources", []), start=1):
        page = f", page {chunk['page']}" if chunk.get("page") else ""
        section = f" › {markdown_literal(chunk['section'])}" if chunk.get("section") else ""
        with st.expander(f"[{number}] {markdown_literal(chunk['title'])}{section} — {markdown_literal(chunk['source_name'])}{page} "
                         f"(score {chunk['score']:.3f})"):
            st.markdown(escape_text(chunk["text"]), unsafe_allow_html=True)
            st.caption(f"chunk {chunk['chunk_id']} · run {chunk['run_id']} · {chunk['model_name']}")
    if turn.get("prompt"):
        with st.expander("Retrieval and prompt sent"):
            st.code(json.dumps(turn["prompt"], indent=2, ensure_ascii=False), language="json")


def stream_safely(pieces) -> str:
    """Show an answer as it streams, as escaped text (answers may quote untrusted documents); returns the full text."""
    slot, text = st.empty(), ""
    for piece in pieces:
        text += piece
        slot.markdown(escape_text(text) + "▌", unsafe_allow_html=True)
    slot.markdown(escape_text(text), unsafe_allow_html=True)
    return text


for turn in history:
    with st.chat_message(turn["role"]):
        if turn["role"] == "assistant":
            st.markdown(escape_text(turn["content"]), unsafe_allow_html=True)
            show_sources(turn)
        else:
            st.text(turn["content"])

question = st.chat_input("Ask the documents…")
if question:
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        try:
            result = api.answer({**config_for_index(manifest), **settings, **llm_config}, question,
                                   history=[{"role": t["role"], "content": t["content"]} for t in history],
                                   top_k=top_k, api_keys=api_keys())
            text = stream_safely(result["stream"])
        except Exception as error:
            show_error(error, "Answering")
        else:
            turn = {"role": "assistant", "content": text,
                    "sources": result["context_chunks"], "prompt": result["prompt_messages"]}
            show_sources(turn)
            history.extend([{"role": "user", "content": question}, turn])
