"""Weaviate, a vector database server (self-hosted or Weaviate Cloud).

One collection per index; objects get a deterministic UUID from their `chunk_id`, so writing a
chunk again replaces it. Vectors are provided by the workbench (no Weaviate vectoriser) and
searched by cosine distance. Settings (`vector_db_config`): `url` (default
`http://localhost:8080`), optional `grpc_port` (default 50051), `grpc_host`, `grpc_secure`, and
`cloud` (also detected from `*.weaviate.cloud` / `*.weaviate.network` hosts). The API key comes in
as `weaviate_api_key` ("" when not set) and never appears in a message.

Lexical and hybrid retrieval use Weaviate's own BM25 index (kept current on every write) and its
hybrid query (`alpha` = weight of the vector side; fusion "rrf" is Weaviate's `rankedFusion`,
whose constant is fixed at 60, so `rrf_k` and `hybrid_candidates` do not apply; "linear" is
`relativeScoreFusion`). Weaviate tokenises `text` its own way (word tokenisation, lower-cased,
the English stop-word preset, no stemming): the `lexical_*` settings apply to LanceDB only.

The client holds open HTTP and gRPC connections, so `store_client` keeps one per server and API key for the
process (runs, searches and threads share it; a client someone closed, or whose server stopped answering, is
replaced by a fresh connection) and closes them at exit, before the interpreter tears its modules down. A
client made per run and dropped was released only by the garbage collector, with a ResourceWarning each time.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import weaviate
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    Tokenization,
    VectorDistances,
)
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery, Sort
from weaviate.collections import Collection
from weaviate.exceptions import (
    AuthenticationFailedError,
    WeaviateBaseError,
    WeaviateGRPCUnavailableError,
)
from weaviate.util import generate_uuid5

from ragkit.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    MissingApiKeyError,
    StoreUnavailableError,
)
from ragkit.schema import CHUNK_ROW_FIELDS, STORED_FIELDS, Progress
from ragkit.threaded_search import searched_in_threads

_DEFAULT_URL = "http://localhost:8080"
_DEFAULT_GRPC_PORT = 50051
_CLOUD_SUFFIXES = (".weaviate.cloud", ".weaviate.network")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_INT_FIELDS = {"page", "chunk_index", "char_start", "char_end", "dimension"}
_KEYWORD_FIELDS = {"chunk_id", "document_id", "run_id", "content_hash"}
_FILTER_VALUES_LIMIT = 100  # values per contains_any filter
_PAGE_SIZE = 1000  # objects per read; below Weaviate's QUERY_MAXIMUM_RESULTS (10,000 by default)
_TIMEOUT = Timeout(init=5, query=30, insert=60)


class _Endpoint:
    """The parsed connection settings (no secrets)."""

    def __init__(self, vector_db_config: dict) -> None:
        url = str(vector_db_config.get("url") or _DEFAULT_URL).strip().rstrip("/")
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.secure else 8080)
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.grpc_host = str(vector_db_config.get("grpc_host") or "") or None
        self.grpc_port = int(vector_db_config.get("grpc_port") or _DEFAULT_GRPC_PORT)
        self.grpc_secure = bool(vector_db_config.get("grpc_secure", self.secure))
        self.cloud = bool(vector_db_config.get("cloud")) or self.host.endswith(_CLOUD_SUFFIXES)
        if self.cloud:
            self.url = f"https://{parts.netloc}"


def _collection_name(index_name: str) -> str:
    """The Weaviate collection for an index: `^[A-Z][_0-9A-Za-z]*$`, first letter capitalised."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", index_name.strip())
    if not name or not name[0].isalpha():
        name = "Index_" + name
    return name[0].upper() + name[1:]


def _properties() -> list[Property]:
    properties = []
    for name in STORED_FIELDS:
        if name in _INT_FIELDS:
            properties.append(Property(name=name, data_type=DataType.INT))
        elif name == "question_ids":
            properties.append(Property(name=name, data_type=DataType.TEXT_ARRAY, tokenization=Tokenization.FIELD))
        elif name in _KEYWORD_FIELDS:
            properties.append(Property(name=name, data_type=DataType.TEXT, tokenization=Tokenization.FIELD))
        else:
            properties.append(Property(name=name, data_type=DataType.TEXT))
    return properties


