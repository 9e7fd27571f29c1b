"""Counts in words, and what the scores of each retrieval mode mean."""

from __future__ import annotations

from ragkit.wording import page_count, plural

__all__ = ["page_count", "plural", "score_note"]


_SCORES = {
    "dense": "cosine similarity of the question's and the chunk's vectors (1 = same direction)",
    "lexical": "BM25: grows with the question's rarer words in the chunk, no upper bound",
    "hybrid": "fused: with RRF the sum of 1 / (k + rank) over the two lists (about 0.01–0.03); with linear fusion "
              "the weighted sum of the two normalised scores (0–1)",
}


def score_note(retrieval_mode: str, reranker: str = "none") -> str:
    """What the scores of a result list mean, so scores of different modes are not compared as if alike."""
    if reranker != "none":
        return f"Scores: the {reranker} reranker's own relevance scores (ranks compare across modes; scores do not)."
    return f"Scores: {_SCORES.get(retrieval_mode, retrieval_mode)}. Compare ranks across modes, not scores."
