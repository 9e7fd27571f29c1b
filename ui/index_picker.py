"""Picking an existing index (kept in the URL and the session), and reading the catalog for a page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.errors import show_error
from ui.wording import plural
from workbench import api


def data_dir() -> str:
    """The data folder of this app process ($WORKBENCH_DATA_DIR or ./data)."""
    return str(api.default_data_dir())


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


def index_picker(manifests: list[dict[str, Any]], label: str = "Index", key: str = "index", param: str = "index",
                 default_position: int = 0) -> dict[str, Any] | None:
    """Pick an index; the choice is kept in the URL (?index=...), so a refresh or a shared link keeps it, and in the
    session, so leaving the page and coming back (the sidebar drops the URL's parameters) keeps it too. A URL naming
    no index of this data folder says so (it does not fall back silently). Without either, the index at
    `default_position` is picked (Compare's right side: the second index, so the two sides differ)."""
    if not manifests:
        st.info("No index yet. Ingest documents first (Ingest page, or “Try it” on Home).")
        return None
    keys = [m["index_key"] for m in manifests]
    remembered = f"picked_{param}"
    from_url = st.query_params.get(param)
    if from_url and from_url not in keys:
        st.warning(f"The link names an index that is not in this data folder ({from_url[-80:]}); pick one below.")
    wanted = from_url if from_url in keys else st.session_state.get(remembered)
    default = keys.index(wanted) if wanted in keys else min(default_position, len(keys) - 1)
    chosen = st.selectbox(label, keys, index=default, key=key, on_change=url_choice, args=(param, key),
                          format_func=lambda k: index_label(manifests[keys.index(k)]))
    st.session_state[remembered] = chosen
    return manifests[keys.index(chosen)]
