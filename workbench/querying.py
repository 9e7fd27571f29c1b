"""Queries against an index: search (dense, lexical, hybrid, reranked), answers with citations, a run's chunks.

A query embeds the question with the index's own service and model (from its manifest). The model,
the clients, the embedding cache and its namespace, and the LLM are created once per process per config and
API keys (`_resources`); the index handle is opened per search, so a search sees what was written since.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from hamilton import driver as hamilton_driver

from ragkit.backends import EXTRACTS, INDEX_EMBEDDINGS
from ragkit.errors import ConfigError
from ragkit.terms import TermStatistics
from workbench.config import ResolvedConfig
from workbench.flows import ANSWER_TARGETS, QUERY_TARGETS, RETRIEVAL_QUESTION_TARGETS, driver_for, has_node, runtime_inputs
from workbench.indexes import check_manifest, query_config
from workbench.keys import check_api_keys, resolve_api_keys

MAX_TOP_K = 10_000  # hits of one search: more is never read, and a huge number overflows the stores' limits
_RESOURCES: dict[tuple[str, str, str], dict[str, Any]] = {}
_RESOURCES_LOCK = threading.Lock()
_TERM_STATISTICS: dict[tuple[Any, ...], TermStatistics] = {}


def _keys_digest(api_keys: Mapping[str, str]) -> str:
    """A hash of the API keys (the keys are never kept in clear as a cache key)."""
    return hashlib.sha256(repr(sorted(api_keys.items())).encode()).hexdigest()


def _resources(purpose: str, config: ResolvedConfig, inputs: dict[str, Any], targets: list[str]) -> dict[str, Any]:
    """Nodes computed once per process per (flow, config, API keys): a loaded model, clients, a local LLM."""
    key = (purpose, config.fingerprint, _keys_digest({k: v for k, v in inputs.items() if k.endswith("_api_key")}))
    with _RESOURCES_LOCK:
        if key not in _RESOURCES:
            _RESOURCES[key] = driver_for(config, purpose).execute(targets, inputs=inputs)
        return _RESOURCES[key]


def open_query_flow(
    config: ResolvedConfig, manifest: dict[str, Any], keys: dict[str, str], top_k: int
) -> tuple[hamilton_driver.Driver, dict[str, Any], dict[str, Any]]:
    """The query driver, its runtime inputs, and the handles every search reuses (clients, index, full-text index)."""
    dr = driver_for(config, "query")
    inputs = runtime_inputs(keys, None, question="", top_k=int(top_k))
    # The clients, and what the embedding path would otherwise look up the same way for every question: the cache
    # file and its namespace.
    targets = ["embedding_client", "embedding_dimension", "store_client", "embedding_cache", "embedding_namespace"]
    if has_node(dr, "reranker_client"):
        targets.append("reranker_client")
    handles = dict(_resources("query", config, inputs, targets))
    check_manifest(manifest, config, handles["embedding_dimension"])
    handles.update(dr.execute(["existing_index"], inputs=inputs, overrides=handles))
    if config["retrieval_mode"] != "dense":
        handles.update(dr.execute(["text_index"], inputs=inputs, overrides=handles))
    return dr, inputs, handles


def ranked_hits(
    dr: hamilton_driver.Driver, inputs: dict[str, Any], handles: dict[str, Any], question: str, vector: Any, reranking: bool
) -> tuple[list[dict], float, float | None]:
    """Run the query flow for one question (its vector already computed, or None): hits, search ms, rerank ms."""
    inputs = {**inputs, "question": question}
    overrides = handles if vector is None else {**handles, "query_vector": vector}
    started = time.perf_counter()
    if not reranking:
        hits = dr.execute(QUERY_TARGETS, inputs=inputs, overrides=overrides)["ranked_hits"]
        return hits, (time.perf_counter() - started) * 1000, None
    retrieved = dr.execute(["retrieved_hits"], inputs=inputs, overrides=overrides)["retrieved_hits"]
    searched = time.perf_counter()
    hits = dr.execute(QUERY_TARGETS, inputs=inputs, overrides={**overrides, "retrieved_hits": retrieved})["ranked_hits"]
    return hits, (searched - started) * 1000, (time.perf_counter() - searched) * 1000


def _check_top_k(top_k: Any) -> None:
    """ConfigError unless top_k is a whole number from 1 to MAX_TOP_K."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise ConfigError(f"top_k is how many hits to return and must be a whole number from 1 to {MAX_TOP_K:,} "
                          f"(got {str(top_k)[:40]}).")


