"""The stack picker: embedding service, model, store and its settings, chunking — the widgets that are the Hamilton config.

The choices, labels, settings fields, key fields and readiness checks all come from the registries, so a
newly registered backend appears here with no change to this module.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ragkit.backends import BackendSpec
from ui.backend_fields import backend_settings
from ui.index_picker import data_dir
from ui.keys import backend_key_field, missing_key_for
from ui.service_checks import show_backend_problem
from workbench import api


def _missing_key_warning(spec: BackendSpec, field_beside: bool = False) -> None:
    """Say which key a picked backend lacks and where to give it (the page still works)."""
    missing = missing_key_for(spec)
    if missing:
        st.warning(f"{spec.label} needs an API key: set {missing}, or enter it {'above or ' if field_beside else ''}"
                   "under API keys in the sidebar.")


def stack_picker(key: str = "stack") -> dict[str, Any]:
    """Embedding service, model, store and its settings, chunking: the widgets that are the Hamilton config."""
    config: dict[str, Any] = {"data_dir": data_dir()}
    left, right = st.columns(2)
    with left:
        service = st.selectbox("Embedding service", api.EMBEDDERS.names(), key=f"{key}_service",
                               format_func=lambda name: api.EMBEDDERS.get(name).label)
        embedder = api.EMBEDDERS.get(service)
        _missing_key_warning(embedder)
        config["embedding_service"] = service
        config["model_name"] = st.text_input("Model", value=embedder.default_model, key=f"{key}_model_{service}",
                                             help="The service's default is filled in; any model of that service works.")
        if embedder.settings:
            with st.expander(f"{embedder.label} settings"):
                config.update(backend_settings(embedder, key, data_dir()))
        config["chunk_size"] = st.number_input("Chunk size (characters)", 100, 8000, api.DEFAULTS["chunk_size"], 50, key=f"{key}_size")
        config["chunk_overlap"] = st.number_input("Chunk overlap (characters)", 0, 2000, api.DEFAULTS["chunk_overlap"], 10,
                                                  key=f"{key}_overlap")
        with st.expander("Extraction and structure"):
            parsers = list(api.PDF_PARSERS)
            config["pdf_parser"] = st.selectbox("PDF parser", parsers, parsers.index(api.DEFAULTS["pdf_parser"]),
                                                key=f"{key}_pdf_parser", help="pypdf (pure Python) or pypdfium2 (PDFium)")
            for name, label, help in (
                ("clean_pdf_text", "Clean PDF text", "Join letter-spaced runs, rejoin hyphenated words, drop running headers and footers"),
                ("chunk_by_sections", "Cut chunks at headings", "Every chunk records its section path either way"),
                ("keep_slides", "One chunk per slide", "In a slide deck, a slide stays one chunk instead of being packed with the next"),
                ("contextual_headers", "Contextual headers", "Embed and index 'title › section' before each chunk (the text shown is the chunk)"),
            ):
                config[name] = st.checkbox(label, api.DEFAULTS[name], key=f"{key}_{name}", help=help)
    with right:
        name = st.selectbox("Vector store", api.STORES.names(), key=f"{key}_store", format_func=lambda n: api.STORES.get(n).label)
        store = api.STORES.get(name)
        config["vector_db"] = name
        config["index_name"] = st.text_input(store.index_label, value=api.DEFAULTS["index_name"], key=f"{key}_index",
                                             help="The name this index has in the store and in the workbench.")
        config["vector_db_config"] = backend_settings(store, key, data_dir())
        backend_key_field(store, f"{key}_{name}_key")
        show_backend_problem("vector_db", name, config["vector_db_config"])
        _missing_key_warning(store, field_beside=True)
    return config
