"""LanceDB, embedded on disk: the default vector store.

One table per index; rows are upserted by `chunk_id` (a row whose id is stored already is merged in, the rest
appended; a B-tree index on `document_id` past 10,000 rows for the per-batch look-ups), searched by cosine distance. Settings (`vector_db_config`): `uri`, the folder that holds the tables.

Lexical and hybrid retrieval use LanceDB's native full-text (BM25) index on `indexed_text` (the chunk's text,
after its contextual header when those are on; `text` in a table from before headers). Index upkeep
after ingestion (`maintained_index`, under the write lock) builds or refreshes it; a query never
writes: `text_index` refuses a missing index or one built with other lexical settings, naming
the `repair` command that builds it (rows written since the last build are still searched). Hybrid search is LanceDB's hybrid query (vector and
full-text legs run in parallel) with the workbench's fusion (`ragkit/fusion.py`) as its reranker.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.background_loop import LOOP
from lancedb.index import FTS
from lancedb.rerankers import Reranker
from lancedb.table import AsyncTable

from ragkit.errors import IndexDamagedError, IndexMismatchError, IndexNotFoundError, StoreUnavailableError
from ragkit.failures import INDEX_REPAIR
from ragkit.footprint import folder_bytes, raw_vector_bytes
from ragkit.fusion import fts_index_settings, fuse
from ragkit.schema import CHUNK_ROW_FIELDS, STORED_FIELDS, Progress

_STRING_FIELDS = {"chunk_id", "document_id", "source_kind", "source_name", "title", "section", "content_hash",
                  "embedding_service", "model_name", "run_id", "ingested_at", "text", "indexed_text"}
# Columns added after the first tables were made, with the SQL that fills them in an older table.
_ADDED_COLUMNS = {"section": "''", "indexed_text": "text"}
_FTS_COLUMN = "indexed_text"  # BM25 runs over what was embedded: the contextual header and the text
# A row's short stored fields (all but its texts and vector) as one JSON text, written with its columns by every upsert:
# a search reads its hits from this column and the two texts, not from 19 columns (each costs reads per hit). With
# every field packed, top-5 of 100k rows took 3.65 against 4.72 ms p50 (bench/query_latency.py's table, queries
# interleaved); the texts stay out of it, so it costs about 600 bytes a row. A table made before it has none and is
# read column by column.
_HIT_COLUMN = "hit_json"
_TEXT_FIELDS = ("text", "indexed_text")
_PACKED_FIELDS = tuple(name for name in STORED_FIELDS if name not in _TEXT_FIELDS)
_PACKED_HIT_COLUMNS = [_HIT_COLUMN, *_TEXT_FIELDS]  # what a search reads of a table that has the packed column
_IN_LIST_LIMIT = 500
# Lance file format of new tables. 2.1 reads a search's few hits faster than LanceDB 0.40's default, 2.2, which
# compresses the text columns in blocks: top-5 of 100k rows with every column, 5.3 against 7.0 ms p50 (same rows and
# ANN index, queries interleaved; 4% more disk). A table keeps the format it was made with.
_DATA_STORAGE_VERSION = "2.1"
_COMMIT_RETRIES = 5
_T = TypeVar("_T")
# Every batch looks up its documents' stored chunks by `document_id` (`stored_chunk_ids`); without an index that reads
# the whole column, so a batch's store time grew with the table. A B-tree index on it, rebuilt whenever 10,000 rows or
# 5% of the table (whichever is more) have come in since, leaves the index plus those rows to read: 391 batches of 256
# rows, look-up and merge insert, took 44.7 s instead of 114.3 s (a rebuild at 100k rows takes 0.15 s). `chunk_id`, the
# merge insert's key, gets none: LanceDB's indexed merge insert was slower (26.7 against 14.4 s for 160 batches) and
# read whole rows, raising the peak memory by 100 MB at 40k rows. The 5% keeps the rebuilds, and the files of replaced
# indexes that stay with old versions until `optimize` prunes them, few.
_KEY_COLUMN = "document_id"
_KEY_INDEX_ROWS = 10_000
_KEY_INDEX_SHARE = 20  # rebuilt when 1/20 of the rows are not in it


def _arrow_schema(dimension: int) -> pa.Schema:
    fields = []
    for name in STORED_FIELDS:
        if name in _STRING_FIELDS:
            fields.append(pa.field(name, pa.string()))
        elif name == "question_ids":
            fields.append(pa.field(name, pa.list_(pa.string())))
        else:
            fields.append(pa.field(name, pa.int64()))
    fields.append(pa.field(_HIT_COLUMN, pa.string()))
    fields.append(pa.field("vector", pa.list_(pa.float32(), dimension)))
    return pa.schema(fields)


def _hit_columns(column_names: list[str]) -> list[str]:
    """What a search reads of a table with these columns: the packed fields and the two texts, else (a table from before
    `_HIT_COLUMN`) every column but the vector."""
    if _HIT_COLUMN in column_names:
        return list(_PACKED_HIT_COLUMNS)
    return [name for name in column_names if name != "vector"]


def _hit_json(row: dict[str, Any]) -> str:
    """A row's short stored fields as the JSON text of `_HIT_COLUMN` (ASCII: a lone surrogate stays an escape)."""
    return json.dumps({name: row[name] for name in _PACKED_FIELDS}, separators=(",", ":"))


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