def search(
    config: Mapping[str, Any], question: str, top_k: int = 5, api_keys: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Top-k chunks for a question, with scores and full lineage, plus how long embedding, search (and reranking) took.

    The retrieval mode, fusion and reranker come from the config (`retrieval_mode`, `reranker`, ...).
    """
    if not question.strip():
        raise ConfigError("The question is empty.")
    _check_top_k(top_k)
    config, manifest = query_config(config)
    keys = resolve_api_keys(api_keys)
    check_api_keys(config, keys, "query")
    dr, inputs, handles = open_query_flow(config, manifest, keys, top_k)
    started = time.perf_counter()
    vector = None
    if config["retrieval_mode"] != "lexical":
        vector = dr.execute(["query_vector"], inputs={**inputs, "question": question}, overrides=handles)["query_vector"]
    embed_ms = (time.perf_counter() - started) * 1000
    reranking = config["reranker"] != "none"
    hits, search_ms, rerank_ms = ranked_hits(dr, inputs, handles, question, vector, reranking)
    latency = {"embed": round(embed_ms, 2), "search": round(search_ms, 2)}
    if rerank_ms is not None:
        latency["rerank"] = round(rerank_ms, 2)
    latency["total"] = round((time.perf_counter() - started) * 1000, 2)
    return {"question": question, "hits": hits, "manifest": manifest, "latency_ms": latency}


def _term_statistics(config: ResolvedConfig, manifest: dict[str, Any], keys: dict[str, str]) -> TermStatistics:
    """The index's document frequencies (from every stored chunk), computed once per index state: its last run and size."""
    key = (config.fingerprint, manifest["index_key"], manifest.get("last_run_id"), manifest.get("chunk_count"))
    with _RESOURCES_LOCK:
        found = _TERM_STATISTICS.get(key)
    if found is None:
        dr, inputs, handles = open_query_flow(config, manifest, keys, 1)
        found = dr.execute(["term_statistics"], inputs=inputs, overrides=handles)["term_statistics"]
        with _RESOURCES_LOCK:
            _TERM_STATISTICS[key] = found
    return found


def answer(
    config: Mapping[str, Any],
    question: str,
    history: list[dict] | None = None,
    top_k: int = 5,
    api_keys: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Make the question standalone, retrieve for it, build the prompt, and start the answer stream of the configured LLM.

    A follow-up is searched as `retrieval_question` (the LLM's rewrite, or the question with the earlier question's
    words); the prompt carries the conversation. Returns it, the hits, the exact chunks and messages sent, the LLM
    service, whether the answer is "extracted" or "generated", and `stream`, an iterator of text pieces (consume it
    to get the answer; errors surface as ServiceError while streaming).
    """
    if not question.strip():
        raise ConfigError("The question is empty.")
    _check_top_k(top_k)
    config, manifest = query_config(config)  # the offline mode embeds sentences with the index's own model
    keys = resolve_api_keys(api_keys)
    check_api_keys(config, keys, "query")
    check_api_keys(config, keys, "answer")
    dr = driver_for(config, "answer")
    llm = config.spec("llm_service")
    inputs = runtime_inputs(keys, None, question=question, chat_history=list(history or []))
    overrides: dict[str, Any] = {}
    if has_node(dr, "llm_client"):  # a local llama.cpp model takes seconds to load: once per process
        overrides["llm_client"] = _resources("answer", config, inputs, ["llm_client"])["llm_client"]
    standalone = dr.execute(RETRIEVAL_QUESTION_TARGETS, inputs=inputs, overrides=overrides)["retrieval_question"]
    retrieved = search(config, standalone, top_k=top_k, api_keys=api_keys)
    if llm.has(INDEX_EMBEDDINGS):  # the model the query flow loaded, and the index's term figures
        handles = _resources("query", config, runtime_inputs(keys, None, question="", top_k=int(top_k)),
                             ["embedding_client", "embedding_dimension", "store_client"])
        overrides.update(embedding_client=handles["embedding_client"], embedding_dimension=handles["embedding_dimension"],
                         term_statistics=_term_statistics(config, manifest, keys))
    result = dr.execute(ANSWER_TARGETS, inputs={**inputs, "search_hits": retrieved["hits"]},
                        overrides={**overrides, "retrieval_question": standalone})
    return {
        "question": question,
        "retrieval_question": standalone,
        "hits": retrieved["hits"],
        "latency_ms": retrieved["latency_ms"],
        "context_chunks": result["context_chunks"],
        "prompt_messages": result["prompt_messages"],
        "stream": result["answer_stream"],
        "llm_service": config["llm_service"],
        "llm_model": config["llm_model"],
        "answer_kind": "extracted" if llm.has(EXTRACTS) else "generated",
    }


def run_chunks(config: Mapping[str, Any], run_id: str, limit: int = 200, api_keys: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The chunks a run wrote (those still stored), from the run's own index."""
    inputs = runtime_inputs(resolve_api_keys(api_keys), None, run_id=run_id, run_chunk_limit=int(limit))
    return driver_for(config, "query").execute(["run_chunks"], inputs=inputs)["run_chunks"]


def shared_llm_client(config: ResolvedConfig, keys: Mapping[str, str]) -> dict[str, Any]:
    """{"llm_client": ...} of the configured LLM, created once per process (a local model takes seconds to load),
    or {} for an LLM without a client (the extractive mode)."""
    if not has_node(driver_for(config, "answer"), "llm_client"):
        return {}
    inputs = runtime_inputs(dict(keys), None)
    return {"llm_client": _resources("answer", config, inputs, ["llm_client"])["llm_client"]}
