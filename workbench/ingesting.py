"""Ingestion runs: preflight (keys, model, index), the corpus streamed through in batches, index upkeep, the run record."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from dataflows.sources import SAME_PATH_REASON
from ragkit.backends import EMBEDDED
from ragkit.batches import BatchReport, DocumentBatch, IngestJob, total_counts
from ragkit.errors import ConfigError, StoreUnavailableError, WorkbenchError
from ragkit.failures import expected_failure
from ragkit.resource_use import ResourceMeter
from ragkit.schema import Chunk, Document, FileError, FileRecord, InputFile, Progress
from ragkit.squad import read_squad_file
from workbench import executors
from workbench.catalog import Catalog, new_run_id, now_iso
from workbench.config import CHUNK_SETTING_KEYS, ResolvedConfig, public_config, resolve_config, with_local_squad
from workbench.documents import deleted_from_store, stored_documents
from workbench.flows import (
    INGEST_TARGETS,
    PREFLIGHT_TARGETS,
    STREAM_TARGETS,
    code_version,
    dag_dot,
    driver_for,
    node_code_digest,
    runtime_inputs,
)
from workbench.indexes import check_manifest, index_key_for, with_index_model
from workbench.kept_sources import keep_sources, release_sources
from workbench.keys import check_api_keys, resolve_api_keys
from workbench.lifecycle import EventRelay, EventSink, NodeStatusListener, NodeTimer


def _input_files(config: ResolvedConfig, files: list[InputFile] | None) -> list[InputFile]:
    if files is not None:
        return files
    root = Path(config["ingest_root"])
    return [InputFile(name=_relative_name(Path(path), root), path=path) for path in config["file_paths"]]


def _relative_name(path: Path, root: Path) -> str:
    """A file's name in the index: its path relative to the ingestion root, or its base name when outside it
    (two such files of one name in a run: the second is refused; in later runs: replaced, and counted)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.name


def _inputs_summary(config: ResolvedConfig, files: list[InputFile]) -> dict[str, Any]:
    if config["source"] == "squad":
        if config["squad_path"]:  # a local file is one split already; the split setting is not used, so the record does not claim it
            return {"source": "squad", "path": config["squad_path"], "split": "the whole local file", "limit": config["limit"]}
        return {"source": "squad", "split": config["squad_split"], "path": "hub: rajpurkar/squad", "limit": config["limit"]}
    return {"source": "files", "files": [f.name for f in files][:1000], "file_count": len(files)}


def ingest_batch(job: IngestJob, batch: DocumentBatch) -> BatchReport:
    """Run the per-batch ingestion flow (sources → chunking → embeddings → ingestion → store) on one batch of documents.

    In the driver's process the batch reuses the run's loaded model and open index (`job.shared`),
    and its nodes report to the caller's adapters; in a worker process the flow loads the model (once
    per process) and opens the index itself. Wherever it runs, its node events and progress go to
    `job.events`, tagged with the batch number.
    """
    timer = NodeTimer()
    adapters, progress = [timer, *job.adapters], job.progress
    if job.events is not None:
        adapters.append(job.events.listener(batch.number))
        progress = job.events.progress(batch.number)
    dr = driver_for(job.config, "ingest", adapters)
    inputs = runtime_inputs(job.api_keys, progress, input_files=list(batch.files), run_id=job.run_id,
                            ingested_at=job.ingested_at, previous_file_records=_previous_file_records(job.config, batch))
    overrides = dict(job.shared)
    if job.config["source"] == "squad":
        overrides["squad_paragraphs"] = list(batch.squad_paragraphs)
    result = dr.execute(INGEST_TARGETS, inputs=inputs, overrides=overrides)
    _save_file_records(job, result["file_records"])  # the batch is stored: its files may be skipped from now on
    return BatchReport(
        number=batch.number,
        documents=batch.size,
        counts=result["ingestion_counts"],
        file_errors=tuple(result["file_errors"]),
        timings=dict(timer.timings),
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


def _save_file_records(job: IngestJob, records: list[FileRecord]) -> None:
    """Record the files a batch stored, from the process that ran it (they never travel with its report, which the run
    keeps to the end: 100k records held there grew the driver by tens of MB). A record not saved (a full disk) only
    means the file is parsed again next time."""
    if not records:
        return
    try:
        Catalog(job.config["data_dir"]).save_file_records(index_key_for(job.config), file_settings(job.config), job.run_id,
                                                          records)
    except (WorkbenchError, sqlite3.Error, OSError):
        pass


def _previous_file_records(config: ResolvedConfig, batch: DocumentBatch) -> dict[str, FileRecord]:
    """The catalog's records of the batch's files, made under this run's file settings (none for SQuAD; none if the catalog
    cannot be read: every file is then parsed, as on a first run)."""
    if not batch.files:
        return {}
    try:
        return Catalog(config["data_dir"]).file_records(index_key_for(config), file_settings(config),
                                                        [Document.id_for_file(input_file.name) for input_file in batch.files])
    except (WorkbenchError, sqlite3.Error, OSError):
        return {}


_PARSER_PACKAGES = ("pypdf", "pypdfium2", "python-docx", "beautifulsoup4")  # their versions change what a file reads as


def file_settings(config: Mapping[str, Any]) -> str:
    """A digest of what makes a file's chunks: the chunk and parser settings, the node code and the parsers' versions. A
    file record made under others is not used, so changing any of them re-parses every file once."""
    return _file_settings(json.dumps({name: config[name] for name in (*CHUNK_SETTING_KEYS, "max_pdf_pages")}, sort_keys=True))


@functools.cache
def _file_settings(settings_json: str) -> str:
    versions = []
    for package in _PARSER_PACKAGES:
        try:
            versions.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} missing")
    return hashlib.sha256(f"{settings_json}\0{node_code_digest()}\0{','.join(versions)}".encode()).hexdigest()[:32]


