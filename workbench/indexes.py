"""Indexes as the catalog knows them: the key of the index a config points at, its manifest, the checks against it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragkit.errors import IndexMismatchError, IndexNotFoundError
from workbench.catalog import Catalog, index_key, portable_location
from workbench.config import ResolvedConfig, resolve_config


def index_key_for(config: Mapping[str, Any]) -> str:
    """The catalog key of the index a config points at (its store's location and the index name); a store inside the
    data folder is named relative to it, so moving the folder keeps its indexes."""
    config = resolve_config(config)
    location = config.spec("vector_db").load().store_location(config["vector_db_config"])
    return index_key(portable_location(location, config["data_dir"]), config["index_name"])


def index_manifest(config: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest of the index a config points at; IndexNotFoundError if it was never built here."""
    config = resolve_config(config)
    manifest = Catalog(config["data_dir"]).manifest(index_key_for(config))
    if manifest is None:
        raise IndexNotFoundError(
            f"No index {config['index_name']!r} in {config['vector_db']} for this data folder ({config['data_dir']}). "
            "Ingest documents into it first."
        )
    return manifest


def query_config(config: Mapping[str, Any]) -> tuple[ResolvedConfig, dict[str, Any]]:
    """The config for querying an index (its embedding service and model come from its manifest), and the manifest."""
    config = resolve_config(config)
    manifest = index_manifest(config)
    if (config["embedding_service"], config["model_name"]) != (manifest["embedding_service"], manifest["model_name"]):
        config = config.replace(embedding_service=manifest["embedding_service"], model_name=manifest["model_name"])
    return config, manifest


def with_index_model(requested: Mapping[str, Any], config: ResolvedConfig, manifest: dict[str, Any] | None) -> ResolvedConfig:
    """The config a run into an existing index uses: when the run names no model (`model_name` unset or "") and the
    index was built by the same embedding service with another model, that model — so an index built with the default
    of its day (torch all-MiniLM-L6-v2, before the int8 ONNX default) is added to, not refused. A model named is kept
    (and checked against the manifest as before)."""
    if manifest is None or isinstance(requested, ResolvedConfig) or requested.get("model_name"):
        return config
    if manifest["embedding_service"] != config["embedding_service"] or manifest["model_name"] == config["model_name"]:
        return config
    return config.replace(model_name=manifest["model_name"])


def check_manifest(manifest: dict[str, Any] | None, config: Mapping[str, Any], dimension: int | None = None) -> None:
    """IndexMismatchError when the index was built with another embedding service, model or vector width."""
    if manifest is None:
        return
    built_with = (manifest["embedding_service"], manifest["model_name"])
    if built_with != (config["embedding_service"], config["model_name"]) or (dimension and dimension != manifest["dimension"]):
        raise IndexMismatchError(
            f"Index {config['index_name']!r} was built with {built_with[0]} / {built_with[1]} "
            f"({manifest['dimension']} dimensions); this run uses {config['embedding_service']} / {config['model_name']}"
            f"{f' ({dimension} dimensions)' if dimension else ''}. Use that model, or another index name."
        )
