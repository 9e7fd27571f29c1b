"""A throwaway embedding service for the registry tests: deterministic vectors from word hashes, no model.

It is a node module like `dataflows/embedders/*.py` (the same node names), registered only inside a test,
to prove that one module plus one registry entry is all a new backend needs.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
from hamilton.function_modifiers import config

from ragkit.errors import MissingApiKeyError
from ragkit.schema import Progress
from ragkit.vectors import TokenCounts, normalised

DIMENSION = 64


def _vector(text: str) -> np.ndarray:
    row = np.zeros(DIMENSION, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        row[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % DIMENSION] += 1.0
    return row


@config.when(embedding_service="hashing")
def embedding_client__hashing(hashing_api_key: str) -> Any:
    """No client: the key is only checked, as a hosted service's would be."""
    if not hashing_api_key:
        raise MissingApiKeyError("Hashing", "HASHING_API_KEY")
    return object()


@config.when(embedding_service="hashing")
def embedding_dimension__hashing() -> int:
    """The vectors' width."""
    return DIMENSION


@config.when(embedding_service="hashing")
def max_input_tokens__hashing() -> int:
    """No input limit to speak of."""
    return 100_000


@config.when(embedding_service="hashing")
def token_counts__hashing() -> TokenCounts:
    """Words as tokens."""
    return lambda texts: [len(text.split()) for text in texts]


@config.when(embedding_service="hashing")
def embedding_namespace__hashing(model_name: str) -> str:
    """The embedding-cache namespace."""
    return f"hashing|{model_name}|"


@config.when(embedding_service="hashing")
def embedding_call_count__hashing(texts_missing_from_cache: list[str]) -> int:
    """One call for the whole batch (none when nothing is missing)."""
    return int(bool(texts_missing_from_cache))


@config.when(embedding_service="hashing")
def fresh_embeddings__hashing(texts_missing_from_cache: list[str], progress: Progress) -> np.ndarray:
    """One bag-of-hashed-words vector per text, L2-normalised."""
    progress("fresh_embeddings", len(texts_missing_from_cache), len(texts_missing_from_cache))
    if not texts_missing_from_cache:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    return normalised(np.stack([_vector(text) for text in texts_missing_from_cache]))
