"""Widgets every page shares: API-key fields, the stack picker, the index picker, result cards, errors.

Widgets build the same plain config dict as the CLI (`workbench.config`); pages hand it to the
driver layer. Secrets typed here live only in `st.session_state` for this browser session.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ragkit.errors import WorkbenchError
from ui.safe_text import escape_text, highlighted, markdown_literal
from ui.service_checks import weaviate_problem
from workbench import api
from workbench.config import (
    API_KEY_ENV_VARS,
    DEFAULT_MODELS,
    DEFAULTS,
    EMBEDDING_SERVICES,
    VECTOR_DBS,
    default_data_dir,
    resolve_api_keys,
)

SERVICE_LABELS = {"sentence_transformers": "sentence-transformers (local)", "openai": "OpenAI", "cohere": "Cohere"}
STORE_LABELS = {"lancedb": "LanceDB (embedded)", "weaviate": "Weaviate", "pinecone": "Pinecone"}
KEY_LABELS = {"openai_api_key": "OpenAI", "cohere_api_key": "Cohere", "pinecone_api_key": "Pinecone", "weaviate_api_key": "Weaviate",
              "llm_api_key": "OpenAI-compatible LLM"}
SERVICE_KEYS = {"openai": "openai_api_key", "cohere": "cohere_api_key"}
INDEX_NAME_LABELS = {"lancedb": "LanceDB table", "weaviate": "Weaviate collection", "pinecone": "Pinecone index"}


def data_dir() -> str:
    """The data folder of this app process ($WORKBENCH_DATA_DIR or ./data)."""
    return str(default_data_dir())


def session_api_keys() -> dict[str, str]:
    """Keys typed into this session's password fields (never written anywhere): the sidebar's win over a store's."""
    typed = {**st.session_state.get("store_api_keys", {}), **st.session_state.get("session_api_keys", {})}
    return {name: value for name, value in typed.items() if value}


def _keep_store_key(name: str, widget_key: str) -> None:
    """Keep a key typed in a store's settings for the session (the field itself is cleared when the page changes)."""
    keys = st.session_state.setdefault("store_api_keys", {})
    value = (st.session_state.get(widget_key) or "").strip()
    if value:
        keys[name] = value
    else:
        keys.pop(name, None)


def store_key_field(name: str, label: str, widget_key: str) -> None:
    """A password field for a store's API key beside its settings; says whether a key is set, never shows it."""
    source = "set for this session" if session_api_keys().get(name) else (
        "set in the environment or secrets.toml" if resolve_api_keys({}).get(name) else "not set")
    st.text_input(f"{label} API key", type="password", key=widget_key, placeholder=source,
                  help=f"{API_KEY_ENV_VARS[name]}: {source}. Kept for this browser session only.",
                  on_change=_keep_store_key, args=(name, widget_key))


def api_keys() -> dict[str, str]:
    """Keys for the dataflows: this session's, else the environment, else .streamlit/secrets.toml."""
    return resolve_api_keys(session_api_keys())


def api_key_fields() -> None:
    """Password fields for API keys in the sidebar; a key from the environment is reported as set, never shown."""
    with st.sidebar.expander("API keys", expanded=False):
        st.caption("Kept for this browser session only; never saved, logged or shown back.")
        environment_keys = resolve_api_keys({})
        keys = st.session_state.setdefault("session_api_keys", {})
        for name, label in KEY_LABELS.items():
            source = "set in the environment or secrets.toml" if environment_keys.get(name) else "not set"
            value = st.text_input(f"{label} API key", type="password", key=f"key_{name}",
                                  help=f"{API_KEY_ENV_VARS[name]}: {source}", placeholder=source)
            if value:
                keys[name] = value.strip()
            else:
                keys.pop(name, None)


def show_error(error: Exception, doing: str) -> None:
    """One clear message where the error happened; unexpected errors also name their type, without a traceback."""
    if isinstance(error, WorkbenchError):
        st.error(f"{doing} failed: {markdown_literal(str(error))}")  # messages may quote file names and content
    else:
        st.error(f"{doing} failed unexpectedly ({type(error).__name__}: {markdown_literal(str(error))}). The page is still usable; see the server log.")


