"""A backend's settings as widgets, drawn from its spec: a pick list for a field with choices, else a text field."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ragkit.backends import BackendSpec, SettingField


def setting_widget(setting: SettingField, spec: BackendSpec, key: str, data_dir: str) -> Any:
    """One setting's widget, keyed by page, backend and setting (`ingest_pinecone_namespace`), prefilled with its default."""
    widget_key = f"{key}_{spec.name}_{setting.name}"
    if setting.choices:
        return st.selectbox(setting.label, setting.choices, key=widget_key, help=setting.help or None)
    return st.text_input(setting.label, value=str(setting.default_for(data_dir)), key=widget_key, help=setting.help or None)


def backend_settings(spec: BackendSpec, key: str, data_dir: str) -> dict[str, Any]:
    """Every setting a backend declares, as widgets; the values by setting name."""
    return {setting.name: setting_widget(setting, spec, key, data_dir) for setting in spec.settings}
