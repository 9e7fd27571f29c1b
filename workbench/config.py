"""Configuration is data: the one plain dict the UI, the CLI and the tests build, its defaults, and its resolved form.

`resolve_config` fills defaults, checks every value and returns a `ResolvedConfig`: a frozen mapping that
the facade makes once per call and hands to everything below it (resolving a resolved config again is
free: it is returned as it is). The backend choices (`embedding_service`, `vector_db`, `llm_service`,
`reranker`) and their settings come from the registries. `public_config` is the form that may be persisted
(run records, manifests): it never holds secrets, because secrets never enter the config — they are
resolved separately (`workbench/keys.py`) — and a secret-like name at any depth of a config value is refused.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dataflows.embedders import EMBEDDERS
from dataflows.llms import LLMS
from dataflows.rerankers import RERANKERS
from dataflows.stores import STORES
from ragkit.backends import OFFLINE, BackendSpec, Registry
from ragkit.errors import ConfigError
from ragkit.local_models import is_model_path
from ragkit.parsers import PDF_PARSERS

SOURCES = ("squad", "files")
RETRIEVAL_MODES = ("dense", "lexical", "hybrid")
HYBRID_FUSIONS = ("rrf", "linear")
EXECUTORS = ("sync", "threads", "processes", "ray")
ANN_INDEX_TYPES = ("ivf_pq", "ivf_hnsw_sq", "ivf_hnsw_pq")
LEXICAL_TOKENIZERS = ("simple", "whitespace")
# The registry of each backend kind, by the config key that picks one.
REGISTRIES: dict[str, Registry] = {registry.config_key: registry for registry in (EMBEDDERS, STORES, LLMS, RERANKERS)}
_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "pwd", "passphrase", "credential", "auth", "bearer",
                 "cookie")
# An index name every store accepts as a table / collection / index name, and as one path component (no "/", "..").
INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
# The least value of each numeric setting (those with their own rule are checked beside it).
_MINIMUMS = {"limit": 0, "embedding_batch_size": 0, "upsert_batch_size": 0, "max_context_chunks": 1, "keep_sources_mb": 0}

DEFAULTS: dict[str, Any] = {
    "source": "squad",
    "squad_split": "validation",
    "squad_path": "",
    "limit": 0,  # 0: no limit
    "file_paths": [],
    "ingest_root": "",  # "": the current folder; a file's identity in the index is its path relative to this folder
    "embedding_service": "sentence_transformers",  # a name of dataflows.embedders.EMBEDDERS
    "model_name": "",  # "": the service's default
    "embedding_batch_size": 0,  # 0: the service's default (local: the best measured, 16 torch, 8 ONNX int8; 512 OpenAI, 96 Cohere)
    "vector_db": "lancedb",  # a name of dataflows.stores.STORES
    "vector_db_config": {},  # the store's settings (its spec's fields); defaults filled in
    "index_name": "docs",
    "chunk_size": 800,  # characters
    "chunk_overlap": 100,  # characters
    "split_squad_paragraphs": False,
    # extraction and structure (see ragkit/parsers.py, ragkit/pdf_text.py, dataflows/chunking.py)
    "pdf_parser": "pypdfium2",  # "pypdfium2" (PDFium: 8-11x the pages/s, 13x fewer run-together words here) or "pypdf" (pure Python)
    "clean_pdf_text": True,  # join letter-spaced runs, rejoin words hyphenated across lines, drop running headers/footers
    "chunk_by_sections": True,  # cut chunks at headings (every chunk records its section path either way)
    "keep_slides": True,  # a page whose text fits one chunk stays one chunk; False: runs of such pages are packed together
    "contextual_headers": True,  # embed and BM25-index "title › section" before each chunk's text (the text shown is the chunk)
    "upsert_batch_size": 0,  # 0: the store's own default
    "openai_base_url": "",
    "cohere_base_url": "",
    # Chat: which LLM answers ("extractive" needs none), its model, an OpenAI-compatible base URL.
    "llm_service": "extractive",  # a name of dataflows.llms.LLMS
    "llm_model": "",
    "llm_base_url": "",
    "max_context_chunks": 5,
    "data_dir": "",
    "data_quality": "fail",  # what a failed data-quality check does: "fail" the run or "warn"
    # retrieval (see dataflows/retrieval.py, ragkit/fusion.py, dataflows/rerankers/)
    "retrieval_mode": "dense",  # "dense" (vectors), "lexical" (BM25 full text) or "hybrid" (both, fused)
    "hybrid_fusion": "rrf",  # "rrf": weighted reciprocal rank fusion; "linear": weighted sum of min-max scores
    "hybrid_alpha": 0.5,  # weight of the dense side in hybrid fusion (1 = dense only, 0 = lexical only)
    "rrf_k": 60,  # the reciprocal rank fusion constant: 1 / (rrf_k + rank)
    "hybrid_candidates": 50,  # hits taken from each side before fusing
    "lexical_tokenizer": "simple",  # LanceDB FTS: "simple" (split on whitespace and punctuation) or "whitespace"
    "lexical_stem": True,  # LanceDB FTS: reduce words to their stem ("running" -> "run")
    "lexical_stop_words": True,  # LanceDB FTS: drop stop words ("the", "of")
    "lexical_language": "English",  # LanceDB FTS: language of the stemmer and stop-word list
    "reranker": "none",  # a name of dataflows.rerankers.RERANKERS: "none", "cross_encoder" (local) or "cohere" (Cohere Rerank API)
    "reranker_model": "",  # "": rerank-v3.5 for Cohere; a local folder or model name for a cross-encoder
    "rerank_top_n": 20,  # candidates the reranker scores (the store returns this many, the reranker keeps top_k)
    "batched_search": True,  # evaluation, dense without a reranker: every question in one batched store search (False: one by one)
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
    # "Open source": the ingested files are kept, content-addressed, in <data_dir>/sources (see workbench/kept_sources.py)
    "keep_sources_mb": 500,  # total size cap of the kept files; the least recently kept go first past it (0: keep none)
}

CHUNK_SETTING_KEYS = ("chunk_size", "chunk_overlap", "split_squad_paragraphs", "pdf_parser", "clean_pdf_text",
                      "chunk_by_sections", "keep_slides", "contextual_headers")
_BOOLEAN_CHUNK_SETTINGS = ("split_squad_paragraphs", "clean_pdf_text", "chunk_by_sections", "keep_slides", "contextual_headers")
RETRIEVAL_SETTING_KEYS = (
    "retrieval_mode", "hybrid_fusion", "hybrid_alpha", "rrf_k", "hybrid_candidates", "lexical_tokenizer",
    "lexical_stem", "lexical_stop_words", "lexical_language", "reranker", "reranker_model", "rerank_top_n",
)


class ResolvedConfig(Mapping[str, Any]):
    """A complete, checked config that cannot change: `config[key]` reads it, `config.replace(...)` makes a new one.

    Values that are dicts or lists are handed out as copies, so no caller can change it in place. It pickles
    (a worker process gets the same config), and `fingerprint` is the one key every cache of the runtime uses.
    """

    __slots__ = ("_values", "_fingerprint")

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", copy.deepcopy(dict(values)))
        object.__setattr__(self, "_fingerprint", hashlib.sha256(
            json.dumps(self._values, sort_keys=True, default=str).encode()).hexdigest()[:24])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a ResolvedConfig cannot change; use .replace(...)")

    def __getitem__(self, key: str) -> Any:
        value = self._values[key]
        return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __reduce__(self) -> tuple:
        return (ResolvedConfig, (self._values,))

    def __repr__(self) -> str:
        return f"ResolvedConfig({self._values!r})"

    @property
    def fingerprint(self) -> str:
        """A short hash of every value: equal configs, equal fingerprints."""
        return self._fingerprint

    def spec(self, config_key: str) -> BackendSpec:
        """The spec of the backend this config picks for a kind: spec("vector_db"), spec("embedding_service")."""
        return REGISTRIES[config_key].get(self._values[config_key])

    def replace(self, **changes: Any) -> ResolvedConfig:
        """A new resolved config with some values changed (checked again)."""
        return resolve_config({**self._values, **changes})

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable copy."""
        return copy.deepcopy(self._values)


