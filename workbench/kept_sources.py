"""The original files of ingested documents, kept content-addressed in `<data_dir>/sources/<sha256><suffix>`.

A run of files keeps each file it stored (not the ones that failed), so a citation can be opened at its
page. One file is kept once however many documents (of any index) were read from the same bytes; the
catalog's `kept_sources` table says which document of which index refers to which file. The folder is
bounded by `keep_sources_mb`: past it, the least recently kept files go (their documents then show
"source not kept"). Deleting a document forgets its reference and removes the file once nothing refers to it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ragkit.schema import Document, InputFile, source_path
from workbench.catalog import Catalog

SOURCES_FOLDER = "sources"
_SAFE_SUFFIX_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")


def sources_folder(data_dir: str | Path) -> Path:
    """Where the kept files of a data folder live."""
    return Path(data_dir) / SOURCES_FOLDER


def _suffix(name: str) -> str:
    """The file's extension, lower-cased, only letters and digits (a name never becomes a path)."""
    suffix = Path(name).suffix.lower().lstrip(".")
    return "." + suffix if suffix and len(suffix) <= 10 and set(suffix) <= _SAFE_SUFFIX_CHARS else ""


def kept_path(data_dir: str | Path, record: dict[str, Any]) -> Path:
    """The path of a kept file, from its catalog record."""
    return sources_folder(data_dir) / f"{record['sha256']}{record['suffix']}"


def keep_sources(catalog: Catalog, data_dir: str | Path, key: str, files: Iterable[InputFile], failed: set[str],
                 cap_mb: int) -> int:
    """Keep the files of a run (all but the `failed` names) for index `key`; returns how many documents got a kept file.

    A file larger than the cap is not kept; past the cap, the least recently kept files are removed."""
    if cap_mb <= 0:
        return 0
    cap = cap_mb * 1024 * 1024
    folder = sources_folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    previous_records = {record["document_id"]: record for record in catalog.sources(key)}
    kept: list[tuple[str, str, str, str, int]] = []
    replaced: list[dict[str, Any]] = []
    seen: set[str] = set()
    for input_file in files:
        name = source_path(input_file.name)  # the document's identity, as the run's file errors name it
        if name in failed or name in seen:  # a second file of one path was refused by the run: the first is the stored one
            continue
        seen.add(name)
        try:
            data = input_file.read_bytes()
        except OSError:
            continue  # it was read by the run; if it has gone since, there is nothing to keep
        if len(data) > cap:
            continue
        digest, suffix = hashlib.sha256(data).hexdigest(), _suffix(input_file.name)
        document_id = Document.id_for_file(input_file.name)
        target = folder / f"{digest}{suffix}"
        if not target.exists():
            partial = target.with_name(target.name + f".{os.getpid()}.part")
            partial.write_bytes(data)
            os.replace(partial, target)
        kept.append((document_id, name, digest, suffix, len(data)))
        previous = previous_records.get(document_id)
        if previous and (previous["sha256"], previous["suffix"]) != (digest, suffix):
            replaced.append(previous)
    catalog.save_sources(key, kept)  # one transaction for the run, not one per file
    for previous in replaced:
        _remove_if_unreferenced(catalog, data_dir, previous)
    _evict(catalog, data_dir, cap)
    return len(kept)


def _evict(catalog: Catalog, data_dir: str | Path, cap: int) -> None:
    """Remove the least recently kept files until the folder is within `cap` bytes."""
    files: dict[tuple[str, str], dict[str, Any]] = {}
    for record in catalog.sources():  # oldest first; a file counts at its latest use
        files.pop((record["sha256"], record["suffix"]), None)
        files[(record["sha256"], record["suffix"])] = record
    total = sum(record["size"] for record in files.values())
    for record in list(files.values()):
        if total <= cap:
            return
        catalog.forget_source_content(record["sha256"], record["suffix"])
        kept_path(data_dir, record).unlink(missing_ok=True)
        total -= record["size"]


def _remove_if_unreferenced(catalog: Catalog, data_dir: str | Path, record: dict[str, Any]) -> bool:
    if catalog.source_references(record["sha256"], record["suffix"]):
        return False
    kept_path(data_dir, record).unlink(missing_ok=True)
    return True


def release_sources(catalog: Catalog, data_dir: str | Path, key: str, document_ids: list[str] | None = None) -> int:
    """Forget the kept files of deleted documents of index `key` (all of its documents when no ids); returns the files removed
    (a file another document still refers to stays)."""
    records = [record for record in catalog.sources(key) if document_ids is None or record["document_id"] in set(document_ids)]
    catalog.delete_sources(key, document_ids)
    removed = 0
    for record in {(r["sha256"], r["suffix"]): r for r in records}.values():
        removed += _remove_if_unreferenced(catalog, data_dir, record)
    return removed


def kept_source(catalog: Catalog, data_dir: str | Path, key: str, document_id: str) -> tuple[dict[str, Any], Path] | None:
    """The catalog record and path of a document's kept file, or None when none is kept (or it has gone)."""
    record = catalog.source(key, document_id)
    if record is None:
        return None
    path = kept_path(data_dir, record)
    return (record, path) if path.is_file() else None