def ingest(
    config: Mapping[str, Any],
    files: list[InputFile] | None = None,
    api_keys: Mapping[str, str] | None = None,
    adapters: Iterable[Any] = (),
    progress: Progress | None = None,
    sync: bool = False,
) -> dict[str, Any]:
    """Run the ingestion flow for a config and return its run record (also stored in the catalog).

    With `sync`, the run's input files are the whole index: documents of the index not among them are deleted
    after the run (counted in its record as deleted_documents, deleted_chunks). The files a run stored are kept
    in the data folder (`keep_sources_mb`, see `workbench/kept_sources.py`) for "Open source".

    Before any document is read: API keys are checked, the model is loaded, the index is opened or
    created and checked against its manifest. Then the corpus streams through in batches of
    `ingest_batch_documents` documents on the configured `executor`; each finished batch is added
    to the run record, so a run killed mid-way shows as interrupted with what it finished, and a
    re-run skips the chunks already written. After the last batch the store's index upkeep runs
    (LanceDB: ANN index past `ann_index_threshold` rows, full-text index, compaction). A failure at
    any point is recorded in the run record and re-raised.

    Progress reports ("batches", done, total) from the driver process. With every executor, each
    `NodeStatusListener` among the `adapters` hears the nodes of every batch (relayed from the workers
    through a queue for threads, processes and Ray), and `progress` the batches' steps, added up over
    batches; other adapters follow the nodes of each batch with the synchronous executor only.
    """
    requested = config
    config = with_local_squad(resolve_config(config))
    keys = resolve_api_keys(api_keys)
    check_api_keys(config, keys, "ingest")
    if sync and config["source"] != "files":
        raise ConfigError("Sync makes this run's input files the whole index, so it needs files (--source files), not SQuAD.")
    if config["source"] == "squad" and config["squad_path"]:
        read_squad_file(config["squad_path"], limit=1)  # a file of the wrong shape is refused before any model loads
    catalog = Catalog(config["data_dir"])
    key = index_key_for(config)
    existing = catalog.manifest(key)
    config = with_index_model(requested, config, existing)
    check_manifest(existing, config)
    files = _input_files(config, files)
    run_id, ingested_at = new_run_id(), now_iso()
    progress = progress or Progress()
    adapters = list(adapters)
    timer = NodeTimer()
    # The preflight nodes (model, index) report to the caller's adapters too, so a live DAG sees them finish.
    dr = driver_for(config, "ingest", [timer, *adapters])
    inputs = runtime_inputs(keys, progress, input_files=files, run_id=run_id, ingested_at=ingested_at)
    dot = dag_dot(dr, INGEST_TARGETS, inputs)

    def on_batch(report: BatchReport, reports: list[BatchReport]) -> None:
        totals = total_counts(reports)
        catalog.record_batch(run_id, report.number, report.documents, report.counts, totals, report.worker)
        if manifest is not None:  # a run killed after this batch leaves a manifest that counts what it stored
            catalog.save_manifest(key, manifest, run_id, chunks_before + totals.get("written", 0) - totals.get("deleted_stale", 0))

    tracker = executors.RunTracker(on_batch, progress)
    summary = {**_inputs_summary(config, files), **({"sync": True} if sync else {})}
    catalog.start_run(run_id, "ingest", key, public_config(config), summary, code_version())
    prepared: dict[str, Any] = {}
    manifest: dict[str, Any] | None = None
    chunks_before = 0
    meter = ResourceMeter.start()
    try:
        prepared = dr.execute(PREFLIGHT_TARGETS, inputs=inputs)
        check_manifest(catalog.manifest(key), config, prepared["embedding_dimension"])
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
        chunks_before = previous["chunk_count"] if previous else 0
        catalog.save_manifest(key, manifest, run_id, chunks_before)
        follows_nodes = config["executor"] == "sync"
        listeners = [adapter for adapter in adapters if isinstance(adapter, NodeStatusListener)]
        relay = EventRelay(listeners, progress)
        with executors.event_queue(config) as events:
            sink = relay.sink() if events is None else EventSink(events)
            job = IngestJob(
                config=config, run_id=run_id, ingested_at=ingested_at, run_batch=ingest_batch, api_keys=keys,
                shared=prepared if executors.runs_in_process(config["executor"]) else {},
                adapters=tuple(a for a in adapters if a not in listeners) if follows_nodes else (),
                events=sink,
            )
            stream = driver_for(config, "stream", [tracker])
            result = _run_relaying(relay, sink if events is not None else None, lambda: stream.execute(
                STREAM_TARGETS,
                inputs=runtime_inputs(keys, progress, input_files=files, ingest_job=job),
                overrides={"store_client": prepared["store_client"]},
            ))
        synced = _synced(config, keys, manifest, files, catalog, key) if sync else {}
        total = dr.execute(["chunk_count"], inputs=inputs, overrides={"store_client": prepared["store_client"]})
    except BaseException as error:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        raised = expected_failure(error) or error  # a full disk, damaged index files...: its one-line message
        message = str(raised) if isinstance(raised, WorkbenchError) else f"{type(error).__name__}: {error}"
        counts = total_counts(tracker.reports) if tracker.reports else None
        # The record claims what the store holds: the rows this run wrote, read back (a batch that failed half-way
        # wrote some), and the manifest's chunk count from the store, not from the batches that finished.
        stored = _stored_after_failure(config, error, dr, inputs, prepared, run_id)
        if stored is not None:
            counts = {**(counts or total_counts([])), "written": stored["written"]}
            if manifest is not None:
                _quietly(lambda: catalog.save_manifest(key, manifest, run_id, stored["chunk_count"]))
        elif manifest is not None:  # the store cannot be read (gone, unreachable): claim no more than before the run
            _quietly(lambda: catalog.save_manifest(key, manifest, run_id, chunks_before))
        if isinstance(raised, WorkbenchError) and tracker.total_batches:
            # Say what the run got done before it stopped, in the record and in the error the user sees.
            written = counts["written"] if counts else 0
            message += (f" Before it stopped, the run had finished {len(tracker.reports)} of {tracker.total_batches} "
                        f"batches ({written} chunk{'' if written == 1 else 's'} written); a re-run skips what is stored.")
            raised.args = (message,)
        _quietly(lambda: catalog.finish_run(run_id, status, counts, {**timer.timings, **tracker.timings}, error=message, dag_dot=dot,
                                                  resources=meter.reading()))
        if raised is not error:
            raise raised from error
        raise
    file_errors = [{"source_name": e.source_name, "reason": e.reason} for e in result["run_file_errors"]]
    timings = {**timer.timings, **tracker.timings, **result["run_timings"]}
    catalog.save_manifest(key, manifest, run_id, total["chunk_count"])
    if config["source"] == "files":
        _keep_files(catalog, config, key, files,  # a path refused as a second copy is the first copy's, which was stored
                    {error["source_name"] for error in file_errors if error["reason"] != SAME_PATH_REASON})
    catalog.finish_run(run_id, "succeeded", {**result["run_counts"], **synced}, timings, file_errors, dag_dot=dot,
                       resources=meter.reading())
    return catalog.run(run_id) or {}


