"""Many single vector searches at once, for stores with no batch search (Weaviate, Pinecone): a small thread pool."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SEARCH_THREADS = 8  # single searches in flight at once


def searched_in_threads(search: Callable[[np.ndarray], list[dict]], query_vectors: np.ndarray) -> list[list[dict]]:
    """`search` of each query vector, in input order, `SEARCH_THREADS` at a time (one vector: no pool)."""
    vectors = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
    if len(vectors) <= 1:
        return [search(vector) for vector in vectors]
    with ThreadPoolExecutor(max_workers=min(SEARCH_THREADS, len(vectors))) as pool:
        return list(pool.map(search, vectors))