def default_data_dir() -> Path:
    """Where run records, manifests, the embedding cache and the default LanceDB folder live."""
    return Path(os.environ.get("WORKBENCH_DATA_DIR", "data")).expanduser().resolve()


def all_defaults() -> dict[str, Any]:
    """Every top-level setting at its default: DEFAULTS plus the top-level settings the registered backends declare."""
    declared = {setting.name: setting.default for key in ("embedding_service", "llm_service", "reranker")
                for spec in REGISTRIES[key] for setting in spec.settings}
    return {**declared, **DEFAULTS}


def resolve_config(config: Mapping[str, Any] | None = None, **overrides: Any) -> ResolvedConfig:
    """A complete, checked, frozen config: defaults, then `config`, then keyword overrides; ConfigError for bad values.

    A `ResolvedConfig` given without overrides is returned as it is.
    """
    if isinstance(config, ResolvedConfig) and not overrides:
        return config
    defaults = all_defaults()
    merged: dict[str, Any] = {**defaults, **dict(config or {}), **overrides}
    unknown = set(merged) - set(defaults)
    if unknown:
        raise ConfigError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    _check_types(merged, defaults)
    specs = {key: registry.get(str(merged[key])) for key, registry in REGISTRIES.items()}
    if merged["source"] not in SOURCES:
        raise ConfigError(f"source must be one of {', '.join(SOURCES)}.")
    if merged["llm_service"] == "openai_compatible" and not merged["llm_base_url"]:
        raise ConfigError("An OpenAI-compatible LLM needs llm_base_url, e.g. http://localhost:11434/v1 for Ollama.")
    if int(merged["chunk_size"]) < 50:
        raise ConfigError("chunk_size is in characters and must be at least 50.")
    if not 0 <= int(merged["chunk_overlap"]) < int(merged["chunk_size"]) // 2:
        raise ConfigError("chunk_overlap must be at least 0 and less than half of chunk_size.")
    _check_extraction_settings(merged)
    _check_index_name(merged["index_name"])
    for name, least in _MINIMUMS.items():
        if merged[name] < least:
            raise ConfigError(f"{name} must be at least {least} (got {merged[name]}){' (0: no limit)' if name == 'limit' else ''}.")
    _check_retrieval_settings(merged)
    _check_batch_sizes(merged)
    _check_scale_settings(merged)
    _check_file_limits(merged)
    merged["model_name"] = merged["model_name"] or specs["embedding_service"].default_model
    if specs["embedding_service"].has(OFFLINE) and is_model_path(str(merged["model_name"])):
        merged["model_name"] = os.path.abspath(os.path.expanduser(str(merged["model_name"])))  # `./m` means one folder
    merged["llm_model"] = merged["llm_model"] or specs["llm_service"].default_model
    for name in ("data_dir", "ingest_root", "squad_path"):
        if _has_control_characters(merged[name]):  # LanceDB refuses such a path, and no terminal shows it as it is
            raise ConfigError(f"{name} holds a control character ({ascii(merged[name])[:80]}): give a path without one.")
    merged["data_dir"] = str(Path(merged["data_dir"]).expanduser().resolve()) if merged["data_dir"] else str(default_data_dir())
    if Path(merged["data_dir"]).exists() and not Path(merged["data_dir"]).is_dir():
        raise ConfigError(f"data_dir {merged['data_dir']} is a file, not a folder. Give a folder (it is created if missing).")
    # Environment fallbacks are read here, once, never inside a node.
    merged["squad_path"] = str(merged["squad_path"] or "")
    merged["cohere_base_url"] = str(merged["cohere_base_url"] or os.environ.get("CO_API_URL", ""))
    if not isinstance(merged["vector_db_config"], Mapping):
        raise ConfigError("vector_db_config must be a JSON object of the store's settings.")
    store_config = {**specs["vector_db"].default_settings(merged["data_dir"]), **dict(merged["vector_db_config"] or {})}
    merged["vector_db_config"] = store_config
    merged["file_paths"] = [str(p) for p in merged["file_paths"]]
    merged["ingest_root"] = os.path.abspath(os.path.expanduser(str(merged["ingest_root"] or os.getcwd())))
    refuse_secrets(merged)
    return ResolvedConfig(merged)


