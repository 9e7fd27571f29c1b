"""A sentence-transformers CrossEncoder from `reranker_model`: a local folder or a model name already in the
Hugging Face cache (no package on the registries here ships cross-encoder weights, so there is no default)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hamilton.function_modifiers import config

from ragkit.local_models import load_cross_encoder
from ragkit.reranking import reordered


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
    return reordered(retrieved_hits, scores.tolist(), top_k)
