"""Check an index against its catalog manifest, and repair it: recount, rebuild the full-text index, or rebuild from the sources.

`check_index` reads the index through the store's own nodes (so it works for every registered store) and compares
it with the manifest: the index exists and can be read whole, the manifest's chunk count is what is stored, every
chunk id is unique and belongs to its document, the vectors have the manifest's width, and a store that serves
full-text search has a full-text index built with the config's lexical settings. A damaged LanceDB table (a data
file deleted under it) is reported naming the file and the remedy instead of a traceback.

`repair` always sets the manifest's chunk count from what is stored; `rebuild_fts` runs the store's index upkeep
(under its write lock) so the full-text index is built with the config's lexical settings; `files` (or a SQuAD
config) rebuilds the index from the sources: the index is emptied and the sources ingested again.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ragkit.backends import LEXICAL
from ragkit.errors import IndexMismatchError, IndexNotFoundError, StoreUnavailableError, WorkbenchError
from ragkit.schema import InputFile
from workbench.catalog import Catalog
from workbench.config import ResolvedConfig, resolve_config, with_local_squad
from workbench.flows import driver_for, runtime_inputs
from workbench.indexes import index_key_for
from workbench.ingesting import ingest, preview_chunks
from workbench.keys import resolve_api_keys

_DATA_FILE = re.compile(r"([^\s'\",]+\.(?:lance|txn|manifest|idx))")


def _unreadable(config: Mapping[str, Any], error: BaseException) -> str:
    """What to tell the user when the index cannot be read: the file that is missing, and the remedy."""
    name = config["index_name"]
    found = _DATA_FILE.search(str(error))
    path = found.group(1) if found else ""
    if path and not path.startswith("/") and os.path.isabs("/" + path):  # LanceDB names local files without the leading "/"
        path = "/" + path
    where = f"its file {path} is missing or unreadable" if path else f"it cannot be read ({str(error)[:300]})"
    return (f"index {name!r} is damaged: {where}. Rebuild it from the sources: "
            f"`python -m workbench repair --index {name} --from-sources FILES...` (or --source squad ...).")


def _store_run(config: Any, keys: dict[str, str], targets: list[str], **inputs: Any) -> dict[str, Any]:
    return driver_for(config, "store").execute(targets, inputs=runtime_inputs(keys, None, **inputs))


def check_index(config: Mapping[str, Any], api_keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Verify the index a config points at against its manifest; returns {"ok", "problems", "stored", "manifest", ...}."""
    config = resolve_config(config)
    keys = resolve_api_keys(api_keys)
    key = index_key_for(config)
    manifest = Catalog(config["data_dir"]).manifest(key)
    report: dict[str, Any] = {"index_key": key, "index_name": config["index_name"], "manifest": manifest,
                              "problems": [], "remedies": [], "stored": None}
    problems, remedies = report["problems"], report["remedies"]
    if manifest is None:
        problems.append(f"the catalog has no manifest for index {config['index_name']!r} (key {key})")
        remedies.append("ingest into it, or point --data-dir at the folder that built it")
        report["ok"] = False
        return report
    config = config.replace(embedding_service=manifest["embedding_service"], model_name=manifest["model_name"])
    try:
        rows = _store_run(config, keys, ["chunk_rows"])["chunk_rows"]
    except IndexNotFoundError as error:
        problems.append(f"the store has no index {config['index_name']!r}: {error}")
        remedies.append("rebuild it from the sources (repair --from-sources)")
        report["ok"] = False
        return report
    except Exception as error:  # noqa: BLE001 - a damaged table raises the storage library's own errors; say which file
        problems.append(_unreadable(config, error))
        remedies.append("rebuild it from the sources (repair --from-sources)")
        report["ok"] = False
        return report
    report["stored"] = len(rows)
    if manifest["chunk_count"] != len(rows):
        problems.append(f"the manifest says {manifest['chunk_count']} chunks, the index holds {len(rows)}")
        remedies.append("repair recounts it")
    ids = Counter(row["chunk_id"] for row in rows)
    duplicated = sorted(chunk_id for chunk_id, count in ids.items() if count > 1)
    if duplicated:
        problems.append(f"{len(duplicated)} chunk id(s) stored more than once, e.g. {duplicated[:3]}")
        remedies.append("rebuild it from the sources (repair --from-sources)")
    foreign = [row["chunk_id"] for row in rows if not str(row["chunk_id"]).startswith(f"{row['document_id']}-")]
    if foreign:
        problems.append(f"{len(foreign)} chunk id(s) that do not belong to their document, e.g. {foreign[:3]}")
        remedies.append("rebuild it from the sources (repair --from-sources)")
    try:
        _store_run(config, keys, ["vector_index"], embedding_dimension=int(manifest["dimension"]))
    except IndexMismatchError as error:
        problems.append(f"vector width: {error}")
        remedies.append("rebuild it from the sources with the manifest's model, or use another index name")
    if config.spec("vector_db").has(LEXICAL) and rows:
        try:
            _store_run(config, keys, ["text_index"])
        except IndexNotFoundError as error:
            problems.append(f"full-text index: {error}")
            remedies.append("repair --rebuild-fts builds it with the lexical settings given")
    report["ok"] = not problems
    return report


