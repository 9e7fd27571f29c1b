"""Chat with an index: answers streamed by the chosen LLM (or extracted offline), with numbered citations."""

from __future__ import annotations

import json

import streamlit as st

from ui.navigation import run_inside_app

run_inside_app()  # first: a page URL opened first on a fresh server goes through app.py

from ui.cards import source_panel  # noqa: E402
from ui.errors import show_error  # noqa: E402
from ui.index_picker import config_for_index, data_dir, index_picker, indexes_or_stop  # noqa: E402
from ui.keys import api_keys  # noqa: E402
from ui.llm_picker import llm_settings  # noqa: E402
from ui.retrieval_picker import retrieval_settings  # noqa: E402
from ui.safe_text import escape_text, markdown_literal  # noqa: E402
from workbench import api  # noqa: E402

st.title("Chat")
manifest = index_picker(indexes_or_stop(), key="chat_index")
if manifest is None:
    st.stop()

with st.sidebar:
    st.subheader("Answering")
    llm_config = llm_settings("chat", help="Offline: the best-matching sentences of the top chunks, labelled as extracted, "
                                           "not generated.")
    top_k = st.slider("Chunks retrieved", 1, 10, 5, key="chat_top_k")
    settings = retrieval_settings("chat", side_by_side=False, manifest=manifest)

# One conversation per index: switching the index shows that index's conversation, not another's. Each is stored in
# the catalog under the id in the URL (?chat=...), so a refresh or a shared link brings it back.
conversations: dict[str, list[dict]] = st.session_state.setdefault("chat_histories", {})
conversation_ids: dict[str, str] = st.session_state.setdefault("chat_ids", {})
history = conversations.setdefault(manifest["index_key"], [])
linked = st.query_params.get("chat")
if linked and not history and manifest["index_key"] not in conversation_ids:
    stored = api.conversation(linked, data_dir())
    if stored and stored["index_key"] == manifest["index_key"]:
        history.extend(stored["turns"])
        conversation_ids[manifest["index_key"]] = linked
with st.sidebar:
    if st.button("Clear conversation", help="Starts a new conversation with this index (the old one stays at its link)."):
        history.clear()
        conversation_ids.pop(manifest["index_key"], None)
        st.query_params.pop("chat", None)


def show_sources(turn: dict, position: int) -> None:
    """The numbered sources of an answer (each opens its text, and its page in the kept source), and what was sent to the model."""
    for number, chunk in enumerate(turn.get("sources", []), start=1):
        page = f", page {chunk['page']}" if chunk.get("page") else ""
        section = f" › {markdown_literal(chunk['section'])}" if chunk.get("section") else ""
        with st.expander(f"[{number}] {markdown_literal(chunk['title'])}{section} — {markdown_literal(chunk['source_name'])}{page} "
                         f"(score {chunk['score']:.3f})"):
            st.markdown(escape_text(chunk["text"]), unsafe_allow_html=True)
            st.caption(f"chunk {chunk['chunk_id']} · run {chunk['run_id']} · {chunk['model_name']}")
            if st.toggle("Open source", key=f"chat_source_{position}_{number}"):
                source_panel(config_for_index(manifest), chunk)
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


def show_searched(turn: dict) -> None:
    """What retrieval searched for, when it is not the question as asked (a follow-up made standalone)."""
    if turn.get("retrieval_question") and turn["retrieval_question"] != turn["content"].strip():
        st.caption(f"Searched for: {markdown_literal(turn['retrieval_question'])}")


for position, turn in enumerate(history):
    with st.chat_message(turn["role"]):
        if turn["role"] == "assistant":
            st.markdown(escape_text(turn["content"]), unsafe_allow_html=True)
            show_sources(turn, position)
        else:
            st.text(turn["content"])
            show_searched(turn)

question = st.chat_input("Ask the documents…")
if question:
    with st.chat_message("user"):
        st.text(question)
        searched = st.empty()  # filled once retrieval says what it searched for
    with st.chat_message("assistant"):
        try:
            result = api.answer({**config_for_index(manifest), **settings, **llm_config}, question,
                                history=[{key: t[key] for key in ("role", "content", "retrieval_question") if key in t}
                                         for t in history],
                                top_k=top_k, api_keys=api_keys())
            asked = {"role": "user", "content": question, "retrieval_question": result["retrieval_question"]}
            with searched.container():
                show_searched(asked)
            text = stream_safely(result["stream"])
        except Exception as error:
            show_error(error, "Answering")
        else:
            turn = {"role": "assistant", "content": text, "answer_kind": result["answer_kind"],
                    "sources": result["context_chunks"], "prompt": result["prompt_messages"]}
            show_sources(turn, len(history))
            history.extend([asked, turn])
            conversation_id = conversation_ids.setdefault(manifest["index_key"], api.new_conversation_id())
            try:
                api.save_conversation(conversation_id, manifest["index_key"], history, data_dir())
            except Exception as error:  # the answer is shown either way; only keeping it failed
                show_error(error, "Keeping the conversation")
            else:
                if st.query_params.get("chat") != conversation_id:
                    st.query_params["chat"] = conversation_id
