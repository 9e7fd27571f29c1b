"""OpenAI embeddings (`text-embedding-3-small` by default), through the official client; the key is `openai_api_key`."""

from __future__ import annotations

from typing import Any

import numpy as np
from hamilton.function_modifiers import config

from ragkit.errors import MissingApiKeyError, ServiceError
from ragkit.schema import Progress
from ragkit.vectors import TokenCounts, embed_in_batches

API_MAX_RETRIES = 4
_DEFAULT_BATCH_SIZE = 512
_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
_MAX_INPUT_TOKENS = 8191


def _openai_batch(client: Any, model_name: str, texts: list[str]) -> list[list[float]]:
    import openai

    try:
        response = client.embeddings.create(model=model_name, input=texts, encoding_format="float")
    except openai.AuthenticationError as error:
        raise ServiceError(f"OpenAI rejected the API key ({error.status_code}). Check OPENAI_API_KEY.") from None
    except openai.RateLimitError as error:
        raise ServiceError(
            f"OpenAI answered 429 (rate limit); the SDK retries up to {API_MAX_RETRIES} times with backoff, but not "
            f"when the server asks to wait more than 2 minutes. Try again later or lower the request rate: {error.message}"
        ) from None
    except openai.APIStatusError as error:
        raise ServiceError(f"OpenAI embeddings request failed ({error.status_code}): {error.message}") from None
    except openai.APIConnectionError as error:
        raise ServiceError(f"OpenAI is not reachable at {client.base_url}: {error}") from None
    except (openai.APIResponseValidationError, ValueError) as error:  # a 200 whose body is not JSON (a proxy's page)
        raise ServiceError(f"OpenAI at {client.base_url} answered with something that is not an embeddings reply "
                           f"({type(error).__name__}). Check openai_base_url.") from None
    try:
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]
    except (AttributeError, TypeError):
        raise ServiceError(f"OpenAI at {client.base_url} answered with something that is not an embeddings reply "
                           "(no embeddings' data). Check openai_base_url.") from None


@config.when(embedding_service="openai")
def embedding_client__openai(openai_api_key: str, openai_base_url: str = "") -> Any:
    """An OpenAI client with the SDK's own retry and backoff (Retry-After honoured up to 2 minutes)."""
    from openai import OpenAI

    if not openai_api_key:
        raise MissingApiKeyError("OpenAI", "OPENAI_API_KEY")
    return OpenAI(api_key=openai_api_key, base_url=openai_base_url or None, max_retries=API_MAX_RETRIES, timeout=60)


@config.when(embedding_service="openai")
def embedding_dimension__openai(embedding_client: Any, model_name: str) -> int:
    """Width of the OpenAI model's vectors: documented value, else measured with one request."""
    return _DIMENSIONS.get(model_name) or len(_openai_batch(embedding_client, model_name, ["dimension probe"])[0])


@config.when(embedding_service="openai")
def max_input_tokens__openai() -> int:
    """OpenAI embedding models accept 8,191 tokens per input."""
    return _MAX_INPUT_TOKENS


@config.when(embedding_service="openai")
def token_counts__openai() -> TokenCounts:
    """UTF-8 byte counts: an upper bound on OpenAI's byte-level BPE tokens, so a chunk within it is never truncated."""
    return lambda texts: [len(text.encode("utf-8")) for text in texts]


@config.when(embedding_service="openai")
def embedding_namespace__openai(model_name: str, openai_base_url: str = "") -> str:
    """The embedding-cache namespace: service and model (OpenAI has one input type), and the server when it is not
    api.openai.com — two OpenAI-compatible servers may serve different models under one name."""
    server = f"@{openai_base_url.rstrip('/')}" if openai_base_url else ""
    return f"openai|{model_name}{server}|"


@config.when(embedding_service="openai")
def embedding_call_count__openai(texts_missing_from_cache: list[str], embedding_batch_size: int = 0) -> int:
    """API requests that embedding the texts missing from the cache takes."""
    return -(-len(texts_missing_from_cache) // (embedding_batch_size or _DEFAULT_BATCH_SIZE))


@config.when(embedding_service="openai")
def fresh_embeddings__openai(
    embedding_client: Any,
    texts_missing_from_cache: list[str],
    model_name: str,
    progress: Progress,
    embedding_batch_size: int = 0,
) -> np.ndarray:
    """Embed texts with the OpenAI embeddings API, in batches; rows are L2-normalised float32."""
    return embed_in_batches(
        lambda batch: _openai_batch(embedding_client, model_name, batch), texts_missing_from_cache,
        embedding_batch_size or _DEFAULT_BATCH_SIZE, progress,
    )
