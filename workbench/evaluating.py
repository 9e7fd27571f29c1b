"""Evaluation of any index against any question set (SQuAD's or the user's): figures, per-question outcomes, paired comparisons."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.answer_quality import answer_contains, exact_match, f1
from ragkit.backends import OFFLINE
from ragkit.errors import ConfigError
from ragkit.evaluation_run import EmbeddingClock, QuestionOutcome, Searcher
from ragkit.questions import QuestionSet, ResolvedQuestion
from ragkit.relevance import RANK_METRIC_DEPTH
from ragkit.schema import Progress
from ragkit.squad import squad_question_set
from workbench.catalog import Catalog, now_iso
from workbench.config import ResolvedConfig, public_config
from workbench.flows import code_version, driver_for, runtime_inputs
from workbench.indexes import index_key_for, query_config
from workbench.ingesting import new_run_id
from workbench.keys import check_api_keys, resolve_api_keys
from workbench.querying import answer, open_query_flow, ranked_hits
from workbench.question_sets import question_set as load_question_set

# Questions are short: a local model embeds them faster in large batches (all-MiniLM-L6-v2 on
# 2 busy cores: 17 ms per question in batches of 64, 9.5 ms in batches of 256).
LOCAL_QUESTION_BATCH_SIZE = 256


def _evaluation_squad_path(config: ResolvedConfig, squad_path: str, catalog: Catalog, key: str) -> str:
    """The SQuAD file to take questions from: the argument, the config (or $WORKBENCH_SQUAD_PATH), the index's last SQuAD ingestion."""
    if squad_path or config["squad_path"]:
        return str(Path(squad_path or config["squad_path"]).expanduser().resolve())
    for record in catalog.runs(limit=1000, key=key):
        recorded = record["config"].get("squad_path") if record["config"].get("source") == "squad" else ""
        if recorded and Path(recorded).expanduser().exists():
            return str(Path(recorded).expanduser().resolve())
    return os.environ.get("WORKBENCH_SQUAD_PATH", "")


def _question_set(config: ResolvedConfig, questions: str, squad_path: str, catalog: Catalog, key: str) -> QuestionSet:
    """The named stored set, else the SQuAD set of the index's SQuAD file."""
    if questions and questions != "squad":
        return load_question_set(questions, config["data_dir"])
    path = _evaluation_squad_path(config, squad_path, catalog, key)
    if not any(run["config"].get("source") == "squad" for run in catalog.runs(limit=1000, key=key)):
        raise ConfigError(
            f"Index {config['index_name']!r} holds no SQuAD paragraphs, so SQuAD's questions cannot score it. Evaluate it "
            "with a question set of its own documents (`questions import FILE`, then `eval --questions NAME`)."
        )
    return squad_question_set(path, config["squad_split"])


def _answer_quality(config: ResolvedConfig, keys: dict[str, str], evaluated: list[ResolvedQuestion]) -> dict[str, Any]:
    """The answering step on each question with reference answers: contains (every mode), exact match and F1 (LLMs)."""
    generated = config["llm_service"] != "extractive"
    per_question: dict[str, dict[str, Any]] = {}
    times = []
    for resolved in evaluated:
        references = resolved.question.reference_answers
        if not references:
            continue
        started = time.perf_counter()
        text = "".join(answer(config, resolved.question.text, api_keys=keys)["stream"])
        times.append((time.perf_counter() - started) * 1000)
        scores: dict[str, Any] = {"answer_contains": float(answer_contains(text, references))}
        if generated:
            scores.update(exact_match=exact_match(text, references), f1=round(f1(text, references), 4))
        per_question[resolved.question.question_id] = scores
    def mean(name: str) -> float | None:
        values = [row[name] for row in per_question.values() if name in row]
        return round(sum(values) / len(values), 4) if values else None

    summary = {"llm_service": config["llm_service"], "llm_model": config["llm_model"], "generated": generated,
               "questions": len(per_question), "answer_contains": mean("answer_contains"), "exact_match": mean("exact_match"),
               "f1": mean("f1"), "answer_ms_p50": round(float(np.percentile(times, 50)), 1) if times else 0.0,
               "answer_ms_p95": round(float(np.percentile(times, 95)), 1) if times else 0.0}
    return {"summary": summary, "per_question": per_question}


def question_set_for(config: Mapping[str, Any], questions: str = "", squad_path: str = "") -> QuestionSet:
    """The question set an evaluation of this index would use: the named stored set, else the index's SQuAD questions."""
    config, _ = query_config(config)
    return _question_set(config, questions, squad_path, Catalog(config["data_dir"]), index_key_for(config))


