"""Evaluation: SQuAD questions → batched query embeddings → retrieval → rank of the gold paragraph → figures.

SQuAD gives every question its gold paragraph, so an index that holds SQuAD paragraphs can be
scored. A hit counts as gold when its chunk comes from the gold paragraph (same `document_id`,
`Document.id_for("squad", context)`); a question's rank is the position of its first gold hit
(0: none in the hits). From the ranks: recall@k (gold within the first k hits), MRR@10 (mean of
1/rank, 0 past 10) and nDCG@10 (one relevant paragraph per question, so 1/log2(rank + 1)).

Latency is per question, in milliseconds. Questions are embedded in batches (one call into the
embeddings node family, the cache bypassed so the model is what is timed): each question is
charged its batch's wall time divided by the batch's size, so embed p50/p95 are over batches.
Search and reranking run once per question (through the query flow, built once) and are timed
one by one. Lexical retrieval embeds nothing: its embed figures are 0.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hamilton.function_modifiers import config

from ragkit.errors import ConfigError
from ragkit.schema import Document
from ragkit.squad import load_squad

RANK_METRIC_DEPTH = 10  # MRR and nDCG are @10


@dataclass(frozen=True)
class EvaluationQuestion:
    """A SQuAD question and the document id of its gold paragraph."""

    question_id: str
    text: str
    gold_document_id: str


@dataclass(frozen=True)
class QuestionOutcome:
    """What one search returned for a question: the hits' document ids in rank order, and its timings."""

    document_ids: tuple[str, ...]
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


def squad_questions(evaluation_squad_path: str, squad_split: str = "validation") -> list[EvaluationQuestion]:
    """Every question of the SQuAD file (or the hub's split when no file is set), with its gold paragraph's document id."""
    paragraphs = load_squad(squad_split, evaluation_squad_path)
    return [
        EvaluationQuestion(question_id, text, Document.id_for("squad", paragraph.context))
        for paragraph in paragraphs
        for question_id, text in paragraph.questions
    ]


def evaluation_questions(
    squad_questions: list[EvaluationQuestion],
    indexed_questions: dict[str, str],
    index_name: str,
    sample_size: int = 200,
    seed: int = 0,
) -> list[EvaluationQuestion]:
    """The questions whose gold paragraph the index holds: a seeded random sample of sample_size (0 = all), the same for every config."""
    if not indexed_questions:
        raise ConfigError(
            f"Index {index_name!r} holds no SQuAD paragraphs (no chunk carries question ids), so it cannot be "
            "evaluated. Ingest SQuAD into it (python -m workbench ingest --source squad ...) or pick another index."
        )
    indexed_documents = set(indexed_questions.values())
    candidates = sorted(
        (q for q in squad_questions if q.question_id in indexed_questions and q.gold_document_id in indexed_documents),
        key=lambda q: q.question_id,
    )
    if not candidates:
        raise ConfigError(
            f"None of the {len(indexed_questions)} SQuAD questions in index {index_name!r} is in the SQuAD file "
            "given for evaluation. Point squad_path at the file the index was built from."
        )
    if sample_size and sample_size < len(candidates):
        return random.Random(seed).sample(candidates, int(sample_size))
    return candidates


def texts_to_embed(evaluation_questions: list[EvaluationQuestion]) -> list[str]:
    """The text of each sampled question, in sample order."""
    return [question.text.strip() for question in evaluation_questions]


def embedding_input_type() -> str:
    """Questions are embedded as search queries (Cohere's input_type)."""
    return "search_query"


@config.when_not(retrieval_mode="lexical")
def question_vectors__embedded(embeddings: np.ndarray) -> np.ndarray:
    """One query vector per sampled question, embedded in batches."""
    return embeddings


@config.when(retrieval_mode="lexical")
def question_vectors__none(evaluation_questions: list[EvaluationQuestion]) -> np.ndarray:
    """Lexical retrieval needs no query vectors: an empty row per question."""
    return np.zeros((len(evaluation_questions), 0), dtype=np.float32)


@config.when_not(retrieval_mode="lexical")
def embedding_latencies_ms__embedded(question_vectors: np.ndarray, embedding_clock: EmbeddingClock) -> list[float]:
    """Per-question embedding time in ms: each batch's wall time divided by the questions in it."""
    return list(embedding_clock.per_question_ms)


@config.when(retrieval_mode="lexical")
def embedding_latencies_ms__none(evaluation_questions: list[EvaluationQuestion]) -> list[float]:
    """Lexical retrieval embeds nothing: no embedding time."""
    return [0.0] * len(evaluation_questions)


def question_outcomes(
    evaluation_questions: list[EvaluationQuestion], question_vectors: np.ndarray, searcher: Searcher
) -> list[QuestionOutcome]:
    """Search the index once per question, with its vector when the mode uses one; search and rerank timed separately."""
    use_vectors = question_vectors.shape[1] > 0 if question_vectors.ndim == 2 else False
    return [
        searcher(question.text, question_vectors[position] if use_vectors else None)
        for position, question in enumerate(evaluation_questions)
    ]


def gold_ranks(evaluation_questions: list[EvaluationQuestion], question_outcomes: list[QuestionOutcome]) -> list[int]:
    """The 1-based rank of each question's first hit from its gold paragraph; 0 when no hit is."""
    ranks = []
    for question, outcome in zip(evaluation_questions, question_outcomes):
        ranks.append(next((rank for rank, doc in enumerate(outcome.document_ids, 1) if doc == question.gold_document_id), 0))
    return ranks


def retrieval_metrics(gold_ranks: list[int], k_values: list[int]) -> dict[str, float]:
    """recall@k for each k, MRR@10 and nDCG@10 over the questions (one relevant paragraph each)."""
    count = len(gold_ranks)
    if count == 0:
        raise ConfigError("No questions to evaluate.")
    found = [rank for rank in gold_ranks if rank > 0]
    metrics = {f"recall@{k}": sum(1 for rank in found if rank <= k) / count for k in sorted(set(int(k) for k in k_values))}
    metrics[f"mrr@{RANK_METRIC_DEPTH}"] = sum(1.0 / rank for rank in found if rank <= RANK_METRIC_DEPTH) / count
    metrics[f"ndcg@{RANK_METRIC_DEPTH}"] = sum(1.0 / math.log2(rank + 1) for rank in found if rank <= RANK_METRIC_DEPTH) / count
    return {name: round(value, 4) for name, value in metrics.items()}


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if values else 0.0


def latency_percentiles(embedding_latencies_ms: list[float], question_outcomes: list[QuestionOutcome]) -> dict[str, float]:
    """p50 and p95 of per-question embedding, search and (when reranking) rerank time, in ms."""
    search = [outcome.search_ms for outcome in question_outcomes]
    latency = {
        "embed_p50": _percentile(embedding_latencies_ms, 50),
        "embed_p95": _percentile(embedding_latencies_ms, 95),
        "search_p50": _percentile(search, 50),
        "search_p95": _percentile(search, 95),
    }
    rerank = [outcome.rerank_ms for outcome in question_outcomes if outcome.rerank_ms is not None]
    if rerank:
        latency["rerank_p50"] = _percentile(rerank, 50)
        latency["rerank_p95"] = _percentile(rerank, 95)
    return latency