def _check_extraction_settings(merged: dict[str, Any]) -> None:
    if merged["pdf_parser"] not in PDF_PARSERS:
        raise ConfigError(f"pdf_parser must be one of {', '.join(PDF_PARSERS)} (got {merged['pdf_parser']!r}).")
    for name in _BOOLEAN_CHUNK_SETTINGS:
        if not isinstance(merged[name], bool):
            raise ConfigError(f"{name} must be true or false (got {merged[name]!r}).")


def _check_types(merged: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """ConfigError naming the first setting whose value is not of its default's type (the schema is the defaults).

    Whole numbers accept an integral float (5.0), numbers accept whole numbers, text accepts None (= ""); a value
    is never guessed from text ("5" for a number is refused), so a config file and the CLI mean the same thing.
    """
    for name, default in defaults.items():
        value = merged[name]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
            if ok:
                merged[name] = int(value)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, str):
            ok = value is None or isinstance(value, str)
            merged[name] = value or ""
        elif isinstance(default, list):
            ok = isinstance(value, (list, tuple))
        elif isinstance(default, dict):
            ok = isinstance(value, Mapping)
        else:
            ok = True
        if not ok:
            raise ConfigError(f"{name} must be {_TYPE_WORDS[type(default)]} (got {type(value).__name__} {str(value)[:60]!r}).")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and not (
                -_LARGEST_NUMBER <= value <= _LARGEST_NUMBER):  # also false for NaN; an int of 400 digits is never a float
            raise ConfigError(f"{name} must be a finite number within ±{_LARGEST_NUMBER:.0e} (got {str(value)[:40]}).")


