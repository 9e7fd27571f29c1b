"""Flow building: which Hamilton modules make each flow, and the one place a Hamilton driver is built.

A flow's modules are its node modules plus the module of each backend the config picks (read from
the registries): swapping a store, an embedding service, an LLM or a reranker is passing another
module. Drivers without lifecycle adapters are cached per process by purpose and config fingerprint
(building one costs more than a search); a driver with adapters (a run's timer, a live DAG) is built
for that run.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import graphviz
from hamilton import driver as hamilton_driver
from hamilton.execution.executors import SynchronousLocalTaskExecutor

from dataflows import (
    batching,
    chunking,
    documents,
    embeddings,
    evaluation,
    generation,
    ingestion,
    question_generation,
    retrieval,
    sources,
)
from ragkit.backends import INDEX_EMBEDDINGS
from ragkit.errors import ConfigError
from workbench import executors
from workbench.config import ResolvedConfig, public_config, resolve_config

INGEST_TARGETS = ["ingestion_counts", "file_errors", "file_records"]
STREAM_TARGETS = ["run_counts", "run_file_errors", "run_timings", "maintained_index"]
PREFLIGHT_TARGETS = ["embedding_client", "embedding_dimension", "store_client", "vector_index"]
QUERY_TARGETS = ["ranked_hits"]
EVALUATION_TARGETS = ["retrieval_metrics", "latency_percentiles"]
ANSWER_TARGETS = ["context_chunks", "prompt_messages", "answer_stream"]
QUESTION_GENERATION_TARGETS = ["generated_candidates"]
DOCUMENT_TARGETS = ["index_documents"]
DELETE_TARGETS = ["deletion_counts"]
RETRIEVAL_QUESTION_TARGETS = ["retrieval_question"]  # run first: the answer flow makes a follow-up standalone, then retrieves
TARGETS = {"ingest": INGEST_TARGETS, "query": QUERY_TARGETS, "evaluate": EVALUATION_TARGETS,
           "answer": RETRIEVAL_QUESTION_TARGETS + ANSWER_TARGETS,
           "stream": STREAM_TARGETS, "store": ["index_state"], "generate_questions": QUESTION_GENERATION_TARGETS,
           "documents": DELETE_TARGETS}
_REPO = Path(__file__).resolve().parent.parent
_NODE_CODE = (_REPO / "dataflows", _REPO / "ragkit")  # what a run's results depend on

_DRIVERS: dict[tuple[str, str], hamilton_driver.Driver] = {}
_DRIVERS_LOCK = threading.Lock()


def flow_modules(purpose: str, config: ResolvedConfig) -> list[ModuleType]:
    """The Hamilton modules of a flow — 'ingest', 'query', 'evaluate', 'answer', 'stream', 'store', 'generate_questions' or
    'documents' (list and delete an index's documents) — with the chosen backends'."""
    store = config.spec("vector_db").load()
    embedder = config.spec("embedding_service").load()
    if purpose == "ingest":
        return [sources, chunking, embeddings, embedder, ingestion, store]
    if purpose == "query":
        return [embeddings, embedder, retrieval, config.spec("reranker").load(), store]
    if purpose == "evaluate":
        return [embeddings, embedder, evaluation, store]
    if purpose == "answer":  # an LLM that embeds text (the offline extractive one) gets the index's embedding modules
        llm = config.spec("llm_service")
        return [generation, llm.load(), *((embeddings, embedder) if llm.has(INDEX_EMBEDDINGS) else ())]
    if purpose == "stream":
        return [sources, batching, store]
    if purpose == "store":
        return [store]
    if purpose == "documents":
        return [documents, store]
    if purpose == "generate_questions":
        return [question_generation, config.spec("llm_service").load(), store]
    raise ConfigError(f"Unknown flow {purpose!r}; use one of {', '.join(TARGETS)}.")


def hamilton_config(config: ResolvedConfig) -> dict[str, Any]:
    """The Hamilton config of a resolved config: every public setting, less unset ones (the nodes' defaults apply)."""
    values = {
        name: value
        for name, value in public_config(config).items()
        if value != "" and not (name == "upsert_batch_size" and not value)
    }
    return {**values, "hamilton.enable_power_user_mode": True}


def _build(purpose: str, config: ResolvedConfig, adapters: list[Any]) -> hamilton_driver.Driver:
    """The one place a Hamilton driver is built."""
    builder = hamilton_driver.Builder().with_modules(*flow_modules(purpose, config)).with_config(hamilton_config(config))
    if purpose == "stream":  # the corpus in batches (Parallelizable), each batch one task on the configured executor
        builder = (builder.enable_dynamic_execution(allow_experimental_mode=True)
                   .with_local_executor(SynchronousLocalTaskExecutor())
                   .with_remote_executor(executors.task_executor(config)))
    if purpose == "generate_questions":  # one task per sampled chunk, one LLM call at a time (a local model is not thread-safe)
        builder = (builder.enable_dynamic_execution(allow_experimental_mode=True)
                   .with_local_executor(SynchronousLocalTaskExecutor())
                   .with_remote_executor(SynchronousLocalTaskExecutor()))
    if adapters:
        builder = builder.with_adapters(*adapters)
    return builder.build()


def driver_for(config: Mapping[str, Any], purpose: str = "ingest", adapters: Iterable[Any] = ()) -> hamilton_driver.Driver:
    """The driver of a flow for a config: cached by purpose and config fingerprint, or built afresh with adapters."""
    config = resolve_config(config)
    adapters = list(adapters)
    if adapters:
        return _build(purpose, config, adapters)
    key = (purpose, config.fingerprint)
    with _DRIVERS_LOCK:
        if key not in _DRIVERS:
            _DRIVERS[key] = _build(purpose, config, [])
        return _DRIVERS[key]


def has_node(dr: hamilton_driver.Driver, name: str) -> bool:
    """Whether a driver's flow has a node (the extractive LLM has no `llm_client`): a look-up in its graph, which
    `list_available_variables` would copy whole (the 102 nodes of the query flow: 0.2 ms of every search)."""
    return name in dr.graph.nodes


def dag(config: Mapping[str, Any], purpose: str = "ingest", custom_style_function: Callable | None = None) -> graphviz.Digraph:
    """The DAG this exact config resolves to, as a graphviz Digraph (no `dot` binary needed to render it in a browser)."""
    return driver_for(config, purpose).visualize_execution(
        TARGETS.get(purpose, QUERY_TARGETS), inputs={}, bypass_validation=True, show_legend=False,
        custom_style_function=custom_style_function,
    )


def dag_dot(dr: hamilton_driver.Driver, targets: list[str], inputs: dict[str, Any]) -> str:
    """The DOT source of the DAG a run executes (stored with the run); a comment instead if it cannot be drawn."""
    try:
        digraph = dr.visualize_execution(targets, inputs=inputs, bypass_validation=True, show_legend=False)
    except Exception as error:  # a picture must never fail a run
        return f"// DAG not drawn: {type(error).__name__}: {error}"
    return digraph.source if digraph is not None else ""


def node_code_digest() -> str:
    """A hash of the node code (dataflows/ and ragkit/): what a run's results depend on."""
    digest = hashlib.sha256()
    for folder in _NODE_CODE:
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def code_version() -> str:
    """The git commit of the checkout (with '+dirty' when the node code has changes) and a hash of the node code."""
    version = f"dataflows@{node_code_digest()[:12]}"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=_REPO, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *map(str, _NODE_CODE)], cwd=_REPO, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return f"git:{commit}{'+dirty' if dirty else ''} {version}" if commit else version


def runtime_inputs(api_keys: Mapping[str, str], progress: Any = None, **extra: Any) -> dict[str, Any]:
    """A flow's driver inputs: the API keys (each an input of the nodes that take it), a progress callback, and the rest."""
    from ragkit.schema import Progress

    return {**api_keys, "progress": progress or Progress(), **extra}