# Two LanceDB sessions (their caches) per process, one for reading and one for writing. Both cap the metadata
# cache: it keeps the manifest of every table version it has seen, and each write of a streaming ingestion makes a
# version listing every fragment so far, so at LanceDB's 1 GiB default it grows with the square of the batches
# (43 MB after 391 batches). The read session (queries, evaluation) caps it at 256 MB, not 32: the search cache of
# each text column a search reads is kept there too, about 31 MB per text column at 100k rows of SQuAD paragraphs
# (1 MB for the packed hit column); at 32 MB they were evicted and read again by every search, +1.0 ms p50 at 100k
# rows (bench/query_latency.py). It keeps LanceDB's default index cache: the ANN partitions a search reads stay in memory.
# The write session (the table an ingestion writes, `vector_index`, and its upkeep) caps that one: the index its
# batches read is the `document_id` B-tree, rebuilt as the table grows, and each rebuild is a new index whose
# pages are cached beside the dead ones. Uncapped, 160 writes of 3,000 rows of random document ids filled it
# to 264 MB (RSS 545 MB); capped at 16 MB, 48 MB in all (RSS 312 MB), in the same time
# (`bench/store_write_memory.py`).
_SESSION = lancedb.Session(metadata_cache_size_bytes=256 << 20)
_WRITE_SESSION = lancedb.Session(metadata_cache_size_bytes=32 << 20, index_cache_size_bytes=16 << 20)


def store_client(vector_db_config: dict) -> lancedb.DBConnection:
    """Open (creating if needed) the LanceDB folder given by `vector_db_config['uri']`."""
    uri = _uri(vector_db_config)
    try:
        os.makedirs(uri, exist_ok=True)
        return lancedb.connect(uri, session=_SESSION)
    except OSError as error:
        raise StoreUnavailableError(f"LanceDB folder {uri} cannot be opened: {error.strerror or error}.") from error


def _writing(store_client: lancedb.DBConnection) -> lancedb.DBConnection:
    """The client's folder opened through the write session (its index cache capped, see `_WRITE_SESSION`)."""
    return lancedb.connect(store_client.uri, session=_WRITE_SESSION)


def vector_index(store_client: lancedb.DBConnection, index_name: str, embedding_dimension: int) -> lancedb.table.Table:
    """The table for this index, to write to (through the write session), created with the chunk schema and a
    `dimension`-wide vector if missing."""
    store_client = _writing(store_client)
    if _has_table(store_client, index_name):
        table = store_client.open_table(index_name)
        stored_dimension = table.schema.field("vector").type.list_size
        if stored_dimension != embedding_dimension:
            raise IndexMismatchError(
                f"LanceDB table {index_name!r} holds {stored_dimension}-dimensional vectors, but the chosen "
                f"embedding model gives {embedding_dimension}. Use another index name or the index's own model."
            )
        missing = {name: sql for name, sql in _ADDED_COLUMNS.items() if name not in table.schema.names}
        if missing:  # a table from before sections and contextual headers: add the columns, filled from what it holds
            _committed(table, lambda: table.add_columns(missing))
        return table
    try:
        return store_client.create_table(index_name, schema=_arrow_schema(embedding_dimension), exist_ok=True,
                                         storage_options={"new_table_data_storage_version": _DATA_STORAGE_VERSION})
    except OSError as error:
        raise StoreUnavailableError(f"LanceDB cannot create table {index_name!r}: {error}.") from error


def existing_index(store_client: lancedb.DBConnection, index_name: str) -> lancedb.table.Table:
    """The table for an index that must already exist (for queries)."""
    if not _has_table(store_client, index_name):
        raise IndexNotFoundError(f"LanceDB has no index {index_name!r} at {store_client.uri}. Ingest documents into it first.")
    return store_client.open_table(index_name)


