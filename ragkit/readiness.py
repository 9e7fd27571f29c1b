"""Readiness checks that backend specs point at: one short request each, '' when usable, else a sentence saying what to do.

Pages show the sentence beside the option (cached briefly) instead of failing later inside a run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx

CHECK_TIMEOUT_S = 1.5


def answers(url: str, headers: dict[str, str] | None = None) -> str:
    """'' when `url` answers with any HTTP status below 500, else the reason it did not."""
    try:
        response = httpx.get(url, timeout=CHECK_TIMEOUT_S, headers=headers or {})
    except httpx.HTTPError as error:
        return type(error).__name__
    return "" if response.status_code < 500 else f"HTTP {response.status_code}"


def weaviate_problem(settings: dict) -> str:
    """Whether a Weaviate server answers its readiness probe at `settings['url']` (cloud clusters need a key, checked at connect)."""
    url = str(settings.get("url") or "").strip().rstrip("/")
    if not url:
        return "Give the Weaviate URL (http://localhost:8080 for a local server, or a Weaviate Cloud cluster URL)."
    if ".weaviate.cloud" in url or ".weaviate.network" in url:
        return ""  # a cluster's probe needs the key; the connection itself reports a bad URL or key
    reason = answers(f"{url if '://' in url else 'http://' + url}/v1/.well-known/ready")
    return (f"No Weaviate answers at {url} ({reason}). Start one (docker run -p 8080:8080 -p 50051:50051 "
            "cr.weaviate.io/semitechnologies/weaviate) or pick another store.") if reason else ""


def llm_endpoint_problem(settings: dict) -> str:
    """Whether an OpenAI-compatible endpoint (Ollama, vLLM) answers at `settings['llm_base_url']`."""
    base_url = str(settings.get("llm_base_url") or "").strip().rstrip("/")
    if not base_url:
        return "Give the endpoint's base URL, e.g. http://localhost:11434/v1 for Ollama."
    reason = answers(f"{base_url}/models")
    return (f"No OpenAI-compatible endpoint answers at {base_url} ({reason}). Start it (e.g. `ollama serve`), "
            "or choose the offline mode.") if reason else ""


def llama_cpp_problem(settings: dict) -> str:
    """Whether the opt-in local LLM extra is installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        return ("The local LLM is an opt-in extra: pip install -r requirements-llm.txt (builds llama-cpp-python, "
                "about 9 minutes). Until then, choose another LLM or the offline mode.")
    path = str(settings.get("llm_model_path") or "")
    if path and not Path(path).expanduser().is_file():
        return f"GGUF model file {path}: no such file."
    return ""
