"""Reranking: the retrieved candidates → the final top-k, reordered by a model that reads question and text together.

Chosen by `@config.when(reranker=...)`: `none` keeps the retrieval order; `cohere` calls Cohere
Rerank (v2 API, `rerank-v3.5` unless `reranker_model` names another); `cross_encoder` runs a
sentence-transformers CrossEncoder from `reranker_model`, a local folder or a model name already
in the Hugging Face cache (no package on the registries here ships cross-encoder weights, so
there is no default). The store returns `rerank_top_n` candidates for the reranker to score.
Each reranked hit keeps its retrieval score as `retrieval_score`; `score` is the reranker's.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from hamilton.function_modifiers import config

from ragkit.errors import ConfigError, MissingApiKeyError, ServiceError

COHERE_DEFAULT_RERANK_MODEL = "rerank-v3.5"
API_MAX_RETRIES = 4


def _reordered(hits: list[dict], scores: list[float], top_k: int) -> list[dict]:
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))[: int(top_k)]
    return [{**hits[i], "retrieval_score": hits[i]["score"], "score": float(scores[i])} for i in order]


@config.when(reranker="none")
def ranked_hits__none(retrieved_hits: list[dict], top_k: int) -> list[dict]:
    """No reranking: the first top_k retrieved hits."""
    return retrieved_hits[: int(top_k)]


# --- Cohere Rerank ------------------------------------------------------------------------------


@config.when(reranker="cohere")
def reranker_client__cohere(cohere_api_key: str, cohere_base_url: str = "") -> Any:
    """A Cohere v2 client for the rerank endpoint, with the SDK's own retry and backoff."""
    import cohere

    if not cohere_api_key:
        raise MissingApiKeyError("Cohere", "COHERE_API_KEY")
    return cohere.ClientV2(api_key=cohere_api_key, base_url=cohere_base_url or None, timeout=60, max_retries=API_MAX_RETRIES)


@config.when(reranker="cohere")
def ranked_hits__cohere(
    reranker_client: Any, question: str, retrieved_hits: list[dict], top_k: int, reranker_model: str = ""
) -> list[dict]:
    """The retrieved hits reordered by Cohere Rerank's relevance score, top_k kept."""
    import cohere
    import httpx

    if not retrieved_hits:
        return []
    model = reranker_model or COHERE_DEFAULT_RERANK_MODEL
    try:
        response = reranker_client.rerank(
            model=model, query=question, documents=[hit["text"] for hit in retrieved_hits], top_n=len(retrieved_hits)
        )
    except cohere.errors.UnauthorizedError:
        raise ServiceError("Cohere rejected the API key (401). Check COHERE_API_KEY.") from None
    except cohere.errors.TooManyRequestsError:
        raise ServiceError(f"Cohere Rerank kept answering 429 (rate limit) after {API_MAX_RETRIES} retries with backoff.") from None
    except cohere.core.api_error.ApiError as error:
        raise ServiceError(f"Cohere rerank request ({model}) failed ({error.status_code}): {str(error.body)[:200]}") from None
    except httpx.HTTPError as error:
        raise ServiceError(f"Cohere is not reachable: {error}") from None
    scores = [float("-inf")] * len(retrieved_hits)
    for result in response.results:
        scores[result.index] = float(result.relevance_score)
    return _reordered(retrieved_hits, scores, top_k)


# --- sentence-transformers CrossEncoder -------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def load_cross_encoder(model_name: str) -> Any:
    """Load a sentence-transformers CrossEncoder once per process, on the CPU."""
    from sentence_transformers import CrossEncoder

    if not model_name:
        raise ConfigError(
            "reranker 'cross_encoder' needs reranker_model: a local folder holding a sentence-transformers "
            "CrossEncoder, or a model name already in the Hugging Face cache."
        )
    try:
        return CrossEncoder(model_name, device="cpu")
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"Cross-encoder {model_name!r} could not be loaded: {str(error)[:200]}. Give a local folder path, "
            "or a model name that is already in the Hugging Face cache."
        ) from error


@config.when(reranker="cross_encoder")
def reranker_client__cross_encoder(reranker_model: str = "") -> Any:
    """The CrossEncoder named by reranker_model, loaded once per process (offline)."""
    return load_cross_encoder(reranker_model)


@config.when(reranker="cross_encoder")
def ranked_hits__cross_encoder(
    reranker_client: Any, question: str, retrieved_hits: list[dict], top_k: int, rerank_batch_size: int = 32
) -> list[dict]:
    """The retrieved hits reordered by the cross-encoder's score of (question, chunk text), top_k kept."""
    if not retrieved_hits:
        return []
    scores = np.asarray(reranker_client.predict(
        [(question, hit["text"]) for hit in retrieved_hits], batch_size=rerank_batch_size, show_progress_bar=False
    ), dtype=np.float64)
    if scores.ndim == 2:  # a model with several labels: the last one is "relevant"
        scores = scores[:, -1]
    return _reordered(retrieved_hits, scores.tolist(), top_k)