def _row(properties: dict[str, Any]) -> dict[str, Any]:
    """A stored object's properties as a chunk row: every STORED_FIELDS key, ints as int."""
    row: dict[str, Any] = {}
    for name in STORED_FIELDS:
        value = properties.get(name)
        if name in _INT_FIELDS:
            row[name] = int(value) if value is not None else 0
        elif name == "question_ids":
            row[name] = [str(item) for item in value or []]
        else:
            row[name] = "" if value is None else str(value)
    return row


def _single_vector(vector: Any) -> list[float]:
    """The object's vector, whether the client returns a bare list or a {name: vector} dict."""
    if isinstance(vector, dict):
        vector = next(iter(vector.values()), [])
    return list(vector or [])


def _reason(error: object) -> str:
    """The cause of a client error on one line: the gRPC status and details when there are some (the client's
    own message embeds a multi-line gRPC dump), else the message; whitespace collapsed, at most 300 characters."""
    cause: Any = error
    while cause is not None:
        if callable(getattr(cause, "code", None)) and callable(getattr(cause, "details", None)):
            code = cause.code()
            text = f"{getattr(code, 'name', code)}: {cause.details()}"
            break
        cause = cause.__cause__ or cause.__context__ if isinstance(cause, BaseException) else None
    else:
        text = str(error)
    text = " ".join(text.split()).rstrip(".")
    return text if len(text) <= 300 else text[:297] + "..."


def _failure(collection: Collection, action: str, error: Exception) -> StoreUnavailableError:
    return StoreUnavailableError(f"Weaviate could not {action} in collection {collection.name!r}: {_reason(error)}.")


def _any_of(field: str, values: list[str]) -> Any:
    return Filter.by_property(field).contains_any(values)


def store_location(vector_db_config: dict) -> str:
    """Where the collections live: `weaviate:` and the server URL."""
    return f"weaviate:{_Endpoint(vector_db_config).url}"


def store_client(vector_db_config: dict, weaviate_api_key: str) -> weaviate.WeaviateClient:
    """The process's connected Weaviate client for `vector_db_config['url']` and the API key (when one is set):
    made on first use, then shared while its server answers."""
    endpoint = _Endpoint(vector_db_config)
    key = (weaviate_api_key or "").strip()
    if endpoint.cloud and not key:
        raise MissingApiKeyError("Weaviate Cloud", "WEAVIATE_API_KEY")
    identity = (endpoint.url, endpoint.grpc_host, endpoint.grpc_port, endpoint.grpc_secure, endpoint.cloud,
                hashlib.sha256(key.encode()).hexdigest(), os.getpid())  # the key only as a hash; a forked child connects anew
    with _CLIENTS_LOCK:
        client = _CLIENTS.pop(identity, None)
        if client is not None and not _still_usable(client, endpoint):
            _close_quietly(client)
            client = None
        client = client or _connect(endpoint, key)
        _CLIENTS[identity] = client
        return client


_CLIENTS: dict[tuple, weaviate.WeaviateClient] = {}  # (server settings, sha256 of the key) -> this process's client
_CLIENTS_LOCK = threading.Lock()


def _still_usable(client: weaviate.WeaviateClient, endpoint: _Endpoint) -> bool:
    """Whether a kept client is open and its server answers its readiness probe (one GET, no credentials sent)."""
    try:
        if not client.is_connected():
            return False
        return httpx.get(f"{endpoint.url}/v1/.well-known/ready", timeout=_TIMEOUT.init).status_code == 200
    except Exception:  # noqa: BLE001 - any failure means: connect afresh, which names the cause
        return False


def _close_quietly(client: weaviate.WeaviateClient) -> None:
    with contextlib.suppress(Exception):
        client.close()


def _close_clients() -> None:
    """Close the kept clients at exit, while the modules their finalisers need are still there."""
    with _CLIENTS_LOCK:
        for client in _CLIENTS.values():
            _close_quietly(client)
        _CLIENTS.clear()


atexit.register(_close_clients)


