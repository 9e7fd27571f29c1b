"""Evaluation: a question set → labels resolved against the index → batched query embeddings → retrieval → figures.

Any index can be scored against any question set (`ragkit.questions`): each label of a question
resolves to the stored chunks that satisfy it (by document, page, answer string or chunk id), and a
label is found at the rank of the first hit among them. SQuAD is one such set: each question's one
label is its gold paragraph's document id, so a hit counts when its chunk comes from that paragraph.
From the ranks (`ragkit.relevance`): recall@k, MRR@10 and graded nDCG@10, per question and averaged.
Labels that resolve to no chunk of the index (a document not ingested there) are counted, never dropped
silently; a question with no resolving label is left out of the figures and counted.

Latency is per question, in milliseconds. Questions are embedded in batches (one call into the
embeddings node family, the cache bypassed so the model is what is timed): each question is
charged its batch's wall time divided by the batch's size, so embed p50/p95 are over batches.
Dense retrieval without a reranker searches all questions at once (the store's `dense_hits_batch`:
the same hits as one `dense_hits` per question, in far fewer store calls); each question is then
charged the batch's search time divided by the questions (amortised, so search p50 = p95; config
`batched_search` False searches one by one, for per-search latency). Other modes search and rerank once per question (through the query flow, built once), timed one by one.
Lexical retrieval embeds nothing: its embed figures are 0.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
from hamilton.function_modifiers import config

from ragkit.errors import ConfigError
from ragkit.evaluation_run import EmbeddingClock, QuestionOutcome, Searcher
from ragkit.questions import ChunkIndex, QuestionSet, ResolvedQuestion
from ragkit.relevance import RANK_METRIC_DEPTH, first_rank, label_ranks, mean_scores, question_scores


def label_index(chunk_rows: list[dict]) -> ChunkIndex:
    """The index's stored chunks, looked up by document, page and chunk id, for resolving labels."""
    return ChunkIndex(chunk_rows)


def resolved_questions(question_set: QuestionSet, label_index: ChunkIndex) -> list[ResolvedQuestion]:
    """Every question of the set with, for each of its labels, the ids of the index's chunks that satisfy it."""
    return [ResolvedQuestion(question, tuple(frozenset(label_index.resolve(label)) for label in question.labels))
            for question in question_set.questions]


def label_coverage(resolved_questions: list[ResolvedQuestion]) -> dict[str, int]:
    """How many labels and questions resolve to chunks of this index, and how many do not (reported, never dropped silently)."""
    labels = [chunks for resolved in resolved_questions for chunks in resolved.label_chunks]
    return {
        "labels": len(labels),
        "unresolved_labels": sum(1 for chunks in labels if not chunks),
        "questions": len(resolved_questions),
        "questions_without_a_resolved_label": sum(1 for resolved in resolved_questions if not resolved.answerable),
    }


def evaluation_questions(
    resolved_questions: list[ResolvedQuestion],
    question_set: QuestionSet,
    index_name: str,
    sample_size: int = 200,
    seed: int = 0,
) -> list[ResolvedQuestion]:
    """The questions with at least one label found in the index: a seeded random sample of sample_size (0 = all), the same for every config."""
    candidates = sorted((resolved for resolved in resolved_questions if resolved.answerable), key=lambda r: r.question.question_id)
    if not candidates:
        labels = sum(len(resolved.label_chunks) for resolved in resolved_questions)
        raise ConfigError(
            f"None of the {len(resolved_questions)} questions of set {question_set.name!r} has a label that matches a chunk "
            f"of index {index_name!r} ({labels} labels, none resolved): the documents they name may not be ingested there. "
            "Ingest them, or evaluate the index the set was made for."
        )
    if sample_size and sample_size < len(candidates):
        return random.Random(seed).sample(candidates, int(sample_size))
    return candidates


def texts_to_embed(evaluation_questions: list[ResolvedQuestion]) -> list[str]:
    """The text of each sampled question, in sample order."""
    return [resolved.question.text.strip() for resolved in evaluation_questions]


def embedding_input_type() -> str:
    """Questions are embedded as search queries (Cohere's input_type)."""
    return "search_query"


@config.when_not(retrieval_mode="lexical")
def question_vectors__embedded(embeddings: np.ndarray) -> np.ndarray:
    """One query vector per sampled question, embedded in batches."""
    return embeddings


