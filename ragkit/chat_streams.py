"""Chat completions from an OpenAI-compatible client (streamed, or whole), with its errors turned into one-line ServiceErrors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ragkit.errors import ServiceError


@contextmanager
def _service_errors(client: Any, key_env_var: str) -> Iterator[None]:
    """The OpenAI SDK's errors as one-line ServiceErrors naming the key's variable, never the key."""
    import openai

    try:
        yield
    except openai.AuthenticationError:
        raise ServiceError(f"The LLM endpoint rejected the API key (401). Check {key_env_var}.") from None
    except openai.APIStatusError as error:
        raise ServiceError(f"The LLM request failed ({error.status_code}): {error.message}") from None
    except openai.APIConnectionError:
        raise ServiceError(f"The LLM endpoint at {client.base_url} is not reachable. Is it running?") from None
    except openai.APIError as error:  # an error event inside the stream
        raise ServiceError(f"The LLM stream failed: {error.message}") from None
    except (ValueError, AttributeError, TypeError) as error:  # a 200 whose body is not a chat completion (not JSON)
        raise ServiceError(f"The LLM endpoint at {client.base_url} answered with something that is not an OpenAI chat "
                           f"completion ({type(error).__name__}). Check the base URL.") from None


def openai_chat_stream(client: Any, model: str, messages: list[dict], key_env_var: str) -> Iterator[str]:
    """The text pieces of a streamed chat completion (OpenAI, or any endpoint that speaks its API)."""
    pieces = 0
    with _service_errors(client, key_env_var):
        for event in client.chat.completions.create(model=model, messages=messages, stream=True):
            if event.choices and event.choices[0].delta.content:
                pieces += 1
                yield event.choices[0].delta.content
    if not pieces:  # an endpoint that answers 200 with no stream events (a proxy's page) has not answered
        raise ServiceError(f"The LLM endpoint at {client.base_url} streamed no text: its reply was empty or not an "
                           "OpenAI chat completion stream. Check the base URL and the model.")


def openai_chat_text(client: Any, model: str, messages: list[dict], key_env_var: str, max_tokens: int = 100) -> str:
    """The whole text of a short, deterministic (temperature 0) chat completion; "" when there are no messages."""
    if not messages:
        return ""
    with _service_errors(client, key_env_var):
        response = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=max_tokens)
    return (response.choices[0].message.content or "").strip() if response.choices else ""