def _synced(config: ResolvedConfig, keys: dict[str, str], manifest: dict[str, Any], files: list[InputFile], catalog: Catalog,
            key: str) -> dict[str, int]:
    """Delete the documents of the index that are not among this run's input files (a sync run); returns the counts."""
    wanted = {Document.id_for_file(input_file.name) for input_file in files}
    gone = [document["document_id"] for document in stored_documents(config, keys) if document["document_id"] not in wanted]
    if not gone:
        return {"deleted_documents": 0, "deleted_chunks": 0}
    result = deleted_from_store(config, keys, manifest, gone)
    release_sources(catalog, config["data_dir"], key, gone)
    catalog.forget_file_records(key, gone)
    return {"deleted_documents": len(gone), "deleted_chunks": int(result["deleted_chunks"])}


def _keep_files(catalog: Catalog, config: ResolvedConfig, key: str, files: list[InputFile], failed: set[str]) -> None:
    """Keep the run's stored files for "Open source"; a file that cannot be kept (a full disk) never fails the run."""
    try:
        keep_sources(catalog, config["data_dir"], key, files, failed, config["keep_sources_mb"])
    except (OSError, sqlite3.Error):
        pass


_RUN_ROWS_LIMIT = 10_000_000  # a failed run's rows are read back to count them; no run writes more


