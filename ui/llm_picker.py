"""Picking the LLM (Chat's answers, generated questions): the service, its model and settings, and what it still needs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.backend_fields import backend_settings
from ui.index_picker import data_dir
from ui.keys import missing_key_for
from ui.service_checks import show_backend_problem
from workbench import api


def llm_settings(page: str, services: list[str] | None = None, help: str = "") -> dict[str, Any]:
    """The LLM widgets of a page (keys `{page}_llm`, `{page}_model_{service}`); the config keys they set."""
    names = services or api.LLMS.names()
    llm_service = st.selectbox("LLM", names, format_func=lambda name: api.LLMS.get(name).label, key=f"{page}_llm",
                               help=help or None)
    llm = api.LLMS.get(llm_service)
    config: dict[str, Any] = {"llm_service": llm_service}
    if llm.default_model:
        config["llm_model"] = st.text_input("Model", value=llm.default_model, key=f"{page}_model_{llm_service}")
    config.update(backend_settings(llm, page, data_dir()))
    show_backend_problem("llm_service", llm_service, config)
    missing = missing_key_for(llm)
    if missing:
        st.warning(f"{llm.label} needs {missing} (environment, secrets.toml or API keys above)."
                   + (" Until then, choose the offline mode." if "extractive" in names else ""))
    return config