def _unavailable(table: lancedb.table.Table, action: str, error: BaseException) -> StoreUnavailableError:
    """A store error naming the table and its folder (LanceDB reports a vanished or unwritable folder as OSError or RuntimeError)."""
    folder = Path(table.uri).parent
    gone = "" if folder.exists() else " (the folder no longer exists)"
    return StoreUnavailableError(f"LanceDB table {table.name!r} in {folder}{gone} {action}: {error}.")


@contextlib.contextmanager
def _write_lock(table: lancedb.table.Table) -> Iterator[None]:
    """Hold the table's write lock (a lock file beside it) across processes on this machine.

    LanceDB resolves two concurrent merge inserts of the same new key by keeping both rows, so
    two sessions ingesting into one table take turns to write; each write then sees the other's rows.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
        yield
        return
    with open(Path(table.uri).parent / f".{table.name}.write-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _is_conflict(error: BaseException | None) -> bool:
    """Whether a LanceDB commit conflict is this error or any error it was raised from (a wrapped one too)."""
    while error is not None:
        if isinstance(error, (OSError, RuntimeError, ValueError)) and "conflict" in str(error).lower():
            return True
        error = error.__cause__ or error.__context__
    return False


def _committed(table: lancedb.table.Table, write: Callable[[], _T]) -> _T:
    """Run a write at the table's latest version, under its write lock, retrying a commit conflict
    (another process compacting or indexing the table meanwhile, even when wrapped in another error)
    a few times with a short backoff."""
    for attempt in range(_COMMIT_RETRIES + 1):
        with _write_lock(table):
            table.checkout_latest()
            try:
                return write()
            except Exception as error:
                if not _is_conflict(error) or attempt == _COMMIT_RETRIES:
                    raise
        time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def _stored_rows(table: lancedb.table.Table, document_ids: list[str]) -> pa.Table:
    """`chunk_id` and `document_id` of the stored rows of these documents, looked up `_IN_LIST_LIMIT` documents at a
    time (through the `document_id` index once the table has one)."""
    parts = [
        table.search().select(["chunk_id", "document_id"]).where(_sql_in("document_id", document_ids[start : start + _IN_LIST_LIMIT]))
        .limit(None).to_arrow()
        for start in range(0, len(document_ids), _IN_LIST_LIMIT)
    ]
    return pa.concat_tables(parts) if parts else pa.table({"chunk_id": pa.array([], pa.string()), "document_id": pa.array([], pa.string())})


def stored_chunk_ids(vector_index: lancedb.table.Table, document_ids: list[str]) -> dict[str, set[str]]:
    """The chunk ids stored now for each of these documents (the basis of skip-unchanged and replace)."""
    found: dict[str, set[str]] = {doc_id: set() for doc_id in document_ids}
    try:
        if not document_ids or vector_index.count_rows() == 0:
            return found
        rows = _stored_rows(vector_index, document_ids)
    except (OSError, RuntimeError) as error:
        raise _unavailable(vector_index, "cannot be read", error) from error
    for chunk_id, doc_id in zip(rows["chunk_id"].to_pylist(), rows["document_id"].to_pylist()):
        found[doc_id].add(chunk_id)
    return found


def _upsert(table: lancedb.table.Table, rows: pa.Table) -> None:
    """Write rows by `chunk_id` (run under the write lock, at the latest version): ids already stored are merged in, the
    rest appended. A chunk id begins with its document's id, so the stored ones are found by the rows' documents through
    the `document_id` index; a merge insert of every row joined them with the whole table's ids instead, a transient
    that grew with the table (the peak of 333 writes of 3,000 rows rose from 461 to 598 MB between 300k and 1M rows)."""
    stored = _stored_rows(table, pc.unique(rows["document_id"]).to_pylist())["chunk_id"]
    again = pc.is_in(rows["chunk_id"], value_set=stored)
    if pc.any(again).as_py():
        table.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all().use_index(False).execute(
            rows.filter(again))
    new = rows.filter(pc.invert(again))
    if new.num_rows:
        table.add(new)


def written_chunk_ids(
    vector_index: lancedb.table.Table,
    chunk_records: list[dict],
    chunk_vectors: np.ndarray,
    progress: Progress,
    upsert_batch_size: int = 2000,
) -> list[str]:
    """Upsert the chunk rows with their vectors by `chunk_id`, in batches (each at the table's latest version,
    under its write lock, so concurrent sessions never duplicate a chunk), then bring the `document_id` index up to
    date (past 10,000 rows); returns the ids written."""
    written: list[str] = []
    total = len(chunk_records)
    schema = vector_index.schema  # read once: each read is a trip to LanceDB's event loop
    progress("written_chunk_ids", 0, total)
    for start in range(0, total, upsert_batch_size):
        batch = chunk_records[start : start + upsert_batch_size]
        vectors = np.ascontiguousarray(chunk_vectors[start : start + upsert_batch_size], dtype=np.float32)
        columns = {name: [row[name] for row in batch] for name in STORED_FIELDS}
        if _HIT_COLUMN in schema.names:
            columns[_HIT_COLUMN] = [_hit_json(row) for row in batch]
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
        try:
            table = pa.Table.from_pydict(columns, schema=schema)
            _committed(vector_index, lambda rows=table: _upsert(vector_index, rows))
        except (OSError, RuntimeError) as error:
            raise _unavailable(vector_index, f"write failed after {len(written)} of {total} chunks", error) from error
        written.extend(columns["chunk_id"])
        progress("written_chunk_ids", len(written), total)
    if written:
        try:
            _committed(vector_index, lambda: _keep_key_index(vector_index))
        except (OSError, RuntimeError) as error:
            raise _unavailable(vector_index, "key index update failed after the write", error) from error
    return written


def _keep_key_index(table: lancedb.table.Table) -> bool:
    """(Re)build the B-tree index on `_KEY_COLUMN` once the table holds `_KEY_INDEX_ROWS` rows, and again whenever that
    many rows, or 1/`_KEY_INDEX_SHARE` of the table if more, are not in it; True when it built it."""
    from lancedb.index import BTree

    rows = table.count_rows()
    if rows < _KEY_INDEX_ROWS:
        return False
    name = next((index.name for index in table.list_indices()
                 if index.index_type == "BTree" and list(index.columns) == [_KEY_COLUMN]), None)
    if name is not None and table.index_stats(name).num_unindexed_rows < max(_KEY_INDEX_ROWS, rows // _KEY_INDEX_SHARE):
        return False
    table.create_index(_KEY_COLUMN, config=BTree(), replace=True)
    return True


def deleted_chunk_ids(vector_index: lancedb.table.Table, stale_chunk_ids: list[str], written_chunk_ids: list[str]) -> list[str]:
    """Remove chunks of re-ingested documents that the new version no longer has (after the writes)."""
    for start in range(0, len(stale_chunk_ids), _IN_LIST_LIMIT):
        where = _sql_in("chunk_id", stale_chunk_ids[start : start + _IN_LIST_LIMIT])
        try:
            _committed(vector_index, lambda where=where: vector_index.delete(where))
        except (OSError, RuntimeError) as error:
            raise _unavailable(vector_index, f"delete of stale chunks failed after {start} of {len(stale_chunk_ids)}", error) from error
    return list(stale_chunk_ids)


def deleted_document_count(vector_index: lancedb.table.Table, document_ids_to_delete: list[str]) -> int:
    """Remove every chunk of these documents; returns how many rows went."""
    before = vector_index.count_rows()
    for start in range(0, len(document_ids_to_delete), _IN_LIST_LIMIT):
        vector_index.delete(_sql_in("document_id", document_ids_to_delete[start : start + _IN_LIST_LIMIT]))
    return before - vector_index.count_rows()


def _unpacked(text: str | None) -> dict[str, Any]:
    """The fields of one `_HIT_COLUMN` cell; IndexDamagedError for a cell that is not the JSON object written there."""
    try:
        fields = json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        fields = None
    if not isinstance(fields, dict) or not set(_PACKED_FIELDS) <= fields.keys():
        raise IndexDamagedError(f"A row of the LanceDB index holds a damaged {_HIT_COLUMN} value "
                                f"({ascii(text)[:60]}). {INDEX_REPAIR}")
    return fields


def _rows(arrow_table: pa.Table) -> list[dict[str, Any]]:
    """The stored fields of each row of a query result (the short ones from `_HIT_COLUMN` when it has it), no vector."""
    if _HIT_COLUMN in arrow_table.column_names:
        texts = arrow_table.select(list(_TEXT_FIELDS)).to_pylist()
        return [{**_unpacked(fields), **row_texts} for fields, row_texts in zip(arrow_table[_HIT_COLUMN].to_pylist(), texts)]
    rows = arrow_table.drop_columns([c for c in ("vector",) if c in arrow_table.column_names]).to_pylist()
    if rows and "section" not in rows[0]:  # a table from before sections, not written to since
        for row in rows:
            row["section"], row["indexed_text"] = "", row.get("text", "")
    return rows


# Query-time settings of the ANN index (ignored while a table has none, below `ann_index_threshold`):
# HNSW search breadth, and candidates re-ranked with the full vectors (so scores are exact cosine). At
# 1M vectors (bench/query_scale.py) LanceDB's default breadth gave recall@10 0.86; these give 1.000
# at p50 5.9 ms (ef 128 alone: 0.970 at 4.0 ms).
_ANN_EF = 128
_ANN_REFINE_FACTOR = 2


def _async_table(table: lancedb.table.Table) -> AsyncTable:
    """The AsyncTable a sync LanceDB table wraps (LanceDB keeps it as `_table`; tests/test_ann_index.py checks it still does)."""
    inner = getattr(table, "_table", None)
    if not isinstance(inner, AsyncTable):
        raise TypeError(f"LanceDB {lancedb.__version__} no longer wraps an AsyncTable in its sync table")
    return inner


async def _nearest_arrow(table: AsyncTable, query_vector: np.ndarray, top_k: int, columns: list[str]) -> pa.Table:
    query = (
        table.query()
        .nearest_to(query_vector)
        .distance_type("cosine")
        .ef(max(_ANN_EF, top_k))
        .refine_factor(_ANN_REFINE_FACTOR)
        .limit(top_k)
        .select([*columns, "_distance"])
    )
    # The plan run as one call, its rows read from the stream it returns: LanceDB's `to_arrow` first reads the schema
    # (twice awaited, for blob columns, which a chunk table has none of). `_inner` is checked in tests/test_ann_index.py.
    stream = await query._inner.execute(max_batch_length=None, timeout=None)
    return pa.Table.from_batches([batch async for batch in stream], schema=stream.schema)


def _nearest(existing_index: lancedb.table.Table, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    # One trip to LanceDB's event loop: its sync query builder takes six (and reads the schema three times),
    # 1.7 ms of a 7 ms search at 100k rows (bench/query_latency.py). The columns are those of a table with the packed
    # hit column; a table from before it is told by the schema error, and then searched by its own columns.
    table, vector = _async_table(existing_index), np.asarray(query_vector, dtype=np.float32)
    try:
        result = LOOP.run(_nearest_arrow(table, vector, top_k, _PACKED_HIT_COLUMNS))
    except ValueError:
        names = existing_index.schema.names
        if _HIT_COLUMN in names:
            raise
        result = LOOP.run(_nearest_arrow(table, vector, top_k, _hit_columns(names)))
    hits = _rows(result.drop_columns(["_distance"]))
    for hit, distance in zip(hits, result["_distance"].to_pylist()):
        hit["score"] = 1.0 - float(distance)
    return hits


def search_hits(existing_index: lancedb.table.Table, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    """The `top_k` chunks nearest the query vector by cosine distance; `score` is cosine similarity."""
    return _nearest(existing_index, query_vector, top_k)


def dense_hits(existing_index: lancedb.table.Table, query_vector: np.ndarray, candidate_count: int) -> list[dict]:
    """The `candidate_count` chunks nearest the query vector (exact cosine search); `score` is cosine similarity."""
    return _nearest(existing_index, query_vector, candidate_count)


_QUERIES_PER_SEARCH = 1024  # query vectors per batched LanceDB search (bounds the result's memory)


def _nearest_many(existing_index: lancedb.table.Table, query_vectors: np.ndarray, top_k: int) -> list[list[dict]]:
    """One LanceDB search per slice of query vectors (its `query_index` column says which query a row answers)."""
    vectors = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
    if top_k <= 0 or not len(vectors):
        return [[] for _ in range(len(vectors))]
    columns = [*_hit_columns(existing_index.schema.names), "_distance"]  # _distance asked for: no deprecation warning
    answers: list[list[dict]] = []
    for start in range(0, len(vectors), _QUERIES_PER_SEARCH):
        part = vectors[start : start + _QUERIES_PER_SEARCH]
        result = (
            existing_index.search(list(part))
            .distance_type("cosine")
            .ef(max(_ANN_EF, top_k))
            .refine_factor(_ANN_REFINE_FACTOR)
            .select(columns)
            .limit(top_k)
            .to_arrow()
        )
        queries = result["query_index"].to_pylist() if "query_index" in result.column_names else [0] * result.num_rows
        distances = result["_distance"].to_pylist()
        rows = _rows(result.drop_columns([c for c in ("_distance", "query_index") if c in result.column_names]))
        grouped: list[list[tuple[float, dict]]] = [[] for _ in range(len(part))]
        for query, distance, row in zip(queries, distances, rows):
            row["score"] = 1.0 - float(distance)
            grouped[query].append((float(distance), row))
        answers.extend([row for _, row in sorted(hits, key=lambda pair: pair[0])] for hits in grouped)
    return answers


def dense_hits_batch(existing_index: lancedb.table.Table, query_vectors: np.ndarray, candidate_count: int) -> list[list[dict]]:
    """For each query vector, its `candidate_count` nearest chunks, as `dense_hits` gives them: one LanceDB search per 1,024 queries."""
    return _nearest_many(existing_index, query_vectors, candidate_count)


def _fts_index(table: lancedb.table.Table) -> Any:
    return next((index for index in table.list_indices() if index.index_type == "FTS" and list(index.columns) == [_fts_column(table)]), None)


def _fts_column(table: lancedb.table.Table) -> str:
    return _FTS_COLUMN if _FTS_COLUMN in table.schema.names else "text"  # a table from before contextual headers


def _text_index_settings(
    lexical_tokenizer: str, lexical_stem: bool, lexical_stop_words: bool, lexical_language: str
) -> dict[str, Any]:
    return fts_index_settings(lexical_tokenizer, lexical_stem, lexical_stop_words, lexical_language)


def _fts_mismatch(table: lancedb.table.Table, wanted: dict[str, Any]) -> str:
    """'' when the table has a full-text index on its indexed text built with these settings; else what is wrong."""
    index = _fts_index(table)
    if index is None:
        return "has no full-text index"
    details = getattr(index, "index_details", None) or {}
    other = {name: details.get(name) for name, value in wanted.items() if details.get(name) != value}
    return f"has a full-text index built with other lexical settings ({other})" if other else ""


def _build_text_index(table: lancedb.table.Table, wanted: dict[str, Any]) -> None:
    """(Re)build the full-text index (a write: callers hold the write lock through `_committed`)."""
    try:
        table.create_index(_fts_column(table), config=FTS(with_position=False, **wanted), replace=True)
    except ValueError as error:  # the tokeniser or language was refused; a commit conflict is left to `_committed`
        if _is_conflict(error):
            raise
        raise StoreUnavailableError(
            f"LanceDB could not build the full-text index of {table.name!r}: {error}. "
            "Check the lexical settings (lexical_tokenizer, lexical_language)."
        ) from error


def text_index(
    existing_index: lancedb.table.Table,
    lexical_tokenizer: str = "simple",
    lexical_stem: bool = True,
    lexical_stop_words: bool = True,
    lexical_language: str = "English",
) -> lancedb.table.Table:
    """The table, once checked to have a full-text (BM25) index on `indexed_text` (the text embedded) with these lexical settings; a query never writes, so a missing or other index is refused with the command that builds it.

    Rows written since the index was built are still searched (LanceDB scans the rows an index does not cover)."""
    wanted = _text_index_settings(lexical_tokenizer, lexical_stem, lexical_stop_words, lexical_language)
    problem = _fts_mismatch(existing_index, wanted)
    if problem:
        raise IndexNotFoundError(
            f"LanceDB table {existing_index.name!r} {problem}; queries do not write to the index. Build it with "
            f"`python -m workbench repair --index {existing_index.name} --rebuild-fts` and the same lexical flags, "
            "or ingest with fts_at_ingest."
        )
    return existing_index


def _scored_rows(result: pa.Table, score_column: str) -> list[dict]:
    scores = result[score_column].to_pylist()
    hits = _rows(result.drop_columns([c for c in ("_distance", "_score", "_relevance_score", "_rowid") if c in result.column_names]))
    for hit, score in zip(hits, scores):
        hit["score"] = float(score)
    return hits


def lexical_hits(text_index: lancedb.table.Table, question: str, candidate_count: int) -> list[dict]:
    """The `candidate_count` chunks that best match the question's words by BM25 (LanceDB full-text search); `score` is BM25."""
    result = text_index.search(question, query_type="fts", fts_columns=_fts_column(text_index)).limit(candidate_count).to_arrow()
    return _scored_rows(result, "_score")


