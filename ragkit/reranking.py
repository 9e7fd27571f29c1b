"""Reordering retrieved hits by a reranker's scores (shared by the reranker modules)."""

from __future__ import annotations


def reordered(hits: list[dict], scores: list[float], top_k: int) -> list[dict]:
    """The top_k hits by descending score (ties keep retrieval order); each keeps its retrieval score as `retrieval_score`."""
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))[: int(top_k)]
    return [{**hits[i], "retrieval_score": hits[i]["score"], "score": float(scores[i])} for i in order]
