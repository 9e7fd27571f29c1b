"""Local sentence-transformers embeddings (torch, or the same weights as int8 ONNX): offline, no key.

The nodes every embedding-service module defines, with the same names: `embedding_client`,
`embedding_dimension`, `max_input_tokens`, `token_counts`, `embedding_namespace`, `fresh_embeddings`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hamilton.function_modifiers import config

from ragkit.local_models import is_model_path, load_sentence_transformer, weights_digest
from ragkit.schema import Progress
from ragkit.token_counts import tokens_of_each
from ragkit.vectors import TokenCounts, normalised

_DEFAULT_BATCH_SIZE = 16  # the best measured on this 2-core machine (bench/embedder_backends.py); int8 ONNX sets its own


@config.when(embedding_service="sentence_transformers")
def embedding_client__sentence_transformers(model_name: str) -> Any:
    """The local SentenceTransformer model, loaded once per process (offline)."""
    return load_sentence_transformer(model_name)


@config.when(embedding_service="sentence_transformers")
def embedding_dimension__sentence_transformers(embedding_client: Any) -> int:
    """Width of the model's vectors, read from the model."""
    return int(embedding_client.get_embedding_dimension())


@config.when(embedding_service="sentence_transformers")
def max_input_tokens__sentence_transformers(embedding_client: Any) -> int:
    """The model's input limit in its own tokens (all-MiniLM-L6-v2: 256, special tokens included)."""
    return int(embedding_client.max_seq_length)


@config.when(embedding_service="sentence_transformers")
def token_counts__sentence_transformers(embedding_client: Any) -> TokenCounts:
    """Token counts from the model's own tokenizer, special tokens included."""
    tokenizer = embedding_client.tokenizer
    return lambda texts: tokens_of_each(tokenizer, texts)


@config.when(embedding_service="sentence_transformers")
def embedding_namespace__sentence_transformers(model_name: str) -> str:
    """The embedding-cache namespace: service and model (the model has one input type); a model given as a folder is
    known by its absolute path and a digest of its files, so other weights at that path never reuse its vectors."""
    if is_model_path(model_name) and os.path.isdir(model_name):
        return f"sentence_transformers|{os.path.abspath(model_name)}@{weights_digest(model_name)}|"
    return f"sentence_transformers|{model_name}|"


@config.when(embedding_service="sentence_transformers")
def embedding_call_count__sentence_transformers(
    embedding_client: Any, texts_missing_from_cache: list[str], embedding_batch_size: int = 0
) -> int:
    """Model calls (encode batches) that embedding the texts missing from the cache takes."""
    batch_size = embedding_batch_size or getattr(embedding_client, "best_batch_size", 0) or _DEFAULT_BATCH_SIZE
    return -(-len(texts_missing_from_cache) // batch_size)


@config.when(embedding_service="sentence_transformers")
def fresh_embeddings__sentence_transformers(
    embedding_client: Any,
    texts_missing_from_cache: list[str],
    progress: Progress,
    embedding_batch_size: int = 0,
) -> np.ndarray:
    """Embed texts with the local model in length-sorted batches (the model's best measured batch size unless set); rows are L2-normalised float32."""
    texts = texts_missing_from_cache
    batch_size = embedding_batch_size or getattr(embedding_client, "best_batch_size", 0) or _DEFAULT_BATCH_SIZE
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
    return normalised(result) if len(texts) else result
