"""No reranking: the store's first top_k hits, in retrieval order."""

from __future__ import annotations

from hamilton.function_modifiers import config


@config.when(reranker="none")
def ranked_hits__none(retrieved_hits: list[dict], top_k: int) -> list[dict]:
    """No reranking: the first top_k retrieved hits."""
    return retrieved_hits[: int(top_k)]
