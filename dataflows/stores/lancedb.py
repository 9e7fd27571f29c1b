"""LanceDB, embedded on disk: the default vector store.

One table per index; rows are upserted by `chunk_id` (merge insert), searched by cosine
distance. Settings (`vector_db_config`): `uri`, the folder that holds the tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataflows.errors import IndexMismatchError, IndexNotFoundError, StoreUnavailableError
from dataflows.schema import STORED_FIELDS, Progress

_STRING_FIELDS = {"chunk_id", "document_id", "source_kind", "source_name", "title", "content_hash",
                  "embedding_service", "model_name", "run_id", "ingested_at", "text"}
_IN_LIST_LIMIT = 500


def _arrow_schema(dimension: int) -> pa.Schema:
    fields = []
    for name in STORED_FIELDS:
        if name in _STRING_FIELDS:
            fields.append(pa.field(name, pa.string()))
        elif name == "question_ids":
            fields.append(pa.field(name, pa.list_(pa.string())))
        else:
            fields.append(pa.field(name, pa.int64()))
    fields.append(pa.field("vector", pa.list_(pa.float32(), dimension)))
    return pa.schema(fields)


def _sql_in(column: str, values: list[str]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"


def _uri(vector_db_config: dict) -> str:
    return str(Path(vector_db_config.get("uri") or "data/lancedb").expanduser().resolve())


def _has_table(client: lancedb.DBConnection, name: str) -> bool:
    response, tables = client.list_tables(), []
    while True:
        tables.extend(response.tables)
        if not response.page_token:
            return name in tables
        response = client.list_tables(page_token=response.page_token)


def store_location(vector_db_config: dict) -> str:
    """Where the tables live: `lancedb:` and the absolute folder path."""
    return f"lancedb:{_uri(vector_db_config)}"


def store_client(vector_db_config: dict) -> lancedb.DBConnection:
    """Open (creating if needed) the LanceDB folder given by `vector_db_config['uri']`."""
    uri = _uri(vector_db_config)
    try:
        os.makedirs(uri, exist_ok=True)
        return lancedb.connect(uri)
    except OSError as error:
        raise StoreUnavailableError(f"LanceDB folder {uri} cannot be opened: {error.strerror or error}.") from error


def vector_index(store_client: lancedb.DBConnection, index_name: str, embedding_dimension: int) -> lancedb.table.Table:
    """The table for this index, created with the chunk schema and a `dimension`-wide vector if missing."""
    if _has_table(store_client, index_name):
        table = store_client.open_table(index_name)
        stored_dimension = table.schema.field("vector").type.list_size
        if stored_dimension != embedding_dimension:
            raise IndexMismatchError(
                f"LanceDB table {index_name!r} holds {stored_dimension}-dimensional vectors, but the chosen "
                f"embedding model gives {embedding_dimension}. Use another index name or the index's own model."
            )
        return table
    try:
        return store_client.create_table(index_name, schema=_arrow_schema(embedding_dimension), exist_ok=True)
    except OSError as error:
        raise StoreUnavailableError(f"LanceDB cannot create table {index_name!r}: {error}.") from error


def existing_index(store_client: lancedb.DBConnection, index_name: str) -> lancedb.table.Table:
    """The table for an index that must already exist (for queries)."""
    if not _has_table(store_client, index_name):
        raise IndexNotFoundError(f"LanceDB has no index {index_name!r} at {store_client.uri}. Ingest documents into it first.")
    return store_client.open_table(index_name)


def stored_chunk_ids(vector_index: lancedb.table.Table, document_ids: list[str]) -> dict[str, set[str]]:
    """The chunk ids stored now for each of these documents (the basis of skip-unchanged and replace)."""
    found: dict[str, set[str]] = {doc_id: set() for doc_id in document_ids}
    if not document_ids or vector_index.count_rows() == 0:
        return found
    query = vector_index.search().select(["chunk_id", "document_id"]).limit(None)
    if len(document_ids) <= _IN_LIST_LIMIT:
        rows = query.where(_sql_in("document_id", document_ids)).to_arrow()
    else:
        rows = query.to_arrow()
        rows = rows.filter(pc.is_in(rows["document_id"], value_set=pa.array(document_ids)))
    for chunk_id, doc_id in zip(rows["chunk_id"].to_pylist(), rows["document_id"].to_pylist()):
        found[doc_id].add(chunk_id)
    return found


def written_chunk_ids(
    vector_index: lancedb.table.Table,
    chunk_records: list[dict],
    chunk_vectors: np.ndarray,
    progress: Progress,
    upsert_batch_size: int = 2000,
) -> list[str]:
    """Upsert the chunk rows with their vectors by `chunk_id`, in batches; returns the ids written."""
    schema = vector_index.schema
    written: list[str] = []
    total = len(chunk_records)
    progress("written_chunk_ids", 0, total)
    for start in range(0, total, upsert_batch_size):
        batch = chunk_records[start : start + upsert_batch_size]
        vectors = np.ascontiguousarray(chunk_vectors[start : start + upsert_batch_size], dtype=np.float32)
        columns = {name: [row[name] for row in batch] for name in STORED_FIELDS}
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
        table = pa.Table.from_pydict(columns, schema=schema)
        try:
            vector_index.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all().execute(table)
        except OSError as error:
            raise StoreUnavailableError(
                f"LanceDB write to {vector_index.name!r} failed after {len(written)} of {total} chunks: {error}."
            ) from error
        written.extend(columns["chunk_id"])
        progress("written_chunk_ids", len(written), total)
    return written


def deleted_chunk_ids(vector_index: lancedb.table.Table, stale_chunk_ids: list[str], written_chunk_ids: list[str]) -> list[str]:
    """Remove chunks of re-ingested documents that the new version no longer has (after the writes)."""
    for start in range(0, len(stale_chunk_ids), _IN_LIST_LIMIT):
        vector_index.delete(_sql_in("chunk_id", stale_chunk_ids[start : start + _IN_LIST_LIMIT]))
    return list(stale_chunk_ids)


def deleted_document_count(vector_index: lancedb.table.Table, document_ids_to_delete: list[str]) -> int:
    """Remove every chunk of these documents; returns how many rows went."""
    before = vector_index.count_rows()
    for start in range(0, len(document_ids_to_delete), _IN_LIST_LIMIT):
        vector_index.delete(_sql_in("document_id", document_ids_to_delete[start : start + _IN_LIST_LIMIT]))
    return before - vector_index.count_rows()


def _rows(arrow_table: pa.Table) -> list[dict[str, Any]]:
    return arrow_table.drop_columns([c for c in ("vector",) if c in arrow_table.column_names]).to_pylist()


def search_hits(existing_index: lancedb.table.Table, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    """The `top_k` chunks nearest the query vector by cosine distance; `score` is cosine similarity."""
    result = (
        existing_index.search(np.asarray(query_vector, dtype=np.float32))
        .distance_type("cosine")
        .limit(top_k)
        .to_arrow()
    )
    hits = _rows(result.drop_columns(["_distance"]))
    for hit, distance in zip(hits, result["_distance"].to_pylist()):
        hit["score"] = 1.0 - float(distance)
    return hits


def chunk_count(existing_index: lancedb.table.Table) -> int:
    """How many chunks the index holds."""
    return existing_index.count_rows()


def run_chunks(existing_index: lancedb.table.Table, run_id: str, run_chunk_limit: int = 200) -> list[dict]:
    """Chunks whose lineage names this run, at most `run_chunk_limit`."""
    rows = (
        existing_index.search()
        .where(_sql_in("run_id", [run_id]))
        .select([name for name in STORED_FIELDS])
        .limit(run_chunk_limit)
        .to_arrow()
    )
    return _rows(rows)


def index_reset(store_client: lancedb.DBConnection, index_name: str) -> bool:
    """Drop the index's table; False when there was none."""
    if not _has_table(store_client, index_name):
        return False
    store_client.drop_table(index_name)
    return True
