"""Retrieval: question → query embedding (same service and model as the index) → candidate hits.

The embedding service and model come from the index's manifest, never from a guess; the driver
layer reads the manifest and configures this flow with it. The retrieval mode is config:
`dense` (nearest vectors), `lexical` (BM25 over the chunk text) or `hybrid` (both, fused; see
`ragkit/fusion.py`), each served by the store module's own nodes. A reranker
(`dataflows/reranking.py`) may then reorder the candidates; without one the store returns `top_k`.
"""

from __future__ import annotations

import numpy as np
from hamilton.function_modifiers import config

from ragkit.terms import TermStatistics


def texts_to_embed(question: str) -> list[str]:
    """The question is the one text to embed."""
    return [question.strip()]


def embedding_input_type() -> str:
    """Questions are embedded as search queries (Cohere's input_type)."""
    return "search_query"


def query_vector(embeddings: np.ndarray) -> np.ndarray:
    """The question's vector."""
    return embeddings[0]


def candidate_count(top_k: int, reranker: str = "none", rerank_top_n: int = 20) -> int:
    """How many hits to take from the store: top_k, or rerank_top_n when a reranker picks the top_k among them."""
    return int(top_k) if reranker == "none" else max(int(top_k), int(rerank_top_n))


@config.when(retrieval_mode="dense")
def retrieved_hits__dense(dense_hits: list[dict]) -> list[dict]:
    """Dense retrieval: the chunks whose vectors are nearest the question's."""
    return dense_hits


@config.when(retrieval_mode="lexical")
def retrieved_hits__lexical(lexical_hits: list[dict]) -> list[dict]:
    """Lexical retrieval: the chunks that best match the question's words (BM25); no embedding needed."""
    return lexical_hits


@config.when(retrieval_mode="hybrid")
def retrieved_hits__hybrid(hybrid_hits: list[dict]) -> list[dict]:
    """Hybrid retrieval: dense and lexical candidates fused into one ranking."""
    return hybrid_hits


def term_statistics(chunk_rows: list[dict]) -> TermStatistics:
    """In how many of the index's chunks each content term occurs (the IDF weights of offline answers)."""
    return TermStatistics.of(row["text"] for row in chunk_rows)
