"""The driver layer: one plain config dict in, a Hamilton driver built from it, runs recorded.

The UI and the CLI call only these functions. The config picks the store module and sets
`embedding_service` (and the other settings) as Hamilton config; API keys travel separately and
are never stored. `ingest` records a run and the index's manifest; `search` reads the manifest
to embed the question with the index's own service and model.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import graphviz
from hamilton import driver as hamilton_driver
from hamilton.execution.executors import SynchronousLocalTaskExecutor

from dataflows import batching, chunking, embeddings, evaluation, ingestion, reranking, retrieval, sources
from dataflows.stores import store_module
from ragkit.errors import ConfigError, IndexMismatchError, IndexNotFoundError, MissingApiKeyError, WorkbenchError
from ragkit.schema import Chunk, FileError, InputFile, Progress
from workbench import executors
from workbench.catalog import Catalog, index_key, now_iso
from workbench.config import (
    API_KEY_ENV_VARS,
    CHUNK_SETTING_KEYS,
    local_squad_path,
    public_config,
    resolve_api_keys,
    resolve_config,
)
from workbench.lifecycle import NodeTimer

INGEST_TARGETS = ["ingestion_counts", "file_errors"]
STREAM_TARGETS = ["run_counts", "run_file_errors", "run_timings", "maintained_index"]
PREFLIGHT_TARGETS = ["embedding_client", "embedding_dimension", "store_client", "vector_index"]
QUERY_TARGETS = ["ranked_hits"]
EVALUATION_TARGETS = ["retrieval_metrics", "latency_percentiles"]
_DATAFLOW_DIR = Path(__file__).resolve().parent


def dataflow_modules(purpose: str, vector_db: str) -> list[ModuleType]:
    """The Hamilton modules of a flow: 'ingest', 'query' or 'evaluate', with the chosen store's module."""
    store = store_module(vector_db)
    if purpose == "ingest":
        return [sources, chunking, embeddings, ingestion, store]
    if purpose == "query":
        return [embeddings, retrieval, reranking, store]
    if purpose == "evaluate":
        return [embeddings, evaluation, store]
    raise ConfigError(f"Unknown flow {purpose!r}; use 'ingest', 'query' or 'evaluate'.")


def hamilton_config(config: dict[str, Any]) -> dict[str, Any]:
    """The Hamilton config for a resolved config: every public setting, less unset ones (the nodes' defaults apply)."""
    values = {
        name: value
        for name, value in public_config(config).items()
        if value != "" and not (name == "upsert_batch_size" and not value)
    }
    return {**values, "hamilton.enable_power_user_mode": True}


def build_driver(config: dict[str, Any], purpose: str = "ingest", adapters: Iterable[Any] = ()) -> hamilton_driver.Driver:
    """A Hamilton driver for a config dict: the flow's modules, the chosen store module, and any lifecycle adapters."""
    config = resolve_config(config)
    builder = (
        hamilton_driver.Builder()
        .with_modules(*dataflow_modules(purpose, config["vector_db"]))
        .with_config(hamilton_config(config))
    )
    adapters = list(adapters)
    if adapters:
        builder = builder.with_adapters(*adapters)
    return builder.build()


def code_version() -> str:
    """The git commit of the checkout (with '+dirty' when it has changes) and a hash of the dataflow modules."""
    digest = hashlib.sha256()
    for path in sorted(_DATAFLOW_DIR.rglob("*.py")):
        digest.update(path.read_bytes())
    version = f"dataflows@{digest.hexdigest()[:12]}"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=_DATAFLOW_DIR, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=_DATAFLOW_DIR, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return f"git:{commit}{'+dirty' if dirty else ''} {version}" if commit else version


