"""Lexical scoring settings and hybrid fusion: plain functions the store modules share (not a Hamilton module).

Hybrid retrieval runs a dense (vector) search and a lexical (BM25) search and fuses the two
ranked lists of chunk ids. Two fusions, both weighted by `alpha`, the weight of the dense side:

- "rrf", reciprocal rank fusion: score(c) = alpha / (k + rank_dense(c)) + (1 - alpha) / (k + rank_lexical(c)),
  a side where c is absent adding nothing. Ranks only, so incomparable score scales do not matter.
  alpha = 0.5 ranks exactly as textbook RRF (Cormack et al. 2009, k = 60).
- "linear": score(c) = alpha * minmax(dense)(c) + (1 - alpha) * minmax(lexical)(c), each side's
  scores min-max normalised over its own candidates, absent = 0 (Weaviate's "relativeScore").

Ties are broken by the best rank on either side, then dense before lexical, so results are
deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FUSIONS = ("rrf", "linear")


def fts_index_settings(
    lexical_tokenizer: str = "simple",
    lexical_stem: bool = True,
    lexical_stop_words: bool = True,
    lexical_language: str = "English",
) -> dict[str, Any]:
    """The tokeniser settings of a LanceDB native full-text index, from the workbench's lexical settings."""
    return {
        "base_tokenizer": lexical_tokenizer,
        "language": lexical_language,
        "stem": bool(lexical_stem),
        "remove_stop_words": bool(lexical_stop_words),
        "lower_case": True,
        "ascii_folding": True,
    }


def _minmax(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high == low:
        return [1.0 for _ in scores]
    return [(score - low) / (high - low) for score in scores]


def fuse(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    fusion: str = "rrf",
    alpha: float = 0.5,
    rrf_k: float = 60,
) -> list[tuple[str, float]]:
    """Fuse two ranked lists of (id, score), best first, into one list of (id, fused score), best first."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    fused: dict[str, float] = {}
    best_rank: dict[str, tuple[int, int]] = {}
    for side, (hits, weight) in enumerate(((dense, alpha), (lexical, 1.0 - alpha))):
        if fusion == "rrf":
            contributions = [weight / (rrf_k + rank) for rank in range(1, len(hits) + 1)]
        else:
            contributions = [weight * value for value in _minmax([score for _, score in hits])]
        seen: set[str] = set()
        for rank, ((item, _), contribution) in enumerate(zip(hits, contributions), start=1):
            if item in seen:
                continue  # the same id twice on one side: its best rank counts
            seen.add(item)
            fused[item] = fused.get(item, 0.0) + contribution
            best_rank[item] = min(best_rank.get(item, (rank, side)), (rank, side))
    return sorted(fused.items(), key=lambda pair: (-pair[1], best_rank[pair[0]]))