def missing_key_for(service_or_store: str) -> str:
    """The name of the env var whose key is missing for a service or store, or ''."""
    input_name = {"openai": "openai_api_key", "cohere": "cohere_api_key", "pinecone": "pinecone_api_key"}.get(service_or_store)
    if input_name and not api_keys().get(input_name):
        return API_KEY_ENV_VARS[input_name]
    return ""


def stack_picker(key: str = "stack") -> dict[str, Any]:
    """Embedding service, model, store and its settings, chunking: the widgets that are the Hamilton config."""
    config: dict[str, Any] = {"data_dir": data_dir()}
    left, right = st.columns(2)
    with left:
        service = st.selectbox("Embedding service", EMBEDDING_SERVICES, format_func=SERVICE_LABELS.get, key=f"{key}_service")
        missing = missing_key_for(service)
        if missing:
            st.warning(f"{SERVICE_LABELS[service]} needs an API key: set {missing}, or enter it under API keys in the sidebar.")
        config["embedding_service"] = service
        config["model_name"] = st.text_input("Model", value=DEFAULT_MODELS[service], key=f"{key}_model_{service}",
                                             help="The service's default is filled in; any model of that service works.")
        config["chunk_size"] = st.number_input("Chunk size (characters)", 100, 8000, DEFAULTS["chunk_size"], 50, key=f"{key}_size")
        config["chunk_overlap"] = st.number_input("Chunk overlap (characters)", 0, 2000, DEFAULTS["chunk_overlap"], 10, key=f"{key}_overlap")
    with right:
        store = st.selectbox("Vector store", VECTOR_DBS, format_func=STORE_LABELS.get, key=f"{key}_store")
        config["vector_db"] = store
        config["index_name"] = st.text_input(INDEX_NAME_LABELS[store], value=DEFAULTS["index_name"], key=f"{key}_index",
                                             help="The name this index has in the store and in the workbench.")
        if store == "lancedb":
            config["vector_db_config"] = {"uri": st.text_input("LanceDB folder", value=f"{data_dir()}/lancedb", key=f"{key}_uri")}
        elif store == "weaviate":
            config["vector_db_config"] = {"url": st.text_input("Weaviate URL", value="http://localhost:8080", key=f"{key}_wurl",
                                                               help="A local server, or a Weaviate Cloud cluster URL (needs the key).")}
            store_key_field("weaviate_api_key", "Weaviate", f"{key}_weaviate_key")
            problem = weaviate_problem(config["vector_db_config"]["url"])
            if problem:
                st.warning(problem)
        else:
            config["vector_db_config"] = {
                "namespace": st.text_input("Pinecone namespace", value="default", key=f"{key}_ns"),
                "cloud": st.selectbox("Pinecone cloud", ["aws", "gcp", "azure"], key=f"{key}_cloud"),
                "region": st.text_input("Pinecone region", value="us-east-1", key=f"{key}_region"),
            }
            store_key_field("pinecone_api_key", "Pinecone", f"{key}_pinecone_key")
            if missing_key_for("pinecone"):
                st.warning("Pinecone needs an API key: set PINECONE_API_KEY, or enter it above or under API keys in the sidebar.")
    return config