def _connect(endpoint: _Endpoint, key: str) -> weaviate.WeaviateClient:
    """A new connected client (the connection helpers check the server's readiness and version)."""
    credentials = Auth.api_key(key) if key else None
    config = AdditionalConfig(timeout=_TIMEOUT)
    try:
        if endpoint.cloud:
            return weaviate.connect_to_weaviate_cloud(
                cluster_url=endpoint.url, auth_credentials=credentials, additional_config=config
            )
        if endpoint.host in _LOCAL_HOSTS and not endpoint.secure and endpoint.grpc_host in (None, endpoint.host):
            return weaviate.connect_to_local(
                host=endpoint.host,
                port=endpoint.port,
                grpc_port=endpoint.grpc_port,
                auth_credentials=credentials,
                additional_config=config,
            )
        return weaviate.connect_to_custom(
            http_host=endpoint.host,
            http_port=endpoint.port,
            http_secure=endpoint.secure,
            grpc_host=endpoint.grpc_host or endpoint.host,
            grpc_port=endpoint.grpc_port,
            grpc_secure=endpoint.grpc_secure,
            auth_credentials=credentials,
            additional_config=config,
        )
    except (WeaviateBaseError, httpx.HTTPError, OSError) as error:
        raise _connection_failure(endpoint, error, key) from error


def _connection_failure(endpoint: _Endpoint, error: Exception, key: str) -> StoreUnavailableError:
    """A message naming the URL and the innermost cause (the client's own wrappers repeat themselves)."""
    status = getattr(error, "status_code", None)
    if isinstance(error, WeaviateGRPCUnavailableError):
        grpc_address = f"{endpoint.grpc_host or endpoint.host}:{endpoint.grpc_port}" if not endpoint.cloud else "its gRPC host"
        reason = f"its gRPC API at {grpc_address} does not answer (Weaviate needs both the REST and the gRPC port)"
    elif status in (401, 403) or isinstance(error, AuthenticationFailedError):
        message = f"Weaviate at {endpoint.url} refused the credentials (HTTP {status or 401}). Check WEAVIATE_API_KEY."
        return StoreUnavailableError(message)
    else:
        cause: BaseException = error
        reasons = [str(error)]
        while (cause.__cause__ or cause.__context__) is not None:
            cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
            reasons.append(str(cause))
        reason = next((text for text in reversed(reasons) if text.strip()), type(error).__name__)
    reason = " ".join(reason.split()).rstrip(".")
    if key:
        reason = reason.replace(key, "***")
    return StoreUnavailableError(f"Weaviate at {endpoint.url} is not reachable: {reason}. Is the server running?")


def vector_index(store_client: weaviate.WeaviateClient, index_name: str, embedding_dimension: int) -> Collection:
    """The collection for this index, created (self-provided vectors, cosine) if missing."""
    name = _collection_name(index_name)
    try:
        if not store_client.collections.exists(name):
            return store_client.collections.create(
                name,
                description=f"Workbench index {index_name!r}",
                properties=_properties(),
                vector_config=Configure.Vectors.self_provided(
                    vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
                ),
            )
        collection = store_client.collections.get(name)
        sample = collection.query.fetch_objects(limit=1, include_vector=True).objects
    except WeaviateBaseError as error:
        raise StoreUnavailableError(f"Weaviate could not open or create collection {name!r}: {error}.") from error
    if sample:
        stored_dimension = len(_single_vector(sample[0].vector))
        if stored_dimension and stored_dimension != embedding_dimension:
            raise IndexMismatchError(
                f"Weaviate collection {name!r} holds {stored_dimension}-dimensional vectors, but the chosen "
                f"embedding model gives {embedding_dimension}. Use another index name or the index's own model."
            )
    return collection


def existing_index(store_client: weaviate.WeaviateClient, index_name: str) -> Collection:
    """The collection for an index that must already exist (for queries)."""
    name = _collection_name(index_name)
    try:
        exists = store_client.collections.exists(name)
    except WeaviateBaseError as error:
        raise StoreUnavailableError(f"Weaviate could not look up collection {name!r}: {error}.") from error
    if not exists:
        raise IndexNotFoundError(f"Weaviate has no index {index_name!r} (collection {name!r}). Ingest documents into it first.")
    return store_client.collections.get(name)