class _Fusion(Reranker):
    """LanceDB's hook for hybrid queries, fusing the two legs with `ragkit.fusion.fuse`."""

    def __init__(self, fusion: str, alpha: float, rrf_k: float) -> None:
        super().__init__("relevance")
        self.fusion, self.alpha, self.rrf_k = fusion, alpha, rrf_k

    def rerank_hybrid(self, query: str, vector_results: pa.Table, fts_results: pa.Table) -> pa.Table:
        # LanceDB hands over min-max normalised values: `_distance` 0 = nearest, `_score` 1 = best.
        dense, lexical = [], []
        if vector_results.num_rows:
            dense = [(row_id, -distance) for row_id, distance in
                     zip(vector_results["_rowid"].to_pylist(), vector_results["_distance"].to_pylist())]
        if fts_results.num_rows:
            lexical = list(zip(fts_results["_rowid"].to_pylist(), fts_results["_score"].to_pylist()))
        fused = dict(fuse(dense, lexical, self.fusion, self.alpha, self.rrf_k))
        parts = [table for table in (vector_results, fts_results) if table.num_rows]
        combined = self.merge_results(*parts) if len(parts) == 2 else parts[0]
        scores = [fused[row_id] for row_id in combined["_rowid"].to_pylist()]
        combined = combined.append_column("_relevance_score", pa.array(scores, type=pa.float32()))
        return self._keep_relevance_score(combined.sort_by([("_relevance_score", "descending")]))


