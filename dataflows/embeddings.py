"""Embeddings: texts → L2-normalised float32 vectors, with a cache around the chosen service's model.

One node family for chunks and queries: the ingestion module defines `texts_to_embed` from the
chunks that need embedding and `embedding_input_type="search_document"`; the retrieval module
defines them from the question with "search_query". The service's own module (`dataflows/embedders/`,
picked by `embedding_service`) supplies the client, the model's limits and `fresh_embeddings`. A local
cache keyed by content and model means a text is embedded once per model, whichever store or run asks for it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from hamilton.function_modifiers import ResolveAt, check_output_custom, resolve

from dataflows._quality import EmbeddingsAreUnitVectors
from ragkit.embedding_cache import EmbeddingCache
from ragkit.errors import ServiceError
from ragkit.token_counts import count_tokens

# --- the cache around the model -----------------------------------------------------------------


def embedding_cache(data_dir: str) -> EmbeddingCache:
    """The embedding cache in the data folder (one SQLite file shared by every index)."""
    return _open_cache(str(Path(data_dir) / "embedding_cache.sqlite"))


@functools.lru_cache(maxsize=8)
def _open_cache(path: str) -> EmbeddingCache:
    return EmbeddingCache(path)


def cached_embeddings(
    embedding_cache: EmbeddingCache, embedding_namespace: str, texts_to_embed: list[str], embedding_dimension: int
) -> dict[str, np.ndarray]:
    """Vectors already computed for these texts with this model, by text; a cached row that fails the checks is dropped and recomputed."""
    keys = {text: EmbeddingCache.key(embedding_namespace, text) for text in texts_to_embed}
    found = embedding_cache.get_many(list(set(keys.values())), embedding_dimension)
    return {text: found[key] for text, key in keys.items() if key in found}


def embedded_tokens(
    texts_missing_from_cache: list[str], embedding_client: Any, embedding_service: str, model_name: str
) -> dict[str, Any]:
    """Tokens of the texts the model embeds now: the service's own tokenizer where there is one here, else an estimate that says so."""
    tally = count_tokens(embedding_service, model_name, texts_missing_from_cache, getattr(embedding_client, "tokenizer", None))
    return tally.to_json()


def texts_missing_from_cache(texts_to_embed: list[str], cached_embeddings: dict[str, np.ndarray]) -> list[str]:
    """The distinct texts that the model must embed now."""
    return list(dict.fromkeys(text for text in texts_to_embed if text not in cached_embeddings))


def _refuse_unsearchable(vectors: np.ndarray) -> None:
    """ServiceError when any row is all zeros or holds NaN or infinity: no cosine search can find such a vector."""
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(vectors).all(axis=1)
        zero = ~np.any(vectors, axis=1)
    bad = int((~finite | zero).sum())
    if bad:
        raise ServiceError(
            f"The embedding service returned {bad} of {len(vectors)} vector(s) that are all zeros or not finite; "
            "nothing was cached or stored for them. Check the embedding settings (embedding_batch_size) and the model."
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
    """One vector per text to embed, in order: cached ones reused; fresh ones checked, and only those that pass added to the cache.

    A fresh row that is zero or not finite can never be searched, so it stops the run whatever `data_quality` says;
    one merely off unit norm is left out of the cache and reported by the data-quality check."""
    if len(texts_missing_from_cache):
        if fresh_embeddings.shape != (len(texts_missing_from_cache), embedding_dimension):
            raise ServiceError(
                f"The embedding service returned vectors of shape {fresh_embeddings.shape}; "
                f"expected ({len(texts_missing_from_cache)}, {embedding_dimension})."
            )
        _refuse_unsearchable(fresh_embeddings)
        embedding_cache.put_many(
            [EmbeddingCache.key(embedding_namespace, text) for text in texts_missing_from_cache], fresh_embeddings,
            embedding_dimension,
        )
    by_text = dict(cached_embeddings)
    by_text.update(zip(texts_missing_from_cache, fresh_embeddings))
    if not texts_to_embed:
        return np.zeros((0, embedding_dimension), dtype=np.float32)
    return np.stack([by_text[text] for text in texts_to_embed]).astype(np.float32, copy=False)