def stored_chunk_ids(vector_index: Collection, document_ids: list[str]) -> dict[str, set[str]]:
    """The chunk ids stored now for each of these documents (the basis of skip-unchanged and replace)."""
    found: dict[str, set[str]] = {doc_id: set() for doc_id in document_ids}
    for start in range(0, len(document_ids), _FILTER_VALUES_LIMIT):
        documents = _any_of("document_id", document_ids[start : start + _FILTER_VALUES_LIMIT])
        last_chunk_id: str | None = None
        while True:  # keyset pages by chunk_id: offsets stop at QUERY_MAXIMUM_RESULTS, cursors ignore filters
            where = documents if last_chunk_id is None else documents & Filter.by_property("chunk_id").greater_than(last_chunk_id)
            try:
                objects = vector_index.query.fetch_objects(
                    filters=where,
                    limit=_PAGE_SIZE,
                    sort=Sort.by_property("chunk_id"),
                    return_properties=["chunk_id", "document_id"],
                ).objects
            except WeaviateBaseError as error:
                raise _failure(vector_index, "list stored chunks", error) from error
            for obj in objects:
                found.setdefault(str(obj.properties["document_id"]), set()).add(str(obj.properties["chunk_id"]))
            if len(objects) < _PAGE_SIZE:
                break
            last_chunk_id = str(objects[-1].properties["chunk_id"])
    return found


def written_chunk_ids(
    vector_index: Collection,
    chunk_records: list[dict],
    chunk_vectors: np.ndarray,
    progress: Progress,
    upsert_batch_size: int = 200,
) -> list[str]:
    """Write the chunk objects with their vectors under UUIDs derived from `chunk_id`, in batches; returns the ids written."""
    written: list[str] = []
    total = len(chunk_records)
    if len(chunk_vectors) != total:
        raise ValueError(f"{total} chunk records but {len(chunk_vectors)} vectors")
    progress("written_chunk_ids", 0, total)
    for start in range(0, total, upsert_batch_size):
        batch = chunk_records[start : start + upsert_batch_size]
        vectors = np.asarray(chunk_vectors[start : start + upsert_batch_size], dtype=np.float32)
        objects = [
            DataObject(
                properties=_row(record),
                uuid=generate_uuid5(record["chunk_id"]),
                vector=vector.tolist(),
            )
            for record, vector in zip(batch, vectors)
        ]
        try:
            result = vector_index.data.insert_many(objects)
        except WeaviateBaseError as error:
            raise _write_failure(vector_index, written, total, error) from error
        failed = dict(result.errors)
        written.extend(record["chunk_id"] for index, record in enumerate(batch) if index not in failed)
        if failed:
            first = failed[min(failed)]
            raise _write_failure(vector_index, written, total, getattr(first, "message", first), len(failed))
        progress("written_chunk_ids", len(written), total)
    return written


def _write_failure(
    collection: Collection, written: list[str], total: int, error: object, failed: int | None = None
) -> StoreUnavailableError:
    failed_text = f"{failed} objects failed; " if failed else ""
    exception = StoreUnavailableError(
        f"Weaviate write to collection {collection.name!r} failed after {len(written)} of {total} chunks "
        f"were written ({failed_text}first error: {_reason(error)})."
    )
    exception.written_chunk_ids = list(written)  # type: ignore[attr-defined]
    return exception


def _delete_where(collection: Collection, where: Any) -> int:
    """Delete every object matching the filter (in rounds: one call deletes at most QUERY_MAXIMUM_RESULTS)."""
    deleted = 0
    while True:
        try:
            result = collection.data.delete_many(where=where)
        except WeaviateBaseError as error:
            raise _failure(collection, "delete objects", error) from error
        if result.failed:
            raise StoreUnavailableError(
                f"Weaviate could not delete {result.failed} of {result.matches} objects in collection {collection.name!r}."
            )
        deleted += result.successful
        if result.matches == 0 or result.successful == 0:
            return deleted


