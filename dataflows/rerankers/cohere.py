"""Cohere Rerank (v2 API, `rerank-v3.5` unless `reranker_model` names another); the key is `cohere_api_key`."""

from __future__ import annotations

from typing import Any

from hamilton.function_modifiers import config

from ragkit.errors import MissingApiKeyError, ServiceError
from ragkit.reranking import reordered

COHERE_DEFAULT_RERANK_MODEL = "rerank-v3.5"
API_MAX_RETRIES = 4


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
    return reordered(retrieved_hits, scores, top_k)
