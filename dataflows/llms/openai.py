"""OpenAI chat models (`gpt-4o-mini` by default), streamed; the key is `openai_api_key`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hamilton.function_modifiers import config

from ragkit.chat_streams import openai_chat_stream, openai_chat_text
from ragkit.errors import MissingApiKeyError


@config.when(llm_service="openai")
def llm_client__openai(openai_api_key: str, llm_base_url: str = "") -> Any:
    """An OpenAI chat client (the SDK retries 429/5xx with backoff)."""
    from openai import OpenAI

    if not openai_api_key:
        raise MissingApiKeyError("OpenAI", "OPENAI_API_KEY")
    return OpenAI(api_key=openai_api_key, base_url=llm_base_url or None, max_retries=3, timeout=120)


@config.when(llm_service="openai")
def llm_answer_stream__openai(llm_client: Any, prompt_messages: list[dict], llm_model: str) -> Iterator[str]:
    """The answer from an OpenAI chat model, streamed as text pieces."""
    return openai_chat_stream(llm_client, llm_model, prompt_messages, "OPENAI_API_KEY")


@config.when(llm_service="openai")
def question_rewrite__openai(llm_client: Any, rewrite_messages: list[dict], llm_model: str) -> str:
    """The chat model's standalone rewrite of a follow-up question ("" without a conversation: nothing is sent)."""
    return openai_chat_text(llm_client, llm_model, rewrite_messages, "OPENAI_API_KEY")
