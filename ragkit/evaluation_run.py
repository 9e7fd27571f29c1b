"""What an evaluation run passes around: one search's outcome, the search as a callable, the embedding clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QuestionOutcome:
    """What one search returned for a question: the hits' chunk ids in rank order, and its timings."""

    chunk_ids: tuple[str, ...]
    search_ms: float
    rerank_ms: float | None = None


class Searcher:
    """The query flow as a callable `(question, query_vector or None) -> QuestionOutcome` (built once by the driver)."""

    def __init__(self, search: Callable[[str, np.ndarray | None], QuestionOutcome]) -> None:
        self._search = search

    def __call__(self, question: str, vector: np.ndarray | None) -> QuestionOutcome:
        return self._search(question, vector)


class EmbeddingClock:
    """A progress callback that times the embedding batches: per-question time = batch time / batch size."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None
        self.per_question_ms: list[float] = []

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != "fresh_embeddings":
            return
        now = time.perf_counter()
        if self._last is not None and done > self._last[1]:
            share = (now - self._last[0]) * 1000 / (done - self._last[1])
            self.per_question_ms.extend([share] * (done - self._last[1]))
        self._last = (now, done)