def deleted_chunk_ids(vector_index: Collection, stale_chunk_ids: list[str], written_chunk_ids: list[str]) -> list[str]:
    """Remove chunks of re-ingested documents that the new version no longer has (after the writes)."""
    for start in range(0, len(stale_chunk_ids), _FILTER_VALUES_LIMIT):
        _delete_where(vector_index, _any_of("chunk_id", stale_chunk_ids[start : start + _FILTER_VALUES_LIMIT]))
    return list(stale_chunk_ids)


def deleted_document_count(vector_index: Collection, document_ids_to_delete: list[str]) -> int:
    """Remove every chunk of these documents; returns how many objects went."""
    deleted = 0
    for start in range(0, len(document_ids_to_delete), _FILTER_VALUES_LIMIT):
        deleted += _delete_where(
            vector_index, _any_of("document_id", document_ids_to_delete[start : start + _FILTER_VALUES_LIMIT])
        )
    return deleted


def _nearest(existing_index: Collection, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    try:
        objects = existing_index.query.near_vector(
            near_vector=np.asarray(query_vector, dtype=np.float32).ravel().tolist(),
            limit=top_k,
            return_properties=list(STORED_FIELDS),
            return_metadata=MetadataQuery(distance=True),
        ).objects
    except WeaviateBaseError as error:
        raise _failure(existing_index, "search", error) from error
    hits = []
    for obj in objects:
        hit = _row(obj.properties)
        distance = obj.metadata.distance
        hit["score"] = 1.0 - float(distance if distance is not None else 1.0)
        hits.append(hit)
    return hits


def search_hits(existing_index: Collection, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    """The `top_k` chunks nearest the query vector by cosine distance; `score` is cosine similarity."""
    return _nearest(existing_index, query_vector, top_k)


def dense_hits(existing_index: Collection, query_vector: np.ndarray, candidate_count: int) -> list[dict]:
    """The `candidate_count` chunks nearest the query vector by cosine distance; `score` is cosine similarity."""
    return _nearest(existing_index, query_vector, candidate_count)


def dense_hits_batch(existing_index: Collection, query_vectors: np.ndarray, candidate_count: int) -> list[list[dict]]:
    """For each query vector, its `candidate_count` nearest chunks, as `dense_hits` gives them: single searches, 8 at a time in threads."""
    return searched_in_threads(lambda vector: _nearest(existing_index, vector, candidate_count), query_vectors)  # Weaviate: no batch search


def text_index(existing_index: Collection) -> Collection:
    """The collection itself: Weaviate keeps a BM25 index of `indexed_text` current on every write (its own tokenisation)."""
    return existing_index


def _scored(objects: list[Any]) -> list[dict]:
    hits = []
    for obj in objects:
        hit = _row(obj.properties)
        hit["score"] = float(obj.metadata.score or 0.0)
        hits.append(hit)
    return hits


def lexical_hits(text_index: Collection, question: str, candidate_count: int) -> list[dict]:
    """The `candidate_count` chunks that best match the question's words by Weaviate's BM25; `score` is BM25."""
    try:
        objects = text_index.query.bm25(
            query=question,
            query_properties=["indexed_text"],
            limit=candidate_count,
            return_properties=list(STORED_FIELDS),
            return_metadata=MetadataQuery(score=True),
        ).objects
    except WeaviateBaseError as error:
        raise _failure(text_index, "run a BM25 search", error) from error
    return _scored(objects)


def hybrid_hits(
    text_index: Collection,
    question: str,
    query_vector: np.ndarray,
    candidate_count: int,
    hybrid_fusion: str = "rrf",
    hybrid_alpha: float = 0.5,
) -> list[dict]:
    """The `candidate_count` best chunks of a Weaviate hybrid query (BM25 and vector, ranked or relative-score fusion weighted by alpha); `score` is the fused score."""
    try:
        objects = text_index.query.hybrid(
            query=question,
            vector=np.asarray(query_vector, dtype=np.float32).ravel().tolist(),
            alpha=float(hybrid_alpha),
            fusion_type=HybridFusion.RANKED if hybrid_fusion == "rrf" else HybridFusion.RELATIVE_SCORE,
            query_properties=["indexed_text"],
            limit=candidate_count,
            return_properties=list(STORED_FIELDS),
            return_metadata=MetadataQuery(score=True),
        ).objects
    except WeaviateBaseError as error:
        raise _failure(text_index, "run a hybrid search", error) from error
    return _scored(objects)


def indexed_questions(existing_index: Collection) -> dict[str, str]:
    """Question id → document id, for every SQuAD question whose paragraph the index holds."""
    found: dict[str, str] = {}
    squad = Filter.by_property("source_kind").equal("squad")
    last_chunk_id: str | None = None
    while True:  # keyset pages by chunk_id, as in stored_chunk_ids
        where = squad if last_chunk_id is None else squad & Filter.by_property("chunk_id").greater_than(last_chunk_id)
        try:
            objects = existing_index.query.fetch_objects(
                filters=where,
                limit=_PAGE_SIZE,
                sort=Sort.by_property("chunk_id"),
                return_properties=["chunk_id", "document_id", "question_ids"],
            ).objects
        except WeaviateBaseError as error:
            raise _failure(existing_index, "list the SQuAD questions it holds", error) from error
        for obj in objects:
            for question_id in obj.properties.get("question_ids") or ():
                found[str(question_id)] = str(obj.properties["document_id"])
        if len(objects) < _PAGE_SIZE:
            return found
        last_chunk_id = str(objects[-1].properties["chunk_id"])


_ROW_FIELDS = list(CHUNK_ROW_FIELDS)


def chunk_rows(existing_index: Collection) -> list[dict]:
    """Every stored chunk's id, document id, source name, title, page and text (no vectors): what labels resolve against."""
    rows: list[dict] = []
    last_chunk_id: str | None = None
    while True:  # keyset pages by chunk_id, as in stored_chunk_ids
        where = None if last_chunk_id is None else Filter.by_property("chunk_id").greater_than(last_chunk_id)
        try:
            objects = existing_index.query.fetch_objects(
                filters=where, limit=_PAGE_SIZE, sort=Sort.by_property("chunk_id"), return_properties=_ROW_FIELDS,
            ).objects
        except WeaviateBaseError as error:
            raise _failure(existing_index, "list its chunks", error) from error
        rows.extend({name: _row(obj.properties)[name] for name in _ROW_FIELDS} for obj in objects)
        if len(objects) < _PAGE_SIZE:
            return rows
        last_chunk_id = str(objects[-1].properties["chunk_id"])


def _object_count(existing_index: Collection) -> int:
    try:
        return int(existing_index.aggregate.over_all(total_count=True).total_count or 0)
    except WeaviateBaseError as error:
        raise _failure(existing_index, "count objects", error) from error


def chunk_count(existing_index: Collection) -> int:
    """How many chunks the index holds."""
    return _object_count(existing_index)


def run_chunks(existing_index: Collection, run_id: str, run_chunk_limit: int = 200) -> list[dict]:
    """Chunks whose lineage names this run, at most `run_chunk_limit`."""
    try:
        objects = existing_index.query.fetch_objects(
            filters=Filter.by_property("run_id").equal(run_id),
            limit=run_chunk_limit,
            return_properties=list(STORED_FIELDS),
        ).objects
    except WeaviateBaseError as error:
        raise _failure(existing_index, "list a run's chunks", error) from error
    return [_row(obj.properties) for obj in objects]


def index_reset(store_client: weaviate.WeaviateClient, index_name: str) -> bool:
    """Drop the index's collection; False when there was none."""
    name = _collection_name(index_name)
    try:
        if not store_client.collections.exists(name):
            return False
        store_client.collections.delete(name)
    except WeaviateBaseError as error:
        raise StoreUnavailableError(f"Weaviate could not drop collection {name!r}: {error}.") from error
    return True


def maintained_index(store_client: weaviate.WeaviateClient, index_name: str, run_counts: dict[str, int]) -> dict[str, Any]:
    """Nothing to do: Weaviate maintains its own HNSW vector index and BM25 inverted index as objects are written."""
    return {"managed_by": "weaviate", "compacted": False, "ann_index": "hnsw (managed)", "fts_index": "managed"}


def index_state(existing_index: Collection) -> dict[str, Any]:
    """The collection's object count; its HNSW vector and BM25 indexes are Weaviate's own, always present."""
    return {"rows": _object_count(existing_index), "fragments": None, "ann_index": "hnsw (managed)", "fts_index": True}