_LARGEST_NUMBER = 10**15  # past any setting's sense; a larger number overflows what reads it (a float, a C long)


def _has_control_characters(value: Any) -> bool:
    """Whether a text setting holds a control character (ESC, NUL, a newline ...)."""
    return isinstance(value, str) and any(unicodedata.category(character) == "Cc" for character in value)


_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list",
               dict: "a JSON object of settings"}


def _check_index_name(name: str) -> None:
    """ConfigError unless the index name is safe for every store and as a path component."""
    if not INDEX_NAME.fullmatch(name):
        shown = name if len(name) <= 60 else f"{name[:60]}… ({len(name)} characters)"
        raise ConfigError(
            f"index_name {shown!r} cannot be used: an index name is 1 to 63 letters, digits, '_' or '-', starting with a "
            "letter or digit (no '/', '.', spaces), so that every store accepts it.")


def _check_retrieval_settings(merged: dict[str, Any]) -> None:
    choices = {"retrieval_mode": RETRIEVAL_MODES, "hybrid_fusion": HYBRID_FUSIONS, "lexical_tokenizer": LEXICAL_TOKENIZERS}
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


def _check_batch_sizes(merged: dict[str, Any]) -> None:
    """Batch sizes are whole numbers, 0 (the backend's default) or more: a negative one would run no batch at all."""
    for name in ("embedding_batch_size", "upsert_batch_size", "limit", "max_context_chunks"):
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip("+").isdigit():
            raise ConfigError(f"{name} must be a whole number, 0 or more (0 = the default); got {value!r}.")
        merged[name] = int(value)


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
    merged["batched_search"] = bool(merged["batched_search"])
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


def with_local_squad(config: ResolvedConfig) -> ResolvedConfig:
    """An ingestion config of SQuAD with no file set reads $WORKBENCH_SQUAD_PATH when it is set (instead of the hub).

    Applied where documents are read, not at resolution, so an evaluation first looks for the file in the index's own
    ingestion record (`workbench/evaluating.py`).
    """
    local = os.environ.get("WORKBENCH_SQUAD_PATH", "")
    if config["source"] == "squad" and not config["squad_path"] and local:
        return config.replace(squad_path=local)
    return config


def refuse_secrets(value: Any, path: str = "") -> None:
    """ConfigError for a secret-like name (key, token, secret, password, ...) at any depth of a config value.

    API keys travel beside the config (environment, secrets.toml, the session's fields), never inside it, so
    a config can be stored and shown. Top-level settings are known by name and checked by `resolve_config`.
    """
    if isinstance(value, Mapping):
        for name, inner in value.items():
            where = f"{path}.{name}" if path else str(name)
            folded = unicodedata.normalize("NFKC", str(name)).casefold()  # "ｔｏｋｅｎ", "ＰａｓｓＰｈｒａｓｅ" are words too
            if path and any(word in folded for word in _SECRET_WORDS):
                raise ConfigError(
                    f"{where} looks like a secret; settings must not hold secrets. Pass API keys through the "
                    "environment, .streamlit/secrets.toml or the app's password field."
                )
            refuse_secrets(inner, where)
    elif isinstance(value, (list, tuple)):
        for position, inner in enumerate(value):
            refuse_secrets(inner, f"{path}[{position}]")


def public_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a resolved config that describes the run and may be stored and shown."""
    return {key: copy.deepcopy(value) for key, value in config.items() if key != "file_paths"}
