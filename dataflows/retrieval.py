"""Retrieval: question → query embedding (same service and model as the index) → top-k hits.

The embedding service and model come from the index's manifest, never from a guess; the driver
layer reads the manifest and configures this flow with it.
"""

from __future__ import annotations

import numpy as np


def texts_to_embed(question: str) -> list[str]:
    """The question is the one text to embed."""
    return [question.strip()]


def embedding_input_type() -> str:
    """Questions are embedded as search queries (Cohere's input_type)."""
    return "search_query"


def query_vector(embeddings: np.ndarray) -> np.ndarray:
    """The question's vector."""
    return embeddings[0]