def _stored_after_failure(config: ResolvedConfig, error: BaseException, dr: Any, inputs: dict[str, Any],
                         prepared: dict[str, Any], run_id: str) -> dict[str, int] | None:
    """What the store holds after a failed run: the rows whose lineage names this run, and all rows; None if unreadable
    (or the run failed before it opened the store)."""
    if "store_client" not in prepared or (isinstance(error, StoreUnavailableError) and not config.spec("vector_db").has(EMBEDDED)):
        return None  # a hosted store that stopped answering would only be asked again (and retried): the batches' counts stand
    try:
        result = dr.execute(["run_chunks", "chunk_count"], inputs={**inputs, "run_chunk_limit": _RUN_ROWS_LIMIT},
                            overrides={"store_client": prepared["store_client"]})
    except Exception:  # noqa: BLE001 - the store may be what failed (gone, unreachable): keep the batches' counts
        return None
    return {"written": len(result["run_chunks"]), "chunk_count": int(result["chunk_count"])}


def _quietly(write: Any) -> None:
    """A catalog write on the failure path: if it fails too (a full disk), the run's own error is what is raised."""
    try:
        write()
    except (sqlite3.Error, OSError):
        pass


def _run_relaying(relay: EventRelay, sink: EventSink | None, run: Any) -> Any:
    """`run()`, with a thread of this process handing the workers' events on from `sink` while it runs (no sink: none needed)."""
    if sink is None:
        return run()
    stop = threading.Event()
    drainer = threading.Thread(target=relay.drain, args=(sink, stop), name="node-events", daemon=True)
    drainer.start()
    try:
        return run()
    finally:
        stop.set()
        drainer.join(timeout=10)


def execute(
    config: Mapping[str, Any],
    final_vars: list[str],
    purpose: str = "ingest",
    files: list[InputFile] | None = None,
    api_keys: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    **inputs: Any,
) -> dict[str, Any]:
    """Compute any nodes of a flow (for example 'chunks' to preview chunking without embedding); `overrides` replace
    nodes by values, and what only they needed is not computed."""
    config = with_local_squad(resolve_config(config))
    runtime = runtime_inputs(resolve_api_keys(api_keys), None, input_files=_input_files(config, files), **inputs)
    return driver_for(config, purpose).execute(final_vars, inputs=runtime, overrides=dict(overrides or {}))


def preview_chunks(
    config: Mapping[str, Any], files: list[InputFile] | None = None, api_keys: Mapping[str, str] | None = None
) -> tuple[list[Chunk], list[FileError]]:
    """Run the ingestion flow only up to chunking: the chunks of every selected file, and the files that failed. The store
    is not opened: no file counts as already stored, so unchanged files are chunked too."""
    result = execute(config, ["chunks", "file_errors"], files=files, api_keys=api_keys,
                     overrides={"still_stored_files": {}})
    return result["chunks"], result["file_errors"]


def index_state(config: Mapping[str, Any], api_keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The physical state of the index a config points at: rows, fragments, ANN vector index (type), full-text index."""
    return driver_for(config, "store").execute(["index_state"], inputs=runtime_inputs(resolve_api_keys(api_keys)))["index_state"]


def ingest_estimate(
    config: Mapping[str, Any], files: list[InputFile] | None = None, api_keys: Mapping[str, str] | None = None,
    price_table: Any = None,
) -> dict[str, Any]:
    """Tokens and cost of embedding the selected documents, from their chunks (the preview path; nothing is embedded).

    Counts the distinct indexed texts the way the run records them (`ragkit.token_counts`), so on a new index with an
    empty embedding cache the run then records these tokens; texts already embedded are not sent again, so it is an upper bound."""
    from ragkit.prices import load_price_table
    from ragkit.token_counts import count_tokens

    resolved = with_local_squad(resolve_config(config))
    chunks, file_errors = preview_chunks(config, files=files, api_keys=api_keys)
    texts = list(dict.fromkeys(chunk.indexed_text for chunk in chunks))
    tally = count_tokens(resolved["embedding_service"], resolved["model_name"], texts)
    prices = price_table or load_price_table()
    price = prices.price("embedding", resolved["embedding_service"], resolved["model_name"])
    return {"documents": len({chunk.document_id for chunk in chunks}), "chunks": len(chunks), "texts": len(texts),
            **tally.to_json(), "cost": round(price.for_tokens(tally.tokens), 6) if price else None,
            "price_per_1k_tokens": price.per_unit if price else None, "price_table_as_of": prices.as_of,
            "currency": prices.currency, "failed_files": len(file_errors)}