def required_api_keys(config: dict[str, Any]) -> dict[str, str]:
    """The API key inputs this config needs, by input name → service name."""
    needed = {}
    if config["embedding_service"] == "openai":
        needed["openai_api_key"] = "OpenAI"
    if config["embedding_service"] == "cohere":
        needed["cohere_api_key"] = "Cohere"
    if config["vector_db"] == "pinecone":
        needed["pinecone_api_key"] = "Pinecone"
    return needed


def _check_api_keys(config: dict[str, Any], api_keys: dict[str, str]) -> None:
    for input_name, service in required_api_keys(config).items():
        if not api_keys.get(input_name):
            raise MissingApiKeyError(service, API_KEY_ENV_VARS[input_name])


def index_key_for(config: dict[str, Any]) -> str:
    """The catalog key of the index a config points at."""
    config = resolve_config(config)
    return index_key(store_module(config["vector_db"]).store_location(config["vector_db_config"]), config["index_name"])


def _check_manifest(manifest: dict[str, Any] | None, config: dict[str, Any], dimension: int | None = None) -> None:
    if manifest is None:
        return
    built_with = (manifest["embedding_service"], manifest["model_name"])
    if built_with != (config["embedding_service"], config["model_name"]) or (dimension and dimension != manifest["dimension"]):
        raise IndexMismatchError(
            f"Index {config['index_name']!r} was built with {built_with[0]} / {built_with[1]} "
            f"({manifest['dimension']} dimensions); this run uses {config['embedding_service']} / {config['model_name']}"
            f"{f' ({dimension} dimensions)' if dimension else ''}. Use that model, or another index name."
        )


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random hex."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def _runtime_inputs(api_keys: dict[str, str], progress: Progress | None, **extra: Any) -> dict[str, Any]:
    return {**api_keys, "progress": progress or Progress(), **extra}


def _input_files(config: dict[str, Any], files: list[InputFile] | None) -> list[InputFile]:
    if files is not None:
        return files
    return [InputFile(name=Path(path).name, path=path) for path in config["file_paths"]]


def _inputs_summary(config: dict[str, Any], files: list[InputFile]) -> dict[str, Any]:
    if config["source"] == "squad":
        path = local_squad_path(config["squad_path"])
        if path:  # a local file is one split already; the split setting is not used, so the record does not claim it
            return {"source": "squad", "path": path, "split": "the whole local file", "limit": config["limit"]}
        return {"source": "squad", "split": config["squad_split"], "path": "hub: rajpurkar/squad", "limit": config["limit"]}
    return {"source": "files", "files": [f.name for f in files][:1000], "file_count": len(files)}


def _dag_dot(dr: hamilton_driver.Driver, targets: list[str], inputs: dict[str, Any]) -> str:
    try:
        digraph = dr.visualize_execution(targets, inputs=inputs, bypass_validation=True, show_legend=False)
    except Exception as error:  # a picture must never fail a run
        return f"// DAG not drawn: {type(error).__name__}: {error}"
    return digraph.source if digraph is not None else ""


def build_stream_driver(config: dict[str, Any], adapters: Iterable[Any] = ()) -> hamilton_driver.Driver:
    """The streaming ingestion flow for a config: the corpus in batches (Parallelizable), each batch through the
    per-batch flow as one task on the configured executor (sync, threads, processes, Ray), collected, then index upkeep."""
    config = resolve_config(config)
    builder = (
        hamilton_driver.Builder()
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_modules(sources, batching, store_module(config["vector_db"]))
        .with_config(hamilton_config(config))
        .with_local_executor(SynchronousLocalTaskExecutor())
        .with_remote_executor(executors.task_executor(config))
    )
    adapters = list(adapters)
    if adapters:
        builder = builder.with_adapters(*adapters)
    return builder.build()


