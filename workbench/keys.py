"""API keys: which ones a config needs, and where they come from — a session's field, the environment, secrets.toml.

Keys never enter the config (so a config can be stored and shown). The backends' specs declare them:
each spec's `api_key` names the driver input it arrives as and its environment variable.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ragkit.backends import ApiKey
from ragkit.errors import FileParseError, MissingApiKeyError
from ragkit.redaction import register_secrets
from ragkit.user_files import read_text_file
from workbench.config import REGISTRIES

# Which backend kinds a flow uses, so a query does not ask for the LLM's key and an ingestion not for the reranker's.
_KINDS_BY_PURPOSE = {
    "ingest": ("embedding_service", "vector_db"),
    "query": ("embedding_service", "vector_db", "reranker"),
    "evaluate": ("embedding_service", "vector_db", "reranker"),
    "answer": ("embedding_service", "vector_db", "reranker", "llm_service"),
}


def known_api_keys() -> dict[str, ApiKey]:
    """Every API key any registered backend takes, by driver input name."""
    found: dict[str, ApiKey] = {}
    for registry in REGISTRIES.values():
        for input_name, key in registry.api_keys().items():
            found.setdefault(input_name, key)
    return found


def api_key_env_vars() -> dict[str, str]:
    """The environment variable of each API key input ("openai_api_key" → "OPENAI_API_KEY")."""
    return {input_name: key.env_var for input_name, key in known_api_keys().items()}


def _secrets_toml() -> dict[str, Any]:
    path = Path(os.environ.get("WORKBENCH_SECRETS_TOML", ".streamlit/secrets.toml"))
    try:
        return tomllib.loads(read_text_file(path, 2**20, "secrets.toml is at most 1 MB"))  # a FIFO never blocks startup
    except (OSError, tomllib.TOMLDecodeError, FileParseError, UnicodeDecodeError, RecursionError):
        return {}


def resolve_api_keys(session_keys: Mapping[str, str] | None = None) -> dict[str, str]:
    """API keys by input name: a key typed in this session, else the environment, else secrets.toml, else "".

    Every key value seen on the way (the session's, the environment's and secrets.toml's, used or not) is
    registered with `ragkit.redaction`, so no message, log line, record or page can carry it.
    """
    session_keys = session_keys or {}
    toml_values = _secrets_toml()
    keys: dict[str, str] = {}
    for input_name, env_var in api_key_env_vars().items():
        candidates = (session_keys.get(input_name), os.environ.get(env_var), toml_values.get(env_var))
        register_secrets(str(value) for value in candidates if value)
        keys[input_name] = str(next((value for value in candidates if value), "")).strip()
    return keys


def required_api_keys(config: Mapping[str, Any], purpose: str = "ingest") -> list[ApiKey]:
    """The required keys of the backends a flow of this config uses (a key a backend takes optionally is not listed)."""
    needed = []
    for config_key in _KINDS_BY_PURPOSE[purpose]:
        key = REGISTRIES[config_key].get(config[config_key]).api_key
        if key and key.required:
            needed.append(key)
    return needed


def check_api_keys(config: Mapping[str, Any], api_keys: Mapping[str, str], purpose: str = "ingest") -> None:
    """MissingApiKeyError naming the service and the environment variable of the first required key that is not set."""
    for key in required_api_keys(config, purpose):
        if not api_keys.get(key.input_name):
            raise MissingApiKeyError(key.service, key.env_var)