def plural(count: int, noun: str) -> str:
    """'1 chunk', '2 chunks', '1,200 chunks'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def index_label(manifest: dict[str, Any]) -> str:
    """A short human name for an index."""
    return (f"{manifest['index_name']} · {manifest['vector_db']} · {manifest['model_name']} "
            f"({plural(manifest['chunk_count'], 'chunk')})")


def indexes_or_stop() -> list[dict[str, Any]]:
    """The manifests of this data folder; if the catalog cannot be read, say why and stop the page."""
    try:
        return api.indexes(data_dir())
    except Exception as error:
        show_error(error, "Reading the catalog of indexes")
        st.stop()


def runs_or_stop(limit: int = 500) -> list[dict[str, Any]]:
    """The run records of this data folder, newest first; if the catalog cannot be read, say why and stop the page."""
    try:
        return api.runs(data_dir(), limit=limit)
    except Exception as error:
        show_error(error, "Reading the run records")
        st.stop()


def config_for_index(manifest: dict[str, Any]) -> dict[str, Any]:
    """The query config of an existing index: its store, settings and name (the model comes from its manifest)."""
    return {"vector_db": manifest["vector_db"], "vector_db_config": manifest["vector_db_config"],
            "index_name": manifest["index_name"], "data_dir": data_dir()}


def url_choice(param: str, key: str) -> None:
    """Put a choice the person just made into the URL (?param=...), so a refresh or a shared link keeps it.

    Called only when the person changes the widget: Streamlit pushes a browser-history entry for every
    URL change, and a page that wrote its default into the URL on each load would trap the back button.
    """
    st.query_params[param] = st.session_state[key]


def index_picker(manifests: list[dict[str, Any]], label: str = "Index", key: str = "index", param: str = "index") -> dict[str, Any] | None:
    """Pick an index; the choice is kept in the URL (?index=...), so a refresh or a shared link keeps it, and in the
    session, so leaving the page and coming back (the sidebar drops the URL's parameters) keeps it too."""
    if not manifests:
        st.info("No index yet. Ingest documents first (Ingest page, or “Try it” on Home).")
        return None
    keys = [m["index_key"] for m in manifests]
    remembered = f"picked_{param}"
    wanted = st.query_params.get(param) or st.session_state.get(remembered)
    default = keys.index(wanted) if wanted in keys else 0
    chosen = st.selectbox(label, keys, index=default, key=key, on_change=url_choice, args=(param, key),
                          format_func=lambda k: index_label(manifests[keys.index(k)]))
    st.session_state[remembered] = chosen
    return manifests[keys.index(chosen)]


def result_card(rank: int, hit: dict[str, Any], question: str, marker: str = "", side: str = "") -> None:
    """One hit: rank, score, title, source, page, the matched text with query terms highlighted, and its lineage."""
    with st.container(border=True, key=f"hit{side}_{rank}"):
        page = f" · page {hit['page']}" if hit.get("page") else ""
        st.markdown(
            f"**{rank}.** {marker}score **{hit['score']:.3f}** · **{escape_text(hit['title'])}** · "
            f"{escape_text(hit['source_name'])}{page}",
            unsafe_allow_html=True,
        )
        st.markdown(f"<div class='hit-text'>{highlighted(hit['text'], question)}</div>", unsafe_allow_html=True)
        with st.expander("Lineage"):
            st.json({name: hit.get(name) for name in (
                "chunk_id", "document_id", "run_id", "embedding_service", "model_name", "dimension", "ingested_at",
                "chunk_index", "char_start", "char_end", "content_hash")})


RETRIEVAL_MODES = {"dense": "Dense (vectors)", "lexical": "Lexical (BM25 / full text)", "hybrid": "Hybrid (fused)"}


def retrieval_settings(key: str, side_by_side: bool = True) -> dict[str, Any]:
    """Retrieval mode (dense, lexical, hybrid) and reranker: query-time settings that leave the index as it is.

    Side by side on a page; one under the other in the narrow sidebar, where two columns truncate the values.
    """
    settings: dict[str, Any] = {}
    left, right = st.columns(2) if side_by_side else (st.container(), st.container())
    settings["retrieval_mode"] = left.selectbox("Retrieval mode", list(RETRIEVAL_MODES), format_func=RETRIEVAL_MODES.get,
                                                key=f"{key}_mode")
    settings["reranker"] = right.selectbox("Reranker", ["none", "cross_encoder", "cohere"], key=f"{key}_reranker",
                                           help="Re-scores the top candidates; its latency is shown beside the results.")
    if settings["reranker"] == "cross_encoder":
        settings["reranker_model"] = right.text_input("Cross-encoder (local path or model name)", key=f"{key}_ce")
    return settings


COUNT_LABELS = {"read": "Read", "chunked": "Chunked", "embedded": "Embedded", "embedded_by_model": "Model calls",
                "written": "Written", "skipped_unchanged": "Unchanged", "deleted_stale": "Replaced", "failed": "Failed files"}
COUNT_HELP = {"embedded_by_model": "Chunks the model embedded in this run; the rest came from the embedding cache.",
              "skipped_unchanged": "Chunks already stored with the same content: not embedded or written again.",
              "deleted_stale": "Old chunks of changed documents, removed."}
STATUS_ICONS = {"succeeded": ":material/check_circle:", "failed": ":material/error:", "interrupted": ":material/warning:",
                "running": ":material/hourglass_top:"}


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