def ingest_batch(job: batching.IngestJob, batch: batching.DocumentBatch) -> batching.BatchReport:
    """Run the per-batch ingestion flow (sources → chunking → embeddings → ingestion → store) on one batch of documents.

    In the driver's process the batch reuses the run's loaded model and open index (`job.shared`),
    and its nodes report to the caller's adapters and progress; in a worker process the flow loads
    the model (once per process) and opens the index itself.
    """
    timer = NodeTimer()
    dr = build_driver(job.config, "ingest", [timer, *job.adapters])
    inputs = _runtime_inputs(job.api_keys, job.progress, input_files=list(batch.files), run_id=job.run_id,
                             ingested_at=job.ingested_at)
    overrides = dict(job.shared)
    if job.config["source"] == "squad":
        overrides["squad_paragraphs"] = list(batch.squad_paragraphs)
    result = dr.execute(INGEST_TARGETS, inputs=inputs, overrides=overrides)
    return batching.BatchReport(
        number=batch.number,
        documents=batch.size,
        counts=result["ingestion_counts"],
        file_errors=tuple(result["file_errors"]),
        timings=dict(timer.timings),
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


def ingest(
    config: dict[str, Any],
    files: list[InputFile] | None = None,
    api_keys: dict[str, str] | None = None,
    adapters: Iterable[Any] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the ingestion flow for a config and return its run record (also stored in the catalog).

    Before any document is read: API keys are checked, the model is loaded, the index is opened or
    created and checked against its manifest. Then the corpus streams through in batches of
    `ingest_batch_documents` documents on the configured `executor`; each finished batch is added
    to the run record, so a run killed mid-way shows as interrupted with what it finished, and a
    re-run skips the chunks already written. After the last batch the store's index upkeep runs
    (LanceDB: ANN index past `ann_index_threshold` rows, full-text index, compaction). A failure at
    any point is recorded in the run record and re-raised.

    Lifecycle `adapters` and the steps of `progress` follow the nodes of each batch with the
    synchronous executor; with the others, progress reports ("batches", done, total).
    """
    config = resolve_config(config)
    keys = resolve_api_keys(api_keys)
    _check_api_keys(config, keys)
    catalog = Catalog(config["data_dir"])
    key = index_key_for(config)
    _check_manifest(catalog.manifest(key), config)
    files = _input_files(config, files)
    run_id, ingested_at = new_run_id(), now_iso()
    progress = progress or Progress()
    adapters = list(adapters)
    timer = NodeTimer()
    # The preflight nodes (model, index) report to the caller's adapters too, so a live DAG sees them finish.
    dr = build_driver(config, "ingest", [timer, *adapters])
    inputs = _runtime_inputs(keys, progress, input_files=files, run_id=run_id, ingested_at=ingested_at)
    dot = _dag_dot(dr, INGEST_TARGETS, inputs)

    def on_batch(report: batching.BatchReport, reports: list[batching.BatchReport]) -> None:
        catalog.record_batch(run_id, report.number, report.documents, report.counts, batching.run_counts(reports), report.worker)

    tracker = executors.RunTracker(on_batch, progress)
    catalog.start_run(run_id, "ingest", key, public_config(config), _inputs_summary(config, files), code_version())
    try:
        prepared = dr.execute(PREFLIGHT_TARGETS, inputs=inputs)
        _check_manifest(catalog.manifest(key), config, prepared["embedding_dimension"])
        manifest = {
            "vector_db": config["vector_db"],
            "store_location": key.rsplit("#", 1)[0],
            "index_name": config["index_name"],
            "vector_db_config": config["vector_db_config"],
            "embedding_service": config["embedding_service"],
            "model_name": config["model_name"],
            "dimension": prepared["embedding_dimension"],
            "chunking": {name: config[name] for name in CHUNK_SETTING_KEYS},
        }
        previous = catalog.manifest(key)
        catalog.save_manifest(key, manifest, run_id, previous["chunk_count"] if previous else 0)
        follows_nodes = config["executor"] == "sync"
        job = batching.IngestJob(
            config=config, run_id=run_id, ingested_at=ingested_at, api_keys=keys,
            shared=prepared if executors.runs_in_process(config["executor"]) else {},
            adapters=tuple(adapters) if follows_nodes else (),
            progress=progress if follows_nodes else Progress(),
        )
        stream = build_stream_driver(config, [tracker])
        result = stream.execute(
            STREAM_TARGETS,
            inputs=_runtime_inputs(keys, progress, input_files=files, ingest_job=job),
            overrides={"store_client": prepared["store_client"]},
        )
        total = dr.execute(["chunk_count"], inputs=inputs, overrides={"store_client": prepared["store_client"]})
    except BaseException as error:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        message = str(error) if isinstance(error, WorkbenchError) else f"{type(error).__name__}: {error}"
        counts = batching.run_counts(tracker.reports) if tracker.reports else None
        if isinstance(error, WorkbenchError) and tracker.total_batches:
            # Say what the run got done before it stopped, in the record and in the error the user sees.
            written = counts["written"] if counts else 0
            message += (f" Before it stopped, the run had finished {len(tracker.reports)} of {tracker.total_batches} "
                        f"batches ({written} chunk{'' if written == 1 else 's'} written); a re-run skips what is stored.")
            error.args = (message,)
        catalog.finish_run(run_id, status, counts, _run_timings(timer.timings, tracker), error=message, dag_dot=dot)
        raise
    file_errors = [{"source_name": e.source_name, "reason": e.reason} for e in result["run_file_errors"]]
    timings = {**_run_timings(timer.timings, tracker), **result["run_timings"]}
    catalog.save_manifest(key, manifest, run_id, total["chunk_count"])
    catalog.finish_run(run_id, "succeeded", result["run_counts"], timings, file_errors, dag_dot=dot)
    return catalog.run(run_id) or {}


def _run_timings(preflight: dict[str, float], tracker: executors.RunTracker) -> dict[str, float]:
    """Node times of a streaming run outside its batches: the preflight nodes and the outer flow's nodes."""
    return {**preflight, **tracker.timings}


def index_state(config: dict[str, Any], api_keys: dict[str, str] | None = None) -> dict[str, Any]:
    """The physical state of the index a config points at: rows, fragments, ANN vector index (type), full-text index."""
    config = resolve_config(config)
    dr = (
        hamilton_driver.Builder()
        .with_modules(store_module(config["vector_db"]))
        .with_config(hamilton_config(config))
        .build()
    )
    return dr.execute(["index_state"], inputs=_runtime_inputs(resolve_api_keys(api_keys), None))["index_state"]


def execute(
    config: dict[str, Any],
    final_vars: list[str],
    purpose: str = "ingest",
    files: list[InputFile] | None = None,
    api_keys: dict[str, str] | None = None,
    **inputs: Any,
) -> dict[str, Any]:
    """Compute any nodes of a flow (for example 'chunks' to preview chunking without embedding)."""
    config = resolve_config(config)
    dr = build_driver(config, purpose)
    runtime = _runtime_inputs(resolve_api_keys(api_keys), None, input_files=_input_files(config, files), **inputs)
    return dr.execute(final_vars, inputs=runtime)


def preview_chunks(
    config: dict[str, Any], files: list[InputFile] | None = None, api_keys: dict[str, str] | None = None
) -> tuple[list[Chunk], list[FileError]]:
    """Run the ingestion flow only up to chunking: the chunks it would embed, and the files that failed."""
    result = execute(config, ["chunks", "file_errors"], files=files, api_keys=api_keys)
    return result["chunks"], result["file_errors"]


def dag(config: dict[str, Any], purpose: str = "ingest", custom_style_function: Callable | None = None) -> graphviz.Digraph:
    """The DAG this exact config resolves to, as a graphviz Digraph (no `dot` binary needed to render it in a browser)."""
    config = resolve_config(config)
    dr = build_driver(config, purpose)
    targets = {"ingest": INGEST_TARGETS, "query": QUERY_TARGETS, "evaluate": EVALUATION_TARGETS}.get(purpose, QUERY_TARGETS)
    return dr.visualize_execution(
        targets, inputs={}, bypass_validation=True, show_legend=False, custom_style_function=custom_style_function
    )


def index_manifest(config: dict[str, Any]) -> dict[str, Any]:
    """The manifest of the index a config points at; IndexNotFoundError if it was never built here."""
    config = resolve_config(config)
    manifest = Catalog(config["data_dir"]).manifest(index_key_for(config))
    if manifest is None:
        raise IndexNotFoundError(
            f"No index {config['index_name']!r} in {config['vector_db']} for this data folder ({config['data_dir']}). "
            "Ingest documents into it first."
        )
    return manifest


_QUERY_RESOURCES: dict[str, dict[str, Any]] = {}


def _resource_fingerprint(config: dict[str, Any], inputs: dict[str, Any]) -> str:
    """A key for clients built from a config and its API keys (hashed: the keys are never kept in clear)."""
    return hashlib.sha256(
        json.dumps([hamilton_config(config), sorted((k, v) for k, v in inputs.items() if k.endswith("_api_key"))],
                   sort_keys=True, default=str).encode()
    ).hexdigest()


def _query_resources(dr: hamilton_driver.Driver, config: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Model, embedding client, store client (and reranker), created once per process per config.

    The index handle is not kept: it is opened per search, so a search sees what was written since
    (a LanceDB table handle stays at the version it was opened with).
    """
    fingerprint = _resource_fingerprint(config, inputs)
    if fingerprint not in _QUERY_RESOURCES:
        targets = ["embedding_client", "embedding_dimension", "store_client"]
        if config["reranker"] != "none":
            targets.append("reranker_client")
        _QUERY_RESOURCES[fingerprint] = dr.execute(targets, inputs=inputs)
    return _QUERY_RESOURCES[fingerprint]


_QUERY_DRIVERS: dict[str, hamilton_driver.Driver] = {}


def _query_driver(config: dict[str, Any]) -> hamilton_driver.Driver:
    """The query flow's Hamilton driver for a config, built once per process (building costs more than a search)."""
    fingerprint = json.dumps(hamilton_config(config), sort_keys=True, default=str)
    if fingerprint not in _QUERY_DRIVERS:
        _QUERY_DRIVERS[fingerprint] = build_driver(config, "query")
    return _QUERY_DRIVERS[fingerprint]


def query_config(config: dict[str, Any]) -> dict[str, Any]:
    """A config for querying an index: its embedding service and model come from the index's manifest."""
    config = resolve_config(config)
    manifest = index_manifest(config)
    return resolve_config(config, embedding_service=manifest["embedding_service"], model_name=manifest["model_name"])


def _check_query_api_keys(config: dict[str, Any], api_keys: dict[str, str]) -> None:
    _check_api_keys(config, api_keys)
    if config["reranker"] == "cohere" and not api_keys.get("cohere_api_key"):
        raise MissingApiKeyError("Cohere Rerank", API_KEY_ENV_VARS["cohere_api_key"])


def _open_query_flow(
    config: dict[str, Any], manifest: dict[str, Any], keys: dict[str, str], top_k: int
) -> tuple[hamilton_driver.Driver, dict[str, Any], dict[str, Any]]:
    """The query driver, its runtime inputs, and the handles every search reuses (clients, index, full-text index)."""
    dr = _query_driver(config)
    inputs = _runtime_inputs(keys, None, question="", top_k=int(top_k))
    handles = dict(_query_resources(dr, config, inputs))
    _check_manifest(manifest, config, handles["embedding_dimension"])
    handles.update(dr.execute(["existing_index"], inputs=inputs, overrides=handles))
    if config["retrieval_mode"] != "dense":
        handles.update(dr.execute(["text_index"], inputs=inputs, overrides=handles))
    return dr, inputs, handles


def _ranked_hits(
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


def search(
    config: dict[str, Any], question: str, top_k: int = 5, api_keys: dict[str, str] | None = None
) -> dict[str, Any]:
    """Top-k chunks for a question, with scores and full lineage, plus how long embedding, search (and reranking) took.

    The retrieval mode, fusion and reranker come from the config (`retrieval_mode`, `reranker`, ...).
    """
    if not question.strip():
        raise ConfigError("The question is empty.")
    config = query_config(config)
    manifest = index_manifest(config)
    keys = resolve_api_keys(api_keys)
    _check_query_api_keys(config, keys)
    dr, inputs, handles = _open_query_flow(config, manifest, keys, top_k)
    started = time.perf_counter()
    vector = None
    if config["retrieval_mode"] != "lexical":
        vector = dr.execute(["query_vector"], inputs={**inputs, "question": question}, overrides=handles)["query_vector"]
    embed_ms = (time.perf_counter() - started) * 1000
    reranking = config["reranker"] != "none"
    hits, search_ms, rerank_ms = _ranked_hits(dr, inputs, handles, question, vector, reranking)
    latency = {"embed": round(embed_ms, 2), "search": round(search_ms, 2)}
    if rerank_ms is not None:
        latency["rerank"] = round(rerank_ms, 2)
    latency["total"] = round((time.perf_counter() - started) * 1000, 2)
    return {"question": question, "hits": hits, "manifest": manifest, "latency_ms": latency}


def _evaluation_squad_path(config: dict[str, Any], squad_path: str, catalog: Catalog, key: str) -> str:
    """The SQuAD file to take questions from: the argument, the config, the index's last SQuAD ingestion, the environment."""
    if squad_path or config["squad_path"]:
        return str(Path(squad_path or config["squad_path"]).expanduser().resolve())
    for record in catalog.runs(limit=1000, key=key):
        recorded = record["config"].get("squad_path") if record["config"].get("source") == "squad" else ""
        if recorded and Path(recorded).expanduser().exists():
            return str(Path(recorded).expanduser().resolve())
    return os.environ.get("WORKBENCH_SQUAD_PATH", "")


def evaluate(
    config: dict[str, Any],
    sample_size: int = 200,
    seed: int = 0,
    k_values: Iterable[int] = (1, 5, 10, 20),
    api_keys: dict[str, str] | None = None,
    squad_path: str = "",
) -> dict[str, Any]:
    """Score retrieval on an index of SQuAD paragraphs: recall@k, MRR@10, nDCG@10 and latency, stored as an evaluation record.

    The questions are a seeded sample (`sample_size` 0 = all) of the SQuAD questions whose paragraph
    the index holds, so two configs on the same index and seed answer the same questions.
    """
    config = query_config(config)
    manifest = index_manifest(config)
    keys = resolve_api_keys(api_keys)
    _check_query_api_keys(config, keys)
    catalog = Catalog(config["data_dir"])
    key = index_key_for(config)
    k_values = sorted({int(k) for k in k_values if int(k) > 0})
    if not k_values:
        raise ConfigError("k_values must hold at least one positive number, e.g. 1, 5, 10, 20.")
    depth = max(k_values + [evaluation.RANK_METRIC_DEPTH])
    eval_id, started_at, started = new_run_id(), now_iso(), time.perf_counter()
    dr_query, query_inputs, handles = _open_query_flow(config, manifest, keys, depth)
    reranking = config["reranker"] != "none"

    def search_one(question: str, vector: Any) -> evaluation.QuestionOutcome:
        hits, search_ms, rerank_ms = _ranked_hits(dr_query, query_inputs, handles, question, vector, reranking)
        return evaluation.QuestionOutcome(tuple(hit["document_id"] for hit in hits), search_ms, rerank_ms)

    clock = evaluation.EmbeddingClock()
    path = _evaluation_squad_path(config, squad_path, catalog, key)
    inputs = _runtime_inputs(
        keys, Progress(clock), embedding_clock=clock, evaluation_squad_path=path, sample_size=int(sample_size),
        seed=int(seed), k_values=k_values, searcher=evaluation.Searcher(search_one),
    )
    shared = {name: handles[name] for name in ("embedding_client", "embedding_dimension", "store_client", "existing_index")}
    batch_size = int(config["embedding_batch_size"] or 0)
    if config["embedding_service"] == "sentence_transformers":
        batch_size = max(batch_size, evaluation.LOCAL_QUESTION_BATCH_SIZE)
    dr = build_driver({**config, "embedding_batch_size": batch_size}, "evaluate")
    result = dr.execute(
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


def evaluations(data_dir: str = "", index_key: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Past evaluation records of a data folder (optionally of one index), newest first."""
    return Catalog(resolve_config({"data_dir": data_dir})["data_dir"]).evaluations(key=index_key, limit=limit)


def runs(data_dir: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """Run records of a data folder, newest first."""
    return Catalog(resolve_config({"data_dir": data_dir})["data_dir"]).runs(limit=limit)


def indexes(data_dir: str = "") -> list[dict[str, Any]]:
    """Manifests of every index built from a data folder."""
    return Catalog(resolve_config({"data_dir": data_dir})["data_dir"]).manifests()


def run_chunks(config: dict[str, Any], run_id: str, limit: int = 200, api_keys: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The chunks a run wrote (those still stored), from the run's own index."""
    config = resolve_config(config)
    keys = resolve_api_keys(api_keys)
    dr = _query_driver(config)
    return dr.execute(["run_chunks"], inputs=_runtime_inputs(keys, None, run_id=run_id, run_chunk_limit=int(limit)))["run_chunks"]


_ANSWER_DRIVERS: dict[str, hamilton_driver.Driver] = {}
_LLM_CLIENTS: dict[str, Any] = {}


def answer(
    config: dict[str, Any],
    question: str,
    history: list[dict] | None = None,
    top_k: int = 5,
    api_keys: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Retrieve for a question, build the prompt, and start the answer stream of the configured LLM.

    Returns the hits, the exact chunks and messages sent, the LLM service, and `stream`, an iterator
    of text pieces (consume it to get the answer; errors surface as ServiceError while streaming).
    """
    from dataflows import generation

    retrieved = search(config, question, top_k=top_k, api_keys=api_keys)
    config = resolve_config(config)
    keys = resolve_api_keys(api_keys)
    fingerprint = json.dumps(hamilton_config(config), sort_keys=True, default=str)
    if fingerprint not in _ANSWER_DRIVERS:
        _ANSWER_DRIVERS[fingerprint] = (
            hamilton_driver.Builder().with_modules(generation).with_config(hamilton_config(config)).build()
        )
    dr = _ANSWER_DRIVERS[fingerprint]
    inputs = _runtime_inputs(keys, None, question=question, chat_history=list(history or []),
                             search_hits=retrieved["hits"])
    overrides = {}
    if "llm_client" in {variable.name for variable in dr.list_available_variables()}:  # extractive mode has no LLM
        client_key = _resource_fingerprint(config, inputs)
        if client_key not in _LLM_CLIENTS:  # a local llama.cpp model takes seconds to load: once per process
            _LLM_CLIENTS[client_key] = dr.execute(["llm_client"], inputs=inputs)["llm_client"]
        overrides["llm_client"] = _LLM_CLIENTS[client_key]
    result = dr.execute(["context_chunks", "prompt_messages", "answer_stream"], inputs=inputs, overrides=overrides)
    return {
        "hits": retrieved["hits"],
        "latency_ms": retrieved["latency_ms"],
        "context_chunks": result["context_chunks"],
        "prompt_messages": result["prompt_messages"],
        "stream": result["answer_stream"],
        "llm_service": config["llm_service"],
        "llm_model": config["llm_model"],
    }
