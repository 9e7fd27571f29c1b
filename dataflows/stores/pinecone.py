"""Pinecone serverless: a hosted vector store, driven through the official `pinecone` SDK (v10).

One serverless index (cosine, the embedding dimension) per index name; the chunks live in one
namespace of it. Vectors are upserted by `chunk_id` with every other stored field as Pinecone
metadata, listed by id prefix (chunk ids are `<document_id>-<16 hex>`), searched by cosine score.

Settings (`vector_db_config`): `namespace` (default "default"), `cloud` ("aws"), `region`
("us-east-1") for indexes created here, and optional `host`, the control-plane URL (a gateway
or a local simulator; the SDK's own PINECONE_CONTROLLER_HOST is honoured when it is unset).
The API key is the driver input `pinecone_api_key` ("" when not set).

`store_client` returns a `pinecone.Pinecone` that also carries these settings, because the
nodes below it (`vector_index`, `existing_index`, `index_reset`) see only the client and the
index name. The SDK's own retry policy (3 retries on 408/429/5xx with jittered backoff) is kept.

Retrieval is dense only. Pinecone's lexical search needs sparse vectors written at ingestion
into a `dotproduct` index (sparse-dense) or a separate sparse index; the indexes here are dense
cosine indexes, so `text_index` refuses lexical and hybrid modes with a ConfigError.

Pinecone is eventually consistent: a count, list or query right after an upsert may not see it
yet (usually within a second or two).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from pinecone import Index, Pinecone
from pinecone.errors.exceptions import (
    ApiError,
    ForbiddenError,
    IndexInitFailedError,
    IndexTerminatedError,
    NotFoundError,
    PineconeConnectionError,
    PineconeTimeoutError,
    UnauthorizedError,
)
from pinecone.models.indexes.schema import DenseVectorField

from ragkit.errors import (
    ConfigError,
    IndexMismatchError,
    IndexNotFoundError,
    MissingApiKeyError,
    StoreUnavailableError,
)
from ragkit.schema import CHUNK_ROW_FIELDS, STORED_FIELDS, Progress
from ragkit.threaded_search import searched_in_threads

_INT_FIELDS = ("page", "chunk_index", "char_start", "char_end", "dimension")
_LIST_FIELDS = ("question_ids",)
_METADATA_FIELDS = tuple(name for name in STORED_FIELDS if name not in ("chunk_id", "indexed_text"))
# `indexed_text` is the contextual header then the text: only the header is stored ("indexed_header"), so a chunk's
# text is not stored twice in the 40 KB of metadata; the row read back puts the two together again.

# Pinecone caps metadata at 40 KB per vector; stay clear of it, measured as the JSON the SDK sends.
_METADATA_BYTE_BUDGET = 39_000
# Pinecone caps an upsert request at 2 MB and 1000 vectors; batches are cut to stay under both.
_REQUEST_BYTE_BUDGET = 1_800_000
_MAX_VECTORS_PER_REQUEST = 1000
_DELETE_BATCH = 1000
_FETCH_BATCH = 100
_LIST_PAGE = 100
_INDEX_NAME_MAX = 45
_READY_TIMEOUT_S = 300
_READY_POLL_S = 2.0


@dataclass(frozen=True)
class _Settings:
    namespace: str
    cloud: str
    region: str
    host: str


@dataclass(frozen=True)
class _Target:
    """The data-plane handle of one index, with the namespace the chunks live in."""

    index: Index
    namespace: str
    name: str


class _PineconeClient(Pinecone):
    """A `pinecone.Pinecone` that remembers the workbench settings the later nodes need."""

    def __init__(self, api_key: str, settings: _Settings) -> None:
        super().__init__(api_key=api_key, host=settings.host or None)
        self.workbench_settings = settings


def _settings_from_config(vector_db_config: dict) -> _Settings:
    return _Settings(
        namespace=str(vector_db_config.get("namespace") or "default"),
        cloud=str(vector_db_config.get("cloud") or "aws"),
        region=str(vector_db_config.get("region") or "us-east-1"),
        host=str(vector_db_config.get("host") or ""),
    )


def _client_settings(client: Pinecone) -> _Settings:
    settings = getattr(client, "workbench_settings", None)
    return settings if isinstance(settings, _Settings) else _settings_from_config({})


def _pinecone_index_name(index_name: str) -> str:
    """A legal Pinecone index name: lowercase alphanumerics and '-', at most 45 characters."""
    name = re.sub(r"[^a-z0-9-]", "-", index_name.lower()).strip("-")
    if not name:
        raise ConfigError(f"Index name {index_name!r} has no letters or digits; Pinecone needs at least one.")
    if len(name) > _INDEX_NAME_MAX:
        suffix = hashlib.sha256(index_name.encode("utf-8")).hexdigest()[:8]
        name = name[: _INDEX_NAME_MAX - len(suffix) - 1].rstrip("-") + "-" + suffix
    return name


def _public_host(host: str) -> str:
    """The host without any user:password part, for messages and the store location."""
    parts = urlsplit(host if "//" in host else "//" + host)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/") if parts.scheme else netloc + parts.path


@contextlib.contextmanager
def _pinecone_errors(action: str) -> Iterator[None]:
    """Turn SDK failures into workbench errors that say what to do (never echoing the key)."""
    try:
        yield
    except (UnauthorizedError, ForbiddenError) as error:
        raise StoreUnavailableError(
            f"Pinecone refused the API key (HTTP {error.status_code}) while {action}. Check that "
            f"PINECONE_API_KEY holds a current key of the project that owns the index."
        ) from error
    except PineconeTimeoutError as error:
        raise StoreUnavailableError(
            f"Pinecone did not answer in time while {action}. Try again; if it persists, check the "
            f"network and https://status.pinecone.io."
        ) from error
    except PineconeConnectionError as error:
        raise StoreUnavailableError(
            f"Pinecone cannot be reached while {action}: {error}. Check the network connection and "
            f"the `host` setting of the Pinecone store."
        ) from error
    except (IndexInitFailedError, IndexTerminatedError) as error:
        raise StoreUnavailableError(f"Pinecone index is not usable while {action}: {error}.") from error
    except ApiError as error:
        hint = (
            " Pinecone is overloaded or down even after the SDK's retries; try again later."
            if error.status_code >= 500 or error.status_code == 429
            else ""
        )
        raise StoreUnavailableError(
            f"Pinecone answered HTTP {error.status_code} while {action}: {str(error.message).rstrip('.')}.{hint}"
        ) from error


def _ready_model(client: Pinecone, name: str) -> Any:
    """Describe the index, waiting (bounded) until it is ready and has a host."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while True:
        model = client.indexes.describe(name)
        if model.status.ready and model.host:
            return model
        if model.status.state in ("InitializationFailed", "Terminating", "Disabled"):
            raise StoreUnavailableError(f"Pinecone index {name!r} is {model.status.state}; it cannot be used.")
        if time.monotonic() >= deadline:
            raise StoreUnavailableError(
                f"Pinecone index {name!r} was not ready after {_READY_TIMEOUT_S} s (state "
                f"{model.status.state}). Try again in a few minutes."
            )
        time.sleep(_READY_POLL_S)