@config.when(retrieval_mode="lexical")
def question_vectors__none(evaluation_questions: list[ResolvedQuestion]) -> np.ndarray:
    """Lexical retrieval needs no query vectors: an empty row per question."""
    return np.zeros((len(evaluation_questions), 0), dtype=np.float32)


@config.when_not(retrieval_mode="lexical")
def embedding_latencies_ms__embedded(question_vectors: np.ndarray, embedding_clock: EmbeddingClock) -> list[float]:
    """Per-question embedding time in ms: each batch's wall time divided by the questions in it."""
    return list(embedding_clock.per_question_ms)


@config.when(retrieval_mode="lexical")
def embedding_latencies_ms__none(evaluation_questions: list[ResolvedQuestion]) -> list[float]:
    """Lexical retrieval embeds nothing: no embedding time."""
    return [0.0] * len(evaluation_questions)


def _searches_in_one_batch(config_values: dict[str, Any]) -> bool:
    """Dense retrieval without a reranker (and `batched_search` not turned off): the store answers every question at once."""
    return (config_values.get("retrieval_mode", "dense") == "dense" and config_values.get("reranker", "none") == "none"
            and bool(config_values.get("batched_search", True)))


def _searches_one_by_one(config_values: dict[str, Any]) -> bool:
    return not _searches_in_one_batch(config_values)


def query_vectors(question_vectors: np.ndarray) -> np.ndarray:
    """The sampled questions' vectors, one row each, as the store's batched dense search takes them."""
    return question_vectors


def candidate_count(k_values: list[int]) -> int:
    """Hits per question: the deepest k scored, and at least MRR@10's and nDCG@10's depth (what the query flow's top_k is)."""
    return max([int(k) for k in k_values] + [RANK_METRIC_DEPTH])


def batched_search_started(query_vectors: np.ndarray) -> float:
    """The clock (perf_counter, s) once the questions are embedded, just before the batched search: its time is measured from here."""
    return time.perf_counter()


@config(_searches_in_one_batch, config_used=["retrieval_mode", "reranker", "batched_search"])
def question_outcomes__batched(
    evaluation_questions: list[ResolvedQuestion], batched_search_started: float, dense_hits_batch: list[list[dict]]
) -> list[QuestionOutcome]:
    """Dense, no reranker: every question's hits from one batched store search; each charged the batch's time / questions (amortised)."""
    share_ms = (time.perf_counter() - batched_search_started) * 1000 / max(1, len(evaluation_questions))
    return [QuestionOutcome(tuple(hit["chunk_id"] for hit in hits), share_ms) for hits in dense_hits_batch]


@config(_searches_one_by_one, config_used=["retrieval_mode", "reranker", "batched_search"])
def question_outcomes__one_by_one(
    evaluation_questions: list[ResolvedQuestion], question_vectors: np.ndarray, searcher: Searcher
) -> list[QuestionOutcome]:
    """Search the index once per question, with its vector when the mode uses one; search and rerank timed separately."""
    use_vectors = question_vectors.shape[1] > 0 if question_vectors.ndim == 2 else False
    return [
        searcher(resolved.question.text, question_vectors[position] if use_vectors else None)
        for position, resolved in enumerate(evaluation_questions)
    ]


def question_results(
    evaluation_questions: list[ResolvedQuestion], question_outcomes: list[QuestionOutcome], k_values: list[int]
) -> list[dict]:
    """Per question: its id, the rank at which each label was found (0: not in the hits), the best rank, and its figures."""
    results = []
    for resolved, outcome in zip(evaluation_questions, question_outcomes):
        ranks = label_ranks(outcome.chunk_ids, resolved.label_chunks)
        grades = [label.grade for label in resolved.question.labels]
        results.append({"id": resolved.question.question_id, "rank": first_rank(ranks), "label_ranks": ranks,
                        **question_scores(ranks, grades, sorted(set(int(k) for k in k_values)))})
    return results


def retrieval_metrics(question_results: list[dict]) -> dict[str, float]:
    """recall@k for each k, MRR@10 and nDCG@10, averaged over the questions."""
    if not question_results:
        raise ConfigError("No questions to evaluate.")
    return mean_scores([{name: value for name, value in result.items() if "@" in name} for result in question_results])


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