def hybrid_hits(
    text_index: lancedb.table.Table,
    question: str,
    query_vector: np.ndarray,
    candidate_count: int,
    hybrid_fusion: str = "rrf",
    hybrid_alpha: float = 0.5,
    rrf_k: int = 60,
    hybrid_candidates: int = 50,
) -> list[dict]:
    """The `candidate_count` best chunks of a LanceDB hybrid query: vector and BM25 legs fused by weighted RRF or linear fusion; `score` is the fused score."""
    depth = max(candidate_count, hybrid_candidates)
    result = (
        text_index.search(query_type="hybrid", fts_columns=_fts_column(text_index))
        .vector(np.asarray(query_vector, dtype=np.float32))
        .text(question)
        .distance_type("cosine")
        .ef(max(_ANN_EF, depth))
        .refine_factor(_ANN_REFINE_FACTOR)
        .rerank(_Fusion(hybrid_fusion, hybrid_alpha, rrf_k))
        .limit(depth)
        .to_arrow()
    )
    return _scored_rows(result, "_relevance_score")[:candidate_count]


def indexed_questions(existing_index: lancedb.table.Table) -> dict[str, str]:
    """Question id → document id, for every SQuAD question whose paragraph the index holds."""
    rows = (
        existing_index.search()
        .where("source_kind = 'squad'")
        .select(["document_id", "question_ids"])
        .limit(None)
        .to_arrow()
    )
    return {
        question_id: document_id
        for document_id, question_ids in zip(rows["document_id"].to_pylist(), rows["question_ids"].to_pylist())
        for question_id in question_ids or ()
    }


