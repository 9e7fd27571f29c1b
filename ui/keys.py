"""API-key fields: the sidebar's session fields, a backend's own key field, and which key a picked backend lacks.

Secrets typed here live only in `st.session_state` for this browser session; a key from the environment or
secrets.toml is reported as set, never shown. Which keys exist comes from the backends' specs.
"""

from __future__ import annotations

import streamlit as st

from ragkit.backends import BackendSpec
from ragkit.redaction import register_secret
from workbench import api


def session_api_keys() -> dict[str, str]:
    """Keys typed into this session's password fields (never written anywhere): the sidebar's win over a backend's."""
    typed = {**st.session_state.get("store_api_keys", {}), **st.session_state.get("session_api_keys", {})}
    return {name: value for name, value in typed.items() if value}


def api_keys() -> dict[str, str]:
    """Keys for the flows: this session's, else the environment, else .streamlit/secrets.toml."""
    return api.resolve_api_keys(session_api_keys())


def _key_source(input_name: str) -> str:
    if session_api_keys().get(input_name):
        return "set for this session"
    return "set in the environment or secrets.toml" if api.resolve_api_keys({}).get(input_name) else "not set"


def _keep_backend_key(name: str, widget_key: str) -> None:
    """Keep a key typed beside a backend's settings for the session (the field itself is cleared when the page changes)."""
    keys = st.session_state.setdefault("store_api_keys", {})
    value = (st.session_state.get(widget_key) or "").strip()
    register_secret(value)  # redacted everywhere from the moment it is typed
    if value:
        keys[name] = value
    else:
        keys.pop(name, None)


def backend_key_field(spec: BackendSpec, widget_key: str) -> None:
    """A password field for a backend's API key beside its settings; says whether a key is set, never shows it."""
    if spec.api_key is None:
        return
    key = spec.api_key
    source = _key_source(key.input_name)
    st.text_input(f"{key.service} API key", type="password", key=widget_key, placeholder=source,
                  help=f"{key.env_var}: {source}{'' if key.required else ' (optional)'}. Kept for this browser session only.",
                  on_change=_keep_backend_key, args=(key.input_name, widget_key))


def api_key_fields() -> None:
    """Password fields for every API key in the sidebar; a key from the environment is reported as set, never shown."""
    with st.sidebar.expander("API keys", expanded=False):
        st.caption("Kept for this browser session only; never saved, logged or shown back.")
        environment_keys = api.resolve_api_keys({})
        keys = st.session_state.setdefault("session_api_keys", {})
        for name, key in api.known_api_keys().items():
            source = "set in the environment or secrets.toml" if environment_keys.get(name) else "not set"
            value = st.text_input(f"{key.service} API key", type="password", key=f"key_{name}",
                                  help=f"{key.env_var}: {source}", placeholder=source)
            register_secret(value.strip())  # redacted everywhere from the moment it is typed
            if value:
                keys[name] = value.strip()
            else:
                keys.pop(name, None)


def missing_key_for(spec: BackendSpec) -> str:
    """The environment variable of a backend's required key when no key is set for it, else ''."""
    key = spec.api_key
    if key and key.required and not api_keys().get(key.input_name):
        return key.env_var
    return ""