def _dense_field(model: Any) -> DenseVectorField | None:
    dense = [field for field in model.schema.fields.values() if isinstance(field, DenseVectorField)]
    return dense[0] if len(dense) == 1 else None


def _target(client: Pinecone, model: Any) -> _Target:
    return _Target(index=client.index(host=model.host), namespace=_client_settings(client).namespace, name=model.name)


def store_location(vector_db_config: dict) -> str:
    """Where the chunks live: `pinecone:` and the namespace, plus the control-plane host when overridden."""
    settings = _settings_from_config(vector_db_config)
    host = settings.host
    location = f"pinecone:{settings.namespace}"
    return f"{location}@{_public_host(host)}" if host else location


def store_client(vector_db_config: dict, pinecone_api_key: str) -> Pinecone:
    """A Pinecone control-plane client for the key and `vector_db_config` (no request is made yet)."""
    if not pinecone_api_key or not pinecone_api_key.strip():
        raise MissingApiKeyError("Pinecone", "PINECONE_API_KEY")
    settings = _settings_from_config(vector_db_config)
    try:
        return _PineconeClient(pinecone_api_key.strip(), settings)
    except ValueError as error:  # PineconeValueError: malformed key or host; its message never holds the key
        raise ConfigError(f"Pinecone client cannot be set up: {error}") from error