_ROW_FIELDS = list(CHUNK_ROW_FIELDS)


def chunk_rows(existing_index: lancedb.table.Table) -> list[dict]:
    """Every stored chunk's id, document id, source name, title, page and text (no vectors): what labels resolve against."""
    fields = [name for name in _ROW_FIELDS if name in existing_index.schema.names]  # no `section` in an older table
    rows = existing_index.search().select(fields).limit(None).to_arrow().to_pylist()
    for row in rows:
        row.setdefault("section", "")
    return rows


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


# --- index upkeep after ingestion (ANN index, full-text index, compaction) ----------------------


def _vector_index_config(table: lancedb.table.Table) -> Any:
    return next((index for index in table.list_indices() if list(index.columns) == ["vector"]), None)


def _ann_config(ann_index_type: str, rows: int, dimension: int) -> Any:
    """The LanceDB index config of an ANN type, cosine distance: IVF-PQ with partitions of about 4,000 rows and
    a 4-dimension code per byte; IVF-HNSW with an HNSW graph per 500,000 rows (see bench/query_scale.py)."""
    from lancedb.index import HnswPq, HnswSq, IvfPq

    if ann_index_type == "ivf_pq":
        return IvfPq(distance_type="cosine", num_partitions=max(1, rows // 4096), num_sub_vectors=max(1, dimension // 4))
    graphs = max(1, rows // 500_000)
    if ann_index_type == "ivf_hnsw_pq":
        return HnswPq(distance_type="cosine", num_partitions=graphs, num_sub_vectors=max(1, dimension // 4))
    return HnswSq(distance_type="cosine", num_partitions=graphs)


def maintained_index(
    store_client: lancedb.DBConnection,
    index_name: str,
    run_counts: dict[str, int],
    ann_index_threshold: int = 100_000,
    ann_index_type: str = "ivf_hnsw_sq",
    compact_after_writes: int = 20,
    fts_at_ingest: bool = True,
    lexical_tokenizer: str = "simple",
    lexical_stem: bool = True,
    lexical_stop_words: bool = True,
    lexical_language: str = "English",
) -> dict[str, Any]:
    """Index upkeep after a run: compact once `compact_after_writes` fragments pile up (and fold new rows into the indexes), build the ANN index past `ann_index_threshold` rows, refresh the full-text index; returns what it did."""
    table = _writing(store_client).open_table(index_name)  # opened now: the batches may have written from other processes
    changed = bool(run_counts.get("written") or run_counts.get("deleted_stale"))

    def upkeep() -> dict[str, Any]:
        done: dict[str, Any] = {"rows": table.count_rows(), "compacted": False, "ann_index": "none", "fts_index": "unchanged"}
        fragments = table.stats()["fragment_stats"]["num_fragments"]
        ann = _vector_index_config(table)
        if (compact_after_writes and fragments >= compact_after_writes) or (changed and ann is not None):
            table.optimize()  # compaction, old versions pruned (LanceDB's 7-day default), new rows added to the indexes
            done["compacted"] = True
        if ann is not None:
            done["ann_index"] = "updated" if changed else "present"
        elif ann_index_threshold and done["rows"] >= ann_index_threshold:
            dimension = table.schema.field("vector").type.list_size
            table.create_index("vector", config=_ann_config(ann_index_type, done["rows"], dimension))
            done["ann_index"] = f"created {ann_index_type}"
        wanted = _text_index_settings(lexical_tokenizer, lexical_stem, lexical_stop_words, lexical_language)
        if fts_at_ingest and done["rows"] and (changed or _fts_mismatch(table, wanted)):
            _build_text_index(table, wanted)
            done["fts_index"] = "refreshed"
        return done

    try:
        # Under the table's write lock, commit conflicts retried: two sessions finishing together would otherwise race.
        return _committed(table, upkeep)
    except StoreUnavailableError:
        raise
    except (OSError, RuntimeError, ValueError) as error:
        raise StoreUnavailableError(f"LanceDB index upkeep of {index_name!r} failed: {error}.") from error


def index_state(existing_index: lancedb.table.Table) -> dict[str, Any]:
    """What the index looks like now: rows, fragments, its ANN vector index (type, rows not yet indexed) and full-text index."""
    stats = existing_index.stats()
    ann = _vector_index_config(existing_index)
    fts = _fts_index(existing_index)
    state: dict[str, Any] = {
        "rows": existing_index.count_rows(),
        "fragments": stats["fragment_stats"]["num_fragments"],
        "ann_index": ann.index_type if ann is not None else "",
        "fts_index": fts is not None,
        "version": existing_index.version,
    }
    if ann is not None:
        state["ann_unindexed_rows"] = existing_index.index_stats(ann.name).num_unindexed_rows
    state["disk"] = _disk_usage(existing_index, state["rows"])
    return state


def _disk_usage(table: lancedb.table.Table, rows: int) -> dict[str, Any]:
    """Bytes of the table's folder: data files (vectors, estimated as rows × dimension × 4, and the payload columns), the
    full-text index, the ANN index, the key (B-tree) indexes, and the rest (versions, transactions, deletion files, and
    indexes that older versions used)."""
    folder = Path(table.uri)
    kinds = {str(index.index_uuid): index.index_type for index in table.list_indices()}
    indices = folder / "_indices"
    sizes = {"FTS": 0, "BTree": 0, "ann": 0}
    for entry in indices.iterdir() if indices.is_dir() else ():
        kind = kinds.get(entry.name)  # None: an index an older version used (kept with its version), counted as the rest
        if kind is not None:
            sizes[kind if kind in sizes else "ann"] += folder_bytes(entry)
    data = folder_bytes(folder / "data")
    vector_field = table.schema.field("vector")
    dimension = getattr(vector_field.type, "list_size", 0) or 0
    vectors = min(data, raw_vector_bytes(rows, dimension))
    total = folder_bytes(folder)
    return {"measured": True, "path": str(folder), "total_bytes": total, "vectors_bytes": vectors,
            "fts_index_bytes": sizes["FTS"], "ann_index_bytes": sizes["ann"], "key_index_bytes": sizes["BTree"],
            "payload_bytes": data - vectors, "other_bytes": total - data - sum(sizes.values()),
            "method": "the table folder; vectors = rows × dimension × 4 bytes of its data files, payload the rest of them"}
