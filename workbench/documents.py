"""An index's documents: list them, delete some of them, delete the whole index — each a run of the 'documents' flow.

A document is known by its id (from its path relative to the ingestion root, `Document.id_for_file(name)`)
or by that source name. Deleting removes its chunks from the store (and with them from the full-text index:
the flow runs the store's index upkeep after the delete), its kept source file (once no other document refers
to the same content), and updates the manifest's chunk count; it is recorded as a run of kind "delete" (an
index: "delete-index"), so the Runs page shows it. A later ingestion of the same file writes it again: whether a
chunk is stored is always asked of the store.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ragkit.errors import DocumentNotFoundError, IndexNotFoundError, WorkbenchError
from workbench.catalog import Catalog, new_run_id
from workbench.config import ResolvedConfig, public_config
from workbench.flows import DELETE_TARGETS, DOCUMENT_TARGETS, code_version, dag_dot, driver_for, runtime_inputs
from workbench.indexes import query_config
from workbench.kept_sources import kept_source, release_sources
from workbench.keys import check_api_keys, resolve_api_keys
from workbench.lifecycle import NodeTimer


def _index(config: Mapping[str, Any], api_keys: Mapping[str, str] | None) -> tuple[ResolvedConfig, dict[str, Any], dict[str, str]]:
    config, manifest = query_config(config)
    keys = resolve_api_keys(api_keys)
    check_api_keys(config, keys, "query")
    return config, manifest, keys


def stored_documents(config: ResolvedConfig, keys: dict[str, str]) -> list[dict[str, Any]]:
    """The documents the store holds for the index (the 'documents' flow's `index_documents`)."""
    return driver_for(config, "documents").execute(DOCUMENT_TARGETS, inputs=runtime_inputs(keys))["index_documents"]


def documents(config: Mapping[str, Any], api_keys: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The documents of the index a config points at: id, source name, title, pages, chunks, last run, whether its
    source file is kept (for "Open source"); by source name. IndexNotFoundError when the index was never built here."""
    config, manifest, keys = _index(config, api_keys)
    catalog = Catalog(config["data_dir"])
    kept = {record["document_id"] for record in catalog.sources(manifest["index_key"])}
    return [{**document, "source_kept": document["document_id"] in kept} for document in stored_documents(config, keys)]


def resolve_documents(stored: list[dict[str, Any]], wanted: list[str], index_name: str) -> list[dict[str, Any]]:
    """The stored documents named by id or source name; DocumentNotFoundError naming the near matches for an unknown one."""
    by_key = {document["document_id"]: document for document in stored}
    by_key.update({document["source_name"]: document for document in stored if document["source_name"] not in by_key})
    found = []
    for name in wanted:
        if name not in by_key:
            names = [d["source_name"] for d in stored]
            near = [n for n in names if name and name.lower() in n.lower()][:3]
            near += [n for n in difflib.get_close_matches(name, names, n=3, cutoff=0.5) if n not in near][: 3 - len(near)]
            hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise DocumentNotFoundError(
                f"Index {index_name!r} holds no document {name!r} ({len(stored)} documents; list them with "
                f"`python -m workbench documents --index {index_name}`).{hint}")
        if by_key[name] not in found:
            found.append(by_key[name])
    return found


def deleted_from_store(config: ResolvedConfig, keys: dict[str, str], manifest: dict[str, Any], document_ids: list[str],
                       adapters: list[Any] | None = None) -> dict[str, Any]:
    """Run the deletion flow: the documents' chunks removed and the index upkept; returns its counts and the chunks left."""
    inputs = runtime_inputs(keys, None, document_ids_to_delete=list(document_ids), embedding_dimension=int(manifest["dimension"]))
    dr = driver_for(config, "documents", adapters or [])
    counts = dr.execute(DELETE_TARGETS, inputs=inputs)["deletion_counts"]
    left = int(driver_for(config, "documents").execute(["chunk_count"], inputs=inputs)["chunk_count"])  # read after the delete
    return {**counts, "chunk_count": left, "dag_dot": dag_dot(dr, DELETE_TARGETS, inputs)}


def delete_documents(config: Mapping[str, Any], names: list[str], api_keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Delete documents (by id or source name) from the index a config points at; returns the run record of kind "delete".

    Their chunks leave the store and its full-text index, their kept source files go (once unreferenced), the
    manifest's chunk count is set from what is left."""
    config, manifest, keys = _index(config, api_keys)
    if not names:
        raise WorkbenchError("Name at least one document to delete (its id or source name).")
    chosen = resolve_documents(stored_documents(config, keys), list(names), config["index_name"])
    ids = [document["document_id"] for document in chosen]
    catalog, key = Catalog(config["data_dir"]), manifest["index_key"]
    run_id, timer = new_run_id(), NodeTimer()
    inputs = {"documents": [{"document_id": d["document_id"], "source_name": d["source_name"]} for d in chosen]}
    catalog.start_run(run_id, "delete", key, public_config(config), inputs, code_version())
    try:
        result = deleted_from_store(config, keys, manifest, ids, [timer])
        removed = release_sources(catalog, config["data_dir"], key, ids)
        catalog.forget_file_records(key, ids)
        catalog.set_chunk_count(key, result["chunk_count"])
    except BaseException as error:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        catalog.finish_run(run_id, status, timings=timer.timings, error=str(error) if isinstance(error, WorkbenchError)
                           else f"{type(error).__name__}: {error}")
        raise
    counts = {"deleted_documents": len(ids), "deleted_chunks": result["deleted_chunks"], "sources_removed": removed,
              "chunks_left": result["chunk_count"]}
    catalog.finish_run(run_id, "succeeded", counts, timer.timings, dag_dot=result["dag_dot"])
    return catalog.run(run_id) or {}


def delete_index(config: Mapping[str, Any], api_keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Delete the index a config points at: the store drops it, its manifest and kept source files go; returns the run
    record of kind "delete-index" (run records, evaluations and question sets of the index stay, as history)."""
    config, manifest, keys = _index(config, api_keys)
    catalog, key = Catalog(config["data_dir"]), manifest["index_key"]
    run_id, timer = new_run_id(), NodeTimer()
    catalog.start_run(run_id, "delete-index", key, public_config(config), {"index": config["index_name"]}, code_version())
    try:
        dr = driver_for(config, "documents", [timer])
        dropped = bool(dr.execute(["index_reset"], inputs=runtime_inputs(keys))["index_reset"])
        removed = release_sources(catalog, config["data_dir"], key)
        catalog.forget_file_records(key)
        catalog.delete_manifest(key)
    except BaseException as error:
        catalog.finish_run(run_id, "failed", timings=timer.timings, error=str(error))
        raise
    counts = {"deleted_chunks": int(manifest["chunk_count"]), "index_dropped": int(dropped), "sources_removed": removed}
    catalog.finish_run(run_id, "succeeded", counts, timer.timings)
    return catalog.run(run_id) or {}


def source_of(config: Mapping[str, Any], document_id: str) -> tuple[dict[str, Any], str] | None:
    """The kept source file of a document of the index a config points at (its record and path), or None."""
    try:
        config, manifest = query_config(config)
    except IndexNotFoundError:
        return None
    found = kept_source(Catalog(config["data_dir"]), config["data_dir"], manifest["index_key"], document_id)
    return (found[0], str(found[1])) if found else None
