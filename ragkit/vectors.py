"""Vector helpers shared by the embedding services: L2 normalisation and batched API calls with progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ragkit.schema import Progress

TokenCounts = Callable[[list[str]], list[int]]


def normalised(vectors: Any) -> np.ndarray:
    """Rows scaled to unit length as float32 (a zero row stays zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


def embed_in_batches(
    embed_batch: Callable[[list[str]], list[list[float]]], texts: list[str], batch_size: int, progress: Progress
) -> np.ndarray:
    """Call `embed_batch` on consecutive batches, reporting ("fresh_embeddings", done, total); rows L2-normalised."""
    rows: list[list[float]] = []
    progress("fresh_embeddings", 0, len(texts))
    for start in range(0, len(texts), batch_size):
        rows.extend(embed_batch(texts[start : start + batch_size]))
        progress("fresh_embeddings", len(rows), len(texts))
    return normalised(rows) if rows else np.zeros((0, 0), dtype=np.float32)
