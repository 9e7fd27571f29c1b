"""Any OpenAI-compatible chat endpoint (Ollama, vLLM, LM Studio) at `llm_base_url`, with its own key (`llm_api_key`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hamilton.function_modifiers import config

from ragkit.chat_streams import openai_chat_stream, openai_chat_text


@config.when(llm_service="openai_compatible")
def llm_client__openai_compatible(llm_base_url: str, llm_api_key: str = "") -> Any:
    """A client for any OpenAI-compatible endpoint (Ollama, vLLM, LM Studio) at `llm_base_url`, with its own key (LLM_API_KEY), never the OpenAI one."""
    from openai import OpenAI

    return OpenAI(api_key=llm_api_key or "not-needed", base_url=llm_base_url, max_retries=1, timeout=300)


@config.when(llm_service="openai_compatible")
def llm_answer_stream__openai_compatible(llm_client: Any, prompt_messages: list[dict], llm_model: str) -> Iterator[str]:
    """The answer from the endpoint's chat model, streamed as text pieces."""
    return openai_chat_stream(llm_client, llm_model, prompt_messages, "LLM_API_KEY")


@config.when(llm_service="openai_compatible")
def question_rewrite__openai_compatible(llm_client: Any, rewrite_messages: list[dict], llm_model: str) -> str:
    """The chat model's standalone rewrite of a follow-up question ("" without a conversation: nothing is sent)."""
    return openai_chat_text(llm_client, llm_model, rewrite_messages, "LLM_API_KEY")