def evaluate(
    config: Mapping[str, Any],
    sample_size: int = 200,
    seed: int = 0,
    k_values: Iterable[int] = (1, 5, 10, 20),
    api_keys: Mapping[str, str] | None = None,
    squad_path: str = "",
    questions: str | QuestionSet = "",
    question_ids: Collection[str] | None = None,
    save: bool = True,
    answers: bool = False,
) -> dict[str, Any]:
    """Score retrieval on an index against a question set: recall@k, MRR@10, nDCG@10 and latency, stored as an
    evaluation record with each question's outcome.

    `questions` names a stored question set (or is one); without one, the index's SQuAD questions are used (an index
    of SQuAD paragraphs). `question_ids` keeps only those questions of the set (a tuning split). The questions are a
    seeded sample (`sample_size` 0 = all) of those with a label found in the index, so two configs on the same index,
    set and seed answer the same questions. `save=False` returns the record without storing it (a tuning grid).
    `answers=True` also runs the answering step (the config's `llm_service`) on each question with reference answers
    (SQuAD's answer texts, or the labels' answer strings) and scores it: the share of answers that contain a reference
    answer, and SQuAD exact match and F1 when an LLM generates the answer.
    """
    config, manifest = query_config(config)
    keys = resolve_api_keys(api_keys)
    check_api_keys(config, keys, "evaluate")
    catalog = Catalog(config["data_dir"])
    key = index_key_for(config)
    k_values = sorted({int(k) for k in k_values if int(k) > 0})
    if not k_values:
        raise ConfigError("k_values must hold at least one positive number, e.g. 1, 5, 10, 20.")
    question_set = questions if isinstance(questions, QuestionSet) else _question_set(config, questions, squad_path, catalog, key)
    if question_ids is not None:
        wanted = set(question_ids)
        question_set = replace(question_set, questions=tuple(q for q in question_set.questions if q.question_id in wanted))
    depth = max(k_values + [RANK_METRIC_DEPTH])
    eval_id, started_at, started = new_run_id(), now_iso(), time.perf_counter()
    dr_query, query_inputs, handles = open_query_flow(config, manifest, keys, depth)
    reranking = config["reranker"] != "none"

    def search_one(question: str, vector: Any) -> QuestionOutcome:
        hits, search_ms, rerank_ms = ranked_hits(dr_query, query_inputs, handles, question, vector, reranking)
        return QuestionOutcome(tuple(hit["chunk_id"] for hit in hits), search_ms, rerank_ms)

    clock = EmbeddingClock()
    batch_size = int(config["embedding_batch_size"] or 0)
    if config.spec("embedding_service").has(OFFLINE):
        batch_size = max(batch_size, LOCAL_QUESTION_BATCH_SIZE)
    eval_config = config.replace(embedding_batch_size=batch_size)
    inputs = runtime_inputs(
        keys, Progress(clock), embedding_clock=clock, question_set=question_set, sample_size=int(sample_size),
        seed=int(seed), k_values=k_values, searcher=Searcher(search_one),
    )
    shared = {name: handles[name] for name in ("embedding_client", "embedding_dimension", "store_client", "existing_index")}
    result = driver_for(eval_config, "evaluate").execute(
        ["evaluation_questions", "label_coverage", "question_results", "retrieval_metrics", "latency_percentiles"],
        inputs=inputs,
        overrides={**shared, "cached_embeddings": {}},  # the model, not the cache, is what is timed
    )
    evaluated = result["evaluation_questions"]
    answer_scores = _answer_quality(config, keys, evaluated) if answers else None
    per_question = [{"id": r["id"], "rank": r["rank"], "label_ranks": r["label_ranks"],
                     f"ndcg@{RANK_METRIC_DEPTH}": round(r[f"ndcg@{RANK_METRIC_DEPTH}"], 4)}
                    for r in result["question_results"]]
    if answer_scores:
        for row in per_question:
            row.update(answer_scores["per_question"].get(row["id"], {}))
    record = {
        "eval_id": eval_id,
        "index_key": key,
        "config": public_config(config),
        "questions": len(evaluated),
        "question_set": question_set.name,
        "question_set_info": {"name": question_set.name, "origin": question_set.origin, "generated": question_set.generated,
                              "index_key": question_set.index_key},
        "labels": result["label_coverage"],
        "sample": {
            "sample_size": int(sample_size),
            "seed": int(seed),
            "k_values": k_values,
            "squad_path": question_set.origin.get("file", "") if question_set.origin.get("kind") == "squad" else "",
            "question_batch_size": batch_size,
            "batched_search": config["batched_search"] and config["retrieval_mode"] == "dense" and not reranking,
            "subset": None if question_ids is None else len(set(question_ids)),
            "questions_digest": hashlib.sha256(
                "\n".join(sorted(r.question.question_id for r in evaluated)).encode()).hexdigest()[:16],
        },
        "metrics": result["retrieval_metrics"],
        "latency_ms": result["latency_percentiles"],
        "per_question": per_question,
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 2),
        "code_version": code_version(),
    }
    if answer_scores:
        record["answer_quality"] = answer_scores["summary"]
    if save:
        catalog.save_evaluation(record)
        from workbench.scorecard import scorecard

        scorecard(manifest, config["data_dir"], question_set.name, api_keys=keys)  # the stack's scorecard, with this evaluation
    return record