def repair(
    config: Mapping[str, Any],
    api_keys: Mapping[str, str] | None = None,
    rebuild_fts: bool = False,
    from_sources: bool = False,
    files: list[InputFile] | None = None,
) -> dict[str, Any]:
    """Repair the index a config points at; returns the check after the repair, with "done" listing what was done.

    The manifest's chunk count is set from what is stored; `rebuild_fts` runs the store's index upkeep (full-text
    index with the config's lexical settings, compaction); `from_sources` empties the index and ingests the sources
    again (`files`, the config's file paths, or its SQuAD source)."""
    config = with_local_squad(resolve_config(config))
    keys = resolve_api_keys(api_keys)
    catalog = Catalog(config["data_dir"])
    key = index_key_for(config)
    done: list[str] = []
    if from_sources:
        if config["source"] == "files" and not (files or config["file_paths"]):
            raise WorkbenchError("Rebuilding from the sources needs the files to read (the same paths the index was ingested from).")
        before = catalog.manifest(key)
        if before is not None:  # rebuilt with the model it was built with, whatever today's default
            config = config.replace(embedding_service=before["embedding_service"], model_name=before["model_name"])
        _check_sources(config, files, keys)  # every source readable before anything is deleted
        _store_run(config, keys, ["index_reset"])
        catalog.delete_manifest(key)
        record = ingest(config, files=files, api_keys=keys)
        done.append(f"emptied the index and ingested the sources again (run {record['run_id']}, "
                    f"{record['counts'].get('written', 0)} chunks written, {record['counts'].get('failed', 0)} files failed)")
    manifest = catalog.manifest(key)
    if manifest is None:
        raise IndexNotFoundError(f"No manifest for index {config['index_name']!r} in {config['data_dir']}: nothing to repair.")
    config = config.replace(embedding_service=manifest["embedding_service"], model_name=manifest["model_name"])
    if rebuild_fts:
        upkeep = _store_run(config.replace(fts_at_ingest=True), keys, ["maintained_index"],
                            run_counts={"written": 1})["maintained_index"]  # upkeep as after a run that changed rows
        done.append(f"index upkeep: {upkeep}")
    try:
        stored = int(_store_run(config, keys, ["chunk_count"])["chunk_count"])
    except Exception as error:  # noqa: BLE001 - a damaged table: say which file and what to do
        raise StoreUnavailableError(_unreadable(config, error)) from error
    if stored != manifest["chunk_count"]:
        catalog.save_manifest(key, {name: manifest[name] for name in _MANIFEST_FIELDS}, manifest["last_run_id"], stored)
        done.append(f"manifest chunk count {manifest['chunk_count']} -> {stored} (what is stored)")
    report = check_index(config, keys)
    report["done"] = done
    return report


def _check_sources(config: ResolvedConfig, files: list[InputFile] | None, keys: dict[str, str]) -> None:
    """WorkbenchError, with the index untouched, unless every source parses and they give chunks to rebuild from."""
    chunks, errors = preview_chunks(config, files=files, api_keys=keys)
    if errors:
        listed = "; ".join(f"{error.source_name}: {error.reason}" for error in errors[:5])
        raise WorkbenchError(f"Nothing was deleted: {len(errors)} source(s) cannot be read ({listed}). Give the files the "
                             "index was ingested from.")
    if not chunks:
        raise WorkbenchError("Nothing was deleted: the sources give no text to rebuild the index from.")


_MANIFEST_FIELDS = ("vector_db", "store_location", "index_name", "vector_db_config", "embedding_service", "model_name",
                    "dimension", "chunking")
