"""Cohere embeddings (`embed-english-v3.0` by default, v2 API), through the official client; the key is `cohere_api_key`.

Cohere embeds documents and queries differently (`input_type` search_document / search_query), so the
cache namespace includes the input type.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hamilton.function_modifiers import config

from ragkit.errors import MissingApiKeyError, ServiceError
from ragkit.schema import Progress
from ragkit.vectors import TokenCounts, embed_in_batches

API_MAX_RETRIES = 4
_MAX_BATCH_SIZE = 96  # the API's limit of texts per request
_DIMENSIONS = {
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
    "embed-v4.0": 1536,
}
_MAX_INPUT_TOKENS = 512


def _cohere_batch(client: Any, model_name: str, texts: list[str], input_type: str) -> list[list[float]]:
    import cohere
    import httpx

    try:
        response = client.embed(
            texts=texts, model=model_name, input_type=input_type, embedding_types=["float"], truncate="NONE"
        )
    except cohere.errors.UnauthorizedError:
        raise ServiceError("Cohere rejected the API key (401). Check COHERE_API_KEY.") from None
    except cohere.errors.TooManyRequestsError:
        raise ServiceError(
            f"Cohere answered 429 (rate limit) after up to {API_MAX_RETRIES} retries with backoff. Try again later or lower the request rate."
        ) from None
    except cohere.core.api_error.ApiError as error:
        raise ServiceError(f"Cohere embed request failed ({error.status_code}): {str(error.body)[:200]}") from None
    except httpx.HTTPError as error:
        raise ServiceError(f"Cohere is not reachable: {error}") from None
    return list(response.embeddings.float_)


@config.when(embedding_service="cohere")
def embedding_client__cohere(cohere_api_key: str, cohere_base_url: str = "") -> Any:
    """A Cohere v2 client with the SDK's own retry and backoff (Retry-After honoured up to 60 s)."""
    import cohere

    if not cohere_api_key:
        raise MissingApiKeyError("Cohere", "COHERE_API_KEY")
    return cohere.ClientV2(api_key=cohere_api_key, base_url=cohere_base_url or None, timeout=60, max_retries=API_MAX_RETRIES)


@config.when(embedding_service="cohere")
def embedding_dimension__cohere(embedding_client: Any, model_name: str) -> int:
    """Width of the Cohere model's vectors: documented value, else measured with one request."""
    return _DIMENSIONS.get(model_name) or len(_cohere_batch(embedding_client, model_name, ["dimension probe"], "search_query")[0])


@config.when(embedding_service="cohere")
def max_input_tokens__cohere() -> int:
    """Cohere embed v3 models accept 512 tokens per input (sent with truncate=NONE, so never cut)."""
    return _MAX_INPUT_TOKENS


@config.when(embedding_service="cohere")
def token_counts__cohere() -> TokenCounts:
    """An estimate of Cohere tokens (a token per 3 UTF-8 bytes); the API call uses truncate=NONE, so an outlier fails loudly instead of being cut."""
    return lambda texts: [len(text.encode("utf-8")) // 3 + 1 for text in texts]


@config.when(embedding_service="cohere")
def embedding_namespace__cohere(model_name: str, embedding_input_type: str, cohere_base_url: str = "") -> str:
    """The embedding-cache namespace: service, model and input type (Cohere embeds documents and queries differently),
    and the server when it is not Cohere's own."""
    server = f"@{cohere_base_url.rstrip('/')}" if cohere_base_url else ""
    return f"cohere|{model_name}{server}|{embedding_input_type}"


@config.when(embedding_service="cohere")
def embedding_call_count__cohere(texts_missing_from_cache: list[str], embedding_batch_size: int = 0) -> int:
    """API requests that embedding the texts missing from the cache takes (at most 96 texts each)."""
    return -(-len(texts_missing_from_cache) // min(embedding_batch_size or _MAX_BATCH_SIZE, _MAX_BATCH_SIZE))


@config.when(embedding_service="cohere")
def fresh_embeddings__cohere(
    embedding_client: Any,
    texts_missing_from_cache: list[str],
    model_name: str,
    embedding_input_type: str,
    progress: Progress,
    embedding_batch_size: int = 0,
) -> np.ndarray:
    """Embed texts with Cohere's embed API (input_type search_document or search_query), in batches of ≤96; rows are L2-normalised float32."""
    return embed_in_batches(
        lambda batch: _cohere_batch(embedding_client, model_name, batch, embedding_input_type),
        texts_missing_from_cache, min(embedding_batch_size or _MAX_BATCH_SIZE, _MAX_BATCH_SIZE), progress,
    )