def vector_index(store_client: Pinecone, index_name: str, embedding_dimension: int) -> _Target:
    """The index's data-plane handle, created (serverless, cosine, this dimension) and awaited if missing."""
    name = _pinecone_index_name(index_name)
    settings = _client_settings(store_client)
    with _pinecone_errors(f"opening index {name!r}"):
        try:
            model = _ready_model(store_client, name)
        except NotFoundError:
            model = None
        if model is None:
            try:
                store_client.indexes.create(
                    name=name,
                    dimension=int(embedding_dimension),
                    metric="cosine",
                    deployment={"deployment_type": "managed", "cloud": settings.cloud, "region": settings.region},
                    timeout=-1,
                )
            except ApiError as error:
                if error.status_code != 409:  # 409: created concurrently by another run; use it
                    raise
            model = _ready_model(store_client, name)
    field = _dense_field(model)
    if field is None:
        raise IndexMismatchError(
            f"Pinecone index {name!r} is not a single dense-vector index (it has another schema). "
            f"Use another index name."
        )
    if field.dimension != embedding_dimension or field.metric.lower() != "cosine":
        raise IndexMismatchError(
            f"Pinecone index {name!r} holds {field.dimension}-dimensional vectors compared by "
            f"{field.metric}, but the chosen embedding model gives {embedding_dimension}-dimensional "
            f"vectors compared by cosine. Use another index name or the index's own model."
        )
    return _target(store_client, model)


def existing_index(store_client: Pinecone, index_name: str) -> _Target:
    """The data-plane handle of an index that must already exist (for queries)."""
    name = _pinecone_index_name(index_name)
    with _pinecone_errors(f"opening index {name!r}"):
        try:
            model = _ready_model(store_client, name)
        except NotFoundError as error:
            raise IndexNotFoundError(
                f"Pinecone has no index {name!r} in this project. Ingest documents into it first."
            ) from error
    return _target(store_client, model)


def _namespace_count(target: _Target) -> int:
    summary = target.index.describe_index_stats().namespaces.get(target.namespace)
    return int(summary.vector_count) if summary is not None else 0


def _ids_with_prefix(target: _Target, prefix: str) -> list[str]:
    ids: list[str] = []
    for page in target.index.list(prefix=prefix, limit=_LIST_PAGE, namespace=target.namespace):
        ids.extend(item.id for item in page.vectors if item.id)
    return ids


def stored_chunk_ids(vector_index: _Target, document_ids: list[str]) -> dict[str, set[str]]:
    """The chunk ids stored now for each of these documents, listed by the `<document_id>-` id prefix."""
    found: dict[str, set[str]] = {doc_id: set() for doc_id in document_ids}
    if not found:
        return found
    with _pinecone_errors(f"listing chunk ids in index {vector_index.name!r}"):
        stored = _namespace_count(vector_index)
        if stored == 0:
            return found
        if stored < _LIST_PAGE * len(found):  # one pass over every id costs fewer requests
            for chunk_id in _ids_with_prefix(vector_index, ""):
                ids = found.get(chunk_id.rsplit("-", 1)[0])
                if ids is not None:
                    ids.add(chunk_id)
            return found
        for doc_id, ids in found.items():
            ids.update(_ids_with_prefix(vector_index, doc_id + "-"))
    return found


