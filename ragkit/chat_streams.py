"""Streaming a chat answer from an OpenAI-compatible client, with its errors turned into one-line ServiceErrors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ragkit.errors import ServiceError


def openai_chat_stream(client: Any, model: str, messages: list[dict], key_env_var: str) -> Iterator[str]:
    """The text pieces of a streamed chat completion (OpenAI, or any endpoint that speaks its API)."""
    import openai

    try:
        for event in client.chat.completions.create(model=model, messages=messages, stream=True):
            if event.choices and event.choices[0].delta.content:
                yield event.choices[0].delta.content
    except openai.AuthenticationError:
        raise ServiceError(f"The LLM endpoint rejected the API key (401). Check {key_env_var}.") from None
    except openai.APIStatusError as error:
        raise ServiceError(f"The LLM request failed ({error.status_code}): {error.message}") from None
    except openai.APIConnectionError:
        raise ServiceError(f"The LLM endpoint at {client.base_url} is not reachable. Is it running?") from None
    except openai.APIError as error:  # an error event inside the stream
        raise ServiceError(f"The LLM stream failed: {error.message}") from None
