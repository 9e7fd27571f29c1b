"""A backend's readiness check (declared by its spec) run before a person uses it, cached briefly."""

from __future__ import annotations

import json

import streamlit as st

from workbench import api


@st.cache_data(ttl=20, show_spinner=False)
def _problem(config_key: str, name: str, settings_json: str) -> str:
    return api.REGISTRIES[config_key].get(name).problem(json.loads(settings_json))


def backend_problem(config_key: str, name: str, settings: dict) -> str:
    """'' when the picked backend looks usable with these settings, else one sentence on what is missing and what to do."""
    return _problem(config_key, name, json.dumps(settings, sort_keys=True, default=str))


def show_backend_problem(config_key: str, name: str, settings: dict) -> None:
    """The readiness check's sentence as a warning beside the option, when there is one."""
    problem = backend_problem(config_key, name, settings)
    if problem:
        st.warning(problem)