def _json_size(metadata: dict[str, Any]) -> int:
    return len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _utf8_text(value: Any) -> str:
    text = "" if value is None else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be sent as JSON; replace them
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _metadata(record: dict) -> dict[str, Any]:
    """Pinecone metadata for a chunk record: no nulls, no empty lists, text cut to fit 40 KB."""
    metadata: dict[str, Any] = {}
    for name in _METADATA_FIELDS:
        value = record.get(name)
        if name in _INT_FIELDS:
            metadata[name] = int(value or 0)
        elif name in _LIST_FIELDS:
            items = [str(item) for item in (value or ())]
            if items:  # an empty list is stored as absent and read back as []
                metadata[name] = items
        else:
            metadata[name] = _utf8_text(value)
    indexed, text = str(record.get("indexed_text") or ""), str(record.get("text") or "")
    header = indexed[: len(indexed) - len(text)] if indexed.endswith(text) else ""  # indexed = header + text, always
    if header:
        metadata["indexed_header"] = _utf8_text(header)
    if _json_size(metadata) <= _METADATA_BYTE_BUDGET:
        return metadata
    text = metadata["text"]
    metadata["text_truncated"] = True
    low, high = 0, len(text)  # the longest prefix (whole characters) that fits
    while low < high:
        middle = (low + high + 1) // 2
        metadata["text"] = text[:middle]
        if _json_size(metadata) <= _METADATA_BYTE_BUDGET:
            low = middle
        else:
            high = middle - 1
    metadata["text"] = text[:low]
    return metadata


def _batches(sizes: list[int], max_count: int) -> Iterator[tuple[int, int]]:
    """Cut [0, len(sizes)) into runs of at most `max_count` items and `_REQUEST_BYTE_BUDGET` bytes."""
    start = 0
    while start < len(sizes):
        end, total = start, 0
        while end < len(sizes) and end - start < max_count and (end == start or total + sizes[end] <= _REQUEST_BYTE_BUDGET):
            total += sizes[end]
            end += 1
        yield start, end
        start = end


