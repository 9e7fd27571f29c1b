"""Evaluation of an index of SQuAD paragraphs: recall@k, MRR@10, nDCG@10 and latency, stored as an evaluation record."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dataflows import evaluation
from ragkit.backends import OFFLINE
from ragkit.errors import ConfigError
from ragkit.schema import Progress
from workbench.catalog import Catalog, now_iso
from workbench.config import ResolvedConfig, public_config
from workbench.flows import code_version, driver_for, runtime_inputs
from workbench.indexes import index_key_for, query_config
from workbench.ingesting import new_run_id
from workbench.keys import check_api_keys, resolve_api_keys
from workbench.querying import open_query_flow, ranked_hits

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
    return ""


def evaluate(
    config: Mapping[str, Any],
    sample_size: int = 200,
    seed: int = 0,
    k_values: Iterable[int] = (1, 5, 10, 20),
    api_keys: Mapping[str, str] | None = None,
    squad_path: str = "",
) -> dict[str, Any]:
    """Score retrieval on an index of SQuAD paragraphs: recall@k, MRR@10, nDCG@10 and latency, stored as an evaluation record.

    The questions are a seeded sample (`sample_size` 0 = all) of the SQuAD questions whose paragraph
    the index holds, so two configs on the same index and seed answer the same questions.
    """
    config, manifest = query_config(config)
    keys = resolve_api_keys(api_keys)
    check_api_keys(config, keys, "evaluate")
    catalog = Catalog(config["data_dir"])
    key = index_key_for(config)
    k_values = sorted({int(k) for k in k_values if int(k) > 0})
    if not k_values:
        raise ConfigError("k_values must hold at least one positive number, e.g. 1, 5, 10, 20.")
    depth = max(k_values + [evaluation.RANK_METRIC_DEPTH])
    eval_id, started_at, started = new_run_id(), now_iso(), time.perf_counter()
    dr_query, query_inputs, handles = open_query_flow(config, manifest, keys, depth)
    reranking = config["reranker"] != "none"

    def search_one(question: str, vector: Any) -> evaluation.QuestionOutcome:
        hits, search_ms, rerank_ms = ranked_hits(dr_query, query_inputs, handles, question, vector, reranking)
        return evaluation.QuestionOutcome(tuple(hit["document_id"] for hit in hits), search_ms, rerank_ms)

    clock = evaluation.EmbeddingClock()
    path = _evaluation_squad_path(config, squad_path, catalog, key)
    batch_size = int(config["embedding_batch_size"] or 0)
    if config.spec("embedding_service").has(OFFLINE):
        batch_size = max(batch_size, LOCAL_QUESTION_BATCH_SIZE)
    eval_config = config.replace(embedding_batch_size=batch_size)
    inputs = runtime_inputs(
        keys, Progress(clock), embedding_clock=clock, evaluation_squad_path=path, sample_size=int(sample_size),
        seed=int(seed), k_values=k_values, searcher=evaluation.Searcher(search_one),
    )
    shared = {name: handles[name] for name in ("embedding_client", "embedding_dimension", "store_client", "existing_index")}
    result = driver_for(eval_config, "evaluate").execute(
        ["evaluation_questions", "retrieval_metrics", "latency_percentiles"],
        inputs=inputs,
        overrides={**shared, "cached_embeddings": {}},  # the model, not the cache, is what is timed
    )
    questions = result["evaluation_questions"]
    record = {
        "eval_id": eval_id,
        "index_key": key,
        "config": public_config(config),
        "questions": len(questions),
        "sample": {
            "sample_size": int(sample_size),
            "seed": int(seed),
            "k_values": k_values,
            "squad_path": path,
            "question_batch_size": batch_size,
            "questions_digest": hashlib.sha256("\n".join(sorted(q.question_id for q in questions)).encode()).hexdigest()[:16],
        },
        "metrics": result["retrieval_metrics"],
        "latency_ms": result["latency_percentiles"],
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 2),
        "code_version": code_version(),
    }
    catalog.save_evaluation(record)
    return record
