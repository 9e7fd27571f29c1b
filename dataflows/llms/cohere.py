"""Cohere chat models (`command-r-08-2024` by default, v2 API), streamed; the key is `cohere_api_key`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hamilton.function_modifiers import config

from ragkit.errors import MissingApiKeyError, ServiceError


@config.when(llm_service="cohere")
def llm_client__cohere(cohere_api_key: str, cohere_base_url: str = "") -> Any:
    """A Cohere v2 chat client (streamed chat is not retried by the SDK: a 429 fails at once)."""
    import cohere

    if not cohere_api_key:
        raise MissingApiKeyError("Cohere", "COHERE_API_KEY")
    return cohere.ClientV2(api_key=cohere_api_key, base_url=cohere_base_url or None, max_retries=3, timeout=120)


@contextmanager
def _service_errors() -> Iterator[None]:
    """Cohere's errors as one-line ServiceErrors naming the key's variable, never the key."""
    import cohere

    try:
        yield
    except cohere.errors.UnauthorizedError:
        raise ServiceError("Cohere rejected the API key (401). Check COHERE_API_KEY.") from None
    except cohere.core.api_error.ApiError as error:
        raise ServiceError(f"Cohere chat failed ({error.status_code}).") from None


@config.when(llm_service="cohere")
def question_rewrite__cohere(llm_client: Any, rewrite_messages: list[dict], llm_model: str) -> str:
    """The Cohere chat model's standalone rewrite of a follow-up question ("" without a conversation: nothing is sent)."""
    if not rewrite_messages:
        return ""
    with _service_errors():
        response = llm_client.chat(model=llm_model, messages=rewrite_messages, temperature=0, max_tokens=100)
    return "".join(getattr(part, "text", "") for part in response.message.content or []).strip()


@config.when(llm_service="cohere")
def llm_answer_stream__cohere(llm_client: Any, prompt_messages: list[dict], llm_model: str) -> Iterator[str]:
    """The answer from a Cohere chat model, streamed as text pieces."""

    def stream() -> Iterator[str]:
        with _service_errors():
            for event in llm_client.chat_stream(model=llm_model, messages=prompt_messages):
                if event.type == "content-delta":
                    yield event.delta.message.content.text

    return stream()