def written_chunk_ids(
    vector_index: _Target,
    chunk_records: list[dict],
    chunk_vectors: np.ndarray,
    progress: Progress,
    upsert_batch_size: int = 100,
) -> list[str]:
    """Upsert the chunks with their vectors by `chunk_id`, in batches; returns the ids written."""
    total = len(chunk_records)
    progress("written_chunk_ids", 0, total)
    if total == 0:
        return []
    vectors = np.asarray(chunk_vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != total:
        raise ValueError(f"{total} chunk records but chunk vectors of shape {vectors.shape}.")
    items = [
        (str(record["chunk_id"]), vectors[position].tolist(), _metadata(record))
        for position, record in enumerate(chunk_records)
    ]
    # A float goes over the wire as up to ~24 JSON characters; metadata as its JSON.
    sizes = [24 * vectors.shape[1] + _json_size(metadata) + len(chunk_id) + 64 for chunk_id, _, metadata in items]
    max_count = max(1, min(int(upsert_batch_size), _MAX_VECTORS_PER_REQUEST))
    written: list[str] = []
    for start, end in _batches(sizes, max_count):
        batch = items[start:end]
        try:
            with _pinecone_errors(f"writing to index {vector_index.name!r}"):
                vector_index.index.upsert(vectors=batch, namespace=vector_index.namespace)
        except StoreUnavailableError as error:
            raise StoreUnavailableError(
                f"Pinecone write failed after {len(written)} of {total} chunks were written: {error}"
            ) from error
        written.extend(chunk_id for chunk_id, _, _ in batch)
        progress("written_chunk_ids", len(written), total)
    return written


def _delete_ids(target: _Target, ids: list[str]) -> None:
    for start in range(0, len(ids), _DELETE_BATCH):
        target.index.delete(ids=ids[start : start + _DELETE_BATCH], namespace=target.namespace)


def deleted_chunk_ids(vector_index: _Target, stale_chunk_ids: list[str], written_chunk_ids: list[str]) -> list[str]:
    """Remove chunks of re-ingested documents that the new version no longer has (after the writes)."""
    stale = list(stale_chunk_ids)
    with _pinecone_errors(f"deleting stale chunks from index {vector_index.name!r}"):
        _delete_ids(vector_index, stale)
    return stale


def deleted_document_count(vector_index: _Target, document_ids_to_delete: list[str]) -> int:
    """Remove every chunk of these documents (listed by id prefix); returns how many went."""
    deleted = 0
    with _pinecone_errors(f"deleting documents from index {vector_index.name!r}"):
        for doc_id in document_ids_to_delete:
            ids = _ids_with_prefix(vector_index, doc_id + "-")
            _delete_ids(vector_index, ids)
            deleted += len(ids)
    return deleted


def _row(chunk_id: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A stored row from a vector id and its metadata, with Pinecone's floats turned back into ints."""
    metadata = metadata or {}
    row: dict[str, Any] = {}
    for name in STORED_FIELDS:
        value = metadata.get(name)
        if name == "chunk_id":
            row[name] = chunk_id
        elif name in _INT_FIELDS:
            row[name] = int(value) if value is not None else 0
        elif name in _LIST_FIELDS:
            row[name] = [str(item) for item in value] if isinstance(value, list) else []
        elif name == "indexed_text":
            row[name] = str(metadata.get("indexed_header") or "") + str(metadata.get("text") or "")
        else:
            row[name] = "" if value is None else str(value)
    return row


def _nearest(existing_index: _Target, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    vector = np.asarray(query_vector, dtype=np.float32).ravel().tolist()
    with _pinecone_errors(f"searching index {existing_index.name!r}"):
        response = existing_index.index.query(
            vector=vector, top_k=top_k, namespace=existing_index.namespace, include_metadata=True
        )
    hits = []
    for match in response.matches:
        hit = _row(match.id, match.metadata)
        hit["score"] = float(match.score)
        hits.append(hit)
    return hits


def search_hits(existing_index: _Target, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    """The `top_k` chunks nearest the query vector; `score` is Pinecone's cosine similarity."""
    return _nearest(existing_index, query_vector, top_k)


def dense_hits(existing_index: _Target, query_vector: np.ndarray, candidate_count: int) -> list[dict]:
    """The `candidate_count` chunks nearest the query vector; `score` is Pinecone's cosine similarity."""
    return _nearest(existing_index, query_vector, candidate_count)


def dense_hits_batch(existing_index: _Target, query_vectors: np.ndarray, candidate_count: int) -> list[list[dict]]:
    """For each query vector, its `candidate_count` nearest chunks, as `dense_hits` gives them: single searches, 8 at a time in threads."""
    return searched_in_threads(lambda vector: _nearest(existing_index, vector, candidate_count), query_vectors)  # Pinecone: no batch search


def text_index(existing_index: _Target) -> _Target:
    """Refused: the workbench's Pinecone indexes are dense-only, so lexical and hybrid retrieval are not available."""
    raise ConfigError(
        f"Pinecone index {existing_index.name!r} is dense-only: lexical (BM25) and hybrid retrieval need sparse "
        "vectors written at ingestion, which this workbench does not do for Pinecone. Use retrieval_mode 'dense' "
        "with Pinecone, or LanceDB / Weaviate for lexical and hybrid retrieval."
    )


def lexical_hits(text_index: _Target, question: str, candidate_count: int) -> list[dict]:
    """Never reached: `text_index` refuses lexical retrieval on Pinecone."""
    raise ConfigError("Pinecone indexes here are dense-only; use retrieval_mode 'dense'.")


def hybrid_hits(text_index: _Target, question: str, query_vector: np.ndarray, candidate_count: int) -> list[dict]:
    """Never reached: `text_index` refuses hybrid retrieval on Pinecone."""
    raise ConfigError("Pinecone indexes here are dense-only; use retrieval_mode 'dense'.")


def indexed_questions(existing_index: _Target) -> dict[str, str]:
    """Question id → document id, for every SQuAD question whose paragraph the index holds (a metadata-filtered fetch)."""
    found: dict[str, str] = {}
    token: str | None = None
    with _pinecone_errors(f"listing the SQuAD questions of index {existing_index.name!r}"):
        while True:
            response = existing_index.index.fetch_by_metadata(
                filter={"source_kind": {"$eq": "squad"}},
                namespace=existing_index.namespace,
                limit=10_000,
                pagination_token=token,
            )
            for vector_id, vector in response.vectors.items():
                row = _row(vector_id, vector.metadata)
                for question_id in row["question_ids"]:
                    found[question_id] = row["document_id"]
            token = response.pagination.next if response.pagination is not None else None
            if not token or not response.vectors:
                return found


_ROW_FIELDS = list(CHUNK_ROW_FIELDS)
_FETCH_IDS = 100  # ids per fetch request (they travel in the URL)


def chunk_rows(existing_index: _Target) -> list[dict]:
    """Every stored chunk's id, document id, source name, title, page and text (no vectors): what labels resolve against."""
    rows: list[dict] = []
    with _pinecone_errors(f"listing the chunks of index {existing_index.name!r}"):
        ids = _ids_with_prefix(existing_index, "")
        for start in range(0, len(ids), _FETCH_IDS):
            response = existing_index.index.fetch(ids=ids[start : start + _FETCH_IDS], namespace=existing_index.namespace)
            for vector_id, vector in response.vectors.items():
                row = _row(vector_id, vector.metadata)
                rows.append({name: row[name] for name in _ROW_FIELDS})
    return rows


def chunk_count(existing_index: _Target) -> int:
    """How many chunks the index's namespace holds."""
    with _pinecone_errors(f"counting chunks in index {existing_index.name!r}"):
        return _namespace_count(existing_index)


def run_chunks(existing_index: _Target, run_id: str, run_chunk_limit: int = 200) -> list[dict]:
    """Chunks whose lineage names this run, at most `run_chunk_limit` (a metadata-filtered fetch)."""
    rows: list[dict] = []
    token: str | None = None
    with _pinecone_errors(f"reading the chunks of run {run_id!r} from index {existing_index.name!r}"):
        while len(rows) < run_chunk_limit:
            response = existing_index.index.fetch_by_metadata(
                filter={"run_id": {"$eq": run_id}},
                namespace=existing_index.namespace,
                limit=min(run_chunk_limit - len(rows), 10_000),
                pagination_token=token,
            )
            rows.extend(_row(vector_id, vector.metadata) for vector_id, vector in response.vectors.items())
            token = response.pagination.next if response.pagination is not None else None
            if not token or not response.vectors:
                break
    rows = rows[:run_chunk_limit]
    rows.sort(key=lambda row: (row["document_id"], row["chunk_index"]))
    return rows


def index_reset(store_client: Pinecone, index_name: str) -> bool:
    """Delete every vector in the configured namespace (the index itself stays); False when there was nothing."""
    name = _pinecone_index_name(index_name)
    namespace = _client_settings(store_client).namespace
    with _pinecone_errors(f"resetting index {name!r}"):
        try:
            model = _ready_model(store_client, name)
        except NotFoundError:
            return False
        target = _target(store_client, model)
        if _namespace_count(target) == 0:
            return False
        try:
            target.index.delete(delete_all=True, namespace=namespace)
        except NotFoundError:
            return False
    return True


def maintained_index(store_client: Pinecone, index_name: str, run_counts: dict[str, int]) -> dict[str, Any]:
    """Nothing to do: Pinecone maintains its own vector index (serverless); it has no full-text index."""
    return {"managed_by": "pinecone", "compacted": False, "ann_index": "managed", "fts_index": "none"}


def index_state(existing_index: _Target) -> dict[str, Any]:
    """The namespace's vector count; the ANN index is Pinecone's own, and there is no full-text index."""
    with _pinecone_errors(f"counting chunks in index {existing_index.name!r}"):
        rows = _namespace_count(existing_index)
    return {"rows": rows, "fragments": None, "ann_index": "managed", "fts_index": False}
