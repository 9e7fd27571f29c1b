"""Qdrant, embedded on disk (local mode) or a Qdrant server / Qdrant Cloud, through `qdrant-client`.

One collection per index (one unnamed dense vector, cosine distance). Points get a deterministic
UUID from their `chunk_id` (uuid5 over a fixed namespace), so writing a chunk again replaces it;
every stored field is in the point's payload, with keyword payload indexes on `document_id`,
`run_id`, `source_kind` and `chunk_id` on a server. Qdrant's cosine score is cosine similarity.

Settings (`vector_db_config`): `path`, the folder of Qdrant's local mode (default `data/qdrant`;
the registry fills in `<data_dir>/qdrant`), or `url`, a Qdrant server or Qdrant Cloud cluster
(then `path` is ignored; without a port Qdrant's 6333 is used, write `:443` behind a proxy). The
API key comes in as `qdrant_api_key` ("" when not set: local mode and a local server need none,
Qdrant Cloud does) and never appears in a message.

Local mode runs in this process: it loads the collection into memory when the folder is opened,
searches exhaustively (exact cosine, no ANN index), writes 1-3 ms per chunk (a SQLite commit
each), and Qdrant warns past 20,000 points — use a server beyond that. It locks its folder: one
client per folder per process is kept here (shared by threads, which take turns), and another
process opening the same folder (a second app or CLI session, a `processes` or `ray` executor's
worker) gets a StoreUnavailableError saying the folder is in use. A server has no such limits.

Retrieval is dense only. Qdrant's lexical search would need sparse BM25 vectors computed on our
side at ingestion (a tokenizer and term weighting; fastembed's model downloads from the hub), so
`text_index` refuses lexical and hybrid modes with a ConfigError, as for Pinecone.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragkit.errors import (
    ConfigError,
    IndexMismatchError,
    IndexNotFoundError,
    MissingApiKeyError,
    StoreUnavailableError,
)
from ragkit.footprint import folder_bytes, raw_vector_bytes
from ragkit.schema import CHUNK_ROW_FIELDS, STORED_FIELDS, Progress

_DEFAULT_PATH = "data/qdrant"
_CLOUD_SUFFIXES = (".cloud.qdrant.io",)
_INT_FIELDS = ("page", "chunk_index", "char_start", "char_end", "dimension")
_LIST_FIELDS = ("question_ids",)
_KEYWORD_INDEXES = ("document_id", "run_id", "source_kind", "chunk_id")
# Point ids are uuid5(_POINT_NAMESPACE, chunk_id). Never change it: stored collections depend on it.
_POINT_NAMESPACE = uuid.UUID("469f0231-9703-497e-a78b-132d45945748")
_FILTER_VALUES_LIMIT = 500  # values per match-any filter
_DELETE_BATCH = 1000
_PAGE_SIZE = 1000  # points per scroll request
_HNSW_EF = 128  # server search breadth (at least top_k); local mode searches exhaustively
_TIMEOUT_S = 30
_COLLECTION_NAME = re.compile(r"[0-9A-Za-z_-][0-9A-Za-z_.-]{0,199}")


@dataclass(frozen=True)
class _Endpoint:
    """Where the collections live: a local folder (`path`) or a server (`url`, public form, no credentials)."""

    path: str
    url: str

    @property
    def local(self) -> bool:
        return not self.url

    @property
    def where(self) -> str:
        return self.url or self.path

    @property
    def cloud(self) -> bool:
        return (urlsplit(self.url).hostname or "").endswith(_CLOUD_SUFFIXES)

    def describe(self) -> str:
        return f"Qdrant folder {self.path}" if self.local else f"Qdrant at {self.url}"


class _QdrantClient(QdrantClient):
    """A `QdrantClient` that remembers its endpoint, and (local mode) the lock its threads take turns with."""

    def __init__(self, endpoint: _Endpoint, **options: Any) -> None:
        super().__init__(**options)
        self.workbench_endpoint = endpoint
        self.workbench_lock = threading.RLock()
        self.workbench_pid = os.getpid()


@dataclass(frozen=True)
class _Collection:
    """The handle of one index: its client, the Qdrant collection name, and the index name it was asked by."""

    client: _QdrantClient
    name: str
    index_name: str


def _endpoint(vector_db_config: dict) -> _Endpoint:
    url = str(vector_db_config.get("url") or "").strip().rstrip("/")
    if url:
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"Qdrant url {_public_url(url)!r} is not an http(s) URL; write it like http://localhost:6333.")
        return _Endpoint(path="", url=_public_url(url))
    return _Endpoint(path=str(Path(vector_db_config.get("path") or _DEFAULT_PATH).expanduser().resolve()), url="")


def _public_url(url: str) -> str:
    """The URL without any user:password part (credentials go in the API key, never in messages)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def _collection_name(index_name: str) -> str:
    """The Qdrant collection of an index: the name itself when it is plain, else a safe form with a hash of the original."""
    name = index_name.strip()
    if not name:
        raise ConfigError("The index name is empty; Qdrant needs a collection name.")
    if _COLLECTION_NAME.fullmatch(name):
        return name
    safe = re.sub(r"[^0-9A-Za-z_.-]", "_", name)[:180].lstrip(".")
    return f"{safe or 'index'}-{hashlib.sha256(index_name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def _point_id(chunk_id: str) -> str:
    """The point id of a chunk: a UUID derived from its chunk id, the same in every process and client."""
    return str(uuid.uuid5(_POINT_NAMESPACE, str(chunk_id)))


def _closed(client: QdrantClient) -> bool:
    return bool(getattr(getattr(client, "_client", None), "closed", False))


# Local mode takes an exclusive lock on its folder, so a second client of the same folder fails even in
# this process: one client per folder per process, reopened only once closed (or in a forked child).
_LOCAL_CLIENTS: dict[str, _QdrantClient] = {}
_LOCAL_CLIENTS_LOCK = threading.Lock()


def _local_client(endpoint: _Endpoint) -> _QdrantClient:
    with _LOCAL_CLIENTS_LOCK:
        client = _LOCAL_CLIENTS.get(endpoint.path)
        if client is not None and client.workbench_pid == os.getpid() and not _closed(client):
            return client
        try:
            os.makedirs(endpoint.path, exist_ok=True)
            # Threads share the client under its lock, so SQLite's same-thread check is not needed.
            client = _QdrantClient(endpoint, path=endpoint.path, force_disable_check_same_thread=True)
        except RuntimeError as error:
            if "already accessed" in str(error):
                raise StoreUnavailableError(
                    f"Qdrant folder {endpoint.path} is in use by another process (Qdrant's local mode lets one process "
                    "at a time open a folder): close the other app or CLI session, use the 'sync' or 'threads' executor, "
                    "or run a Qdrant server and set its url."
                ) from error
            raise StoreUnavailableError(f"Qdrant folder {endpoint.path} cannot be opened: {_reason(error)}.") from error
        except (OSError, ValueError, sqlite3.Error) as error:
            raise StoreUnavailableError(
                f"Qdrant folder {endpoint.path} cannot be opened: {_reason(error)}. Check that it is a writable "
                "Qdrant folder, or set another path."
            ) from error
        _LOCAL_CLIENTS[endpoint.path] = client
        return client


def _close_local_clients() -> None:
    """Close the local-mode clients at exit (releasing their folders), before the interpreter tears its modules down."""
    with _LOCAL_CLIENTS_LOCK:
        for client in _LOCAL_CLIENTS.values():
            with contextlib.suppress(Exception):
                client.close()
        _LOCAL_CLIENTS.clear()


atexit.register(_close_local_clients)


def _live(client: _QdrantClient) -> _QdrantClient:
    """The client itself, or for a closed local-mode client the folder's open one (a cached handle outlives a close)."""
    endpoint = getattr(client, "workbench_endpoint", None)
    if endpoint is not None and endpoint.local and (_closed(client) or client.workbench_pid != os.getpid()):
        return _local_client(endpoint)
    return client


def _endpoint_of(client: QdrantClient) -> _Endpoint:
    endpoint = getattr(client, "workbench_endpoint", None)
    return endpoint if isinstance(endpoint, _Endpoint) else _Endpoint(path="", url="(an unknown Qdrant)")


def _reason(error: BaseException, key: str = "") -> str:
    """The innermost cause of a client error on one line, at most 300 characters, with any API key masked."""
    if isinstance(error, UnexpectedResponse):
        text = ""
        with contextlib.suppress(Exception):
            status = error.structured().get("status")
            text = str(status.get("error") if isinstance(status, dict) else status or "")
        text = text or error.reason_phrase or f"HTTP {error.status_code}"
    else:
        cause: BaseException = error
        while True:
            inner = getattr(cause, "source", None) or cause.__cause__ or cause.__context__
            if not isinstance(inner, BaseException) or inner is cause:
                break
            cause = inner
        text = str(cause) or type(cause).__name__
    text = " ".join(text.split()).rstrip(".")
    if key:
        text = text.replace(key, "***")
    return text if len(text) <= 300 else text[:297] + "..."


@contextlib.contextmanager
def _session(client: _QdrantClient, action: str, key: str = "") -> Iterator[None]:
    """Hold the local folder's lock (threads take turns) and turn client failures into messages that say what to do."""
    endpoint = _endpoint_of(client)
    lock = client.workbench_lock if endpoint.local and hasattr(client, "workbench_lock") else contextlib.nullcontext()
    with lock:
        try:
            yield
        except UnexpectedResponse as error:
            if error.status_code in (401, 403):
                raise StoreUnavailableError(
                    f"Qdrant at {endpoint.url} refused the API key (HTTP {error.status_code}) while {action}. "
                    "Check that QDRANT_API_KEY holds a current key of this cluster."
                ) from error
            hint = " Qdrant is overloaded or down; try again later." if (error.status_code or 0) >= 500 else ""
            raise StoreUnavailableError(
                f"Qdrant at {endpoint.url} answered HTTP {error.status_code} while {action}: {_reason(error, key)}.{hint}"
            ) from error
        except (ResponseHandlingException, httpx.HTTPError) as error:
            raise StoreUnavailableError(
                f"Qdrant at {endpoint.url} cannot be reached while {action}: {_reason(error, key)}. Check that the "
                "server is running and that the url setting is right."
            ) from error
        except (RuntimeError, ValueError, OSError, sqlite3.Error) as error:
            if not endpoint.local and not isinstance(error, OSError):
                raise
            raise StoreUnavailableError(f"{endpoint.describe()} failed while {action}: {_reason(error, key)}.") from error


def store_location(vector_db_config: dict) -> str:
    """Where the collections live: `qdrant:` and the absolute folder path (local mode) or the server URL."""
    return f"qdrant:{_endpoint(vector_db_config).where}"


def store_client(vector_db_config: dict, qdrant_api_key: str = "") -> QdrantClient:
    """The Qdrant client for `vector_db_config`: the folder's one local-mode client, or a checked connection to the server at `url`."""
    endpoint = _endpoint(vector_db_config)
    if endpoint.local:
        return _local_client(endpoint)
    key = (qdrant_api_key or "").strip()
    if endpoint.cloud and not key:
        raise MissingApiKeyError("Qdrant Cloud", "QDRANT_API_KEY")
    try:
        client = _QdrantClient(endpoint, url=endpoint.url, api_key=key or None, timeout=_TIMEOUT_S, check_compatibility=False)
    except ValueError as error:
        raise ConfigError(f"Qdrant client for {endpoint.url} cannot be set up: {_reason(error, key)}.") from error
    try:
        with _session(client, "connecting", key):
            client.get_collections()
    except StoreUnavailableError as error:
        client.close()
        refused = isinstance(error.__cause__, UnexpectedResponse) and error.__cause__.status_code in (401, 403)
        if refused and not key:  # the server wants a key and none was given
            raise MissingApiKeyError(f"the Qdrant server at {endpoint.url}", "QDRANT_API_KEY") from error
        raise
    return client


def _info(client: _QdrantClient, name: str) -> models.CollectionInfo | None:
    """The collection's description, or None when it does not exist."""
    if not client.collection_exists(name):
        return None
    return client.get_collection(name)


def vector_index(store_client: QdrantClient, index_name: str, embedding_dimension: int) -> _Collection:
    """The collection for this index, created (one dense vector of this dimension, cosine) if missing."""
    client, name = _live(store_client), _collection_name(index_name)
    endpoint = _endpoint_of(client)
    with _session(client, f"opening collection {name!r}"):
        info = _info(client, name)
        if info is None:
            try:
                client.create_collection(
                    name, vectors_config=models.VectorParams(size=int(embedding_dimension), distance=models.Distance.COSINE)
                )
            except UnexpectedResponse as error:
                if error.status_code != 409:  # 409: created meanwhile by another run; use it
                    raise
            info = client.get_collection(name)
        if not endpoint.local:  # local mode has no payload indexes (Qdrant warns and ignores them)
            for field in _KEYWORD_INDEXES:
                if field not in (info.payload_schema or {}):
                    client.create_payload_index(name, field, field_schema=models.PayloadSchemaType.KEYWORD)
    params = info.config.params.vectors
    if not isinstance(params, models.VectorParams):
        raise IndexMismatchError(
            f"Qdrant collection {name!r} at {endpoint.where} has named vectors, not the single dense vector this "
            "workbench writes. Use another index name."
        )
    if params.size != embedding_dimension or params.distance != models.Distance.COSINE:
        raise IndexMismatchError(
            f"Qdrant collection {name!r} at {endpoint.where} holds {params.size}-dimensional vectors compared by "
            f"{params.distance.value}, but the chosen embedding model gives {embedding_dimension}-dimensional vectors "
            "compared by cosine. Use another index name or the index's own model."
        )
    return _Collection(client=client, name=name, index_name=index_name)


def existing_index(store_client: QdrantClient, index_name: str) -> _Collection:
    """The collection for an index that must already exist (for queries)."""
    client, name = _live(store_client), _collection_name(index_name)
    with _session(client, f"looking up collection {name!r}"):
        exists = client.collection_exists(name)
    if not exists:
        raise IndexNotFoundError(
            f"Qdrant has no index {index_name!r} at {_endpoint_of(client).where}. Ingest documents into it first."
        )
    return _Collection(client=client, name=name, index_name=index_name)


def _any_of(field: str, values: list[str]) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key=field, match=models.MatchAny(any=list(values)))])


def _equal(field: str, value: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key=field, match=models.MatchValue(value=value))])


def _scrolled(collection: _Collection, where: models.Filter, fields: list[str], limit: int | None = None) -> Iterator[dict]:
    """The payloads (these fields) of every point matching the filter, page by page, at most `limit` of them."""
    offset: Any = None
    seen = 0
    while limit is None or seen < limit:
        page = _PAGE_SIZE if limit is None else min(_PAGE_SIZE, limit - seen)
        client = _live(collection.client)
        with _session(client, f"reading collection {collection.name!r}"):
            points, offset = client.scroll(
                collection.name, scroll_filter=where, limit=page, offset=offset, with_payload=fields, with_vectors=False
            )
        for point in points:
            yield point.payload or {}
        seen += len(points)
        if offset is None or not points:
            return


def stored_chunk_ids(vector_index: _Collection, document_ids: list[str]) -> dict[str, set[str]]:
    """The chunk ids stored now for each of these documents (the basis of skip-unchanged and replace)."""
    found: dict[str, set[str]] = {doc_id: set() for doc_id in document_ids}
    for start in range(0, len(document_ids), _FILTER_VALUES_LIMIT):
        where = _any_of("document_id", document_ids[start : start + _FILTER_VALUES_LIMIT])
        for payload in _scrolled(vector_index, where, ["chunk_id", "document_id"]):
            found.setdefault(str(payload.get("document_id")), set()).add(str(payload.get("chunk_id")))
    return found


def _utf8_text(value: Any) -> str:
    text = "" if value is None else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be sent as JSON; replace them
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _payload(record: dict) -> dict[str, Any]:
    """A chunk record as a Qdrant payload: every stored field, ints as int, `question_ids` a list of strings."""
    payload: dict[str, Any] = {}
    for name in STORED_FIELDS:
        value = record.get(name)
        if name in _INT_FIELDS:
            payload[name] = int(value or 0)
        elif name in _LIST_FIELDS:
            payload[name] = [str(item) for item in (value or ())]
        else:
            payload[name] = _utf8_text(value)
    return payload


def _row(payload: dict[str, Any] | None) -> dict[str, Any]:
    """A stored row from a point's payload: every STORED_FIELDS key, ints as int."""
    payload = payload or {}
    row: dict[str, Any] = {}
    for name in STORED_FIELDS:
        value = payload.get(name)
        if name in _INT_FIELDS:
            row[name] = int(value) if value is not None else 0
        elif name in _LIST_FIELDS:
            row[name] = [str(item) for item in value] if isinstance(value, list) else []
        else:
            row[name] = "" if value is None else str(value)
    return row


def written_chunk_ids(
    vector_index: _Collection,
    chunk_records: list[dict],
    chunk_vectors: np.ndarray,
    progress: Progress,
    upsert_batch_size: int = 256,
) -> list[str]:
    """Upsert the chunk points with their vectors under UUIDs derived from `chunk_id`, in batches; returns the ids written."""
    total = len(chunk_records)
    progress("written_chunk_ids", 0, total)
    if total == 0:
        return []
    vectors = np.asarray(chunk_vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != total:
        raise ValueError(f"{total} chunk records but chunk vectors of shape {vectors.shape}.")
    size = max(1, int(upsert_batch_size))
    written: list[str] = []
    for start in range(0, total, size):
        batch = chunk_records[start : start + size]
        points = models.Batch(
            ids=[_point_id(record["chunk_id"]) for record in batch],
            vectors=vectors[start : start + size].tolist(),
            payloads=[_payload(record) for record in batch],
        )
        client = _live(vector_index.client)
        try:
            with _session(client, f"writing to collection {vector_index.name!r}"):
                client.upsert(vector_index.name, points=points, wait=True)
        except StoreUnavailableError as error:
            failure = StoreUnavailableError(f"Qdrant write failed after {len(written)} of {total} chunks were written: {error}")
            failure.written_chunk_ids = list(written)  # type: ignore[attr-defined]
            raise failure from error
        written.extend(str(record["chunk_id"]) for record in batch)
        progress("written_chunk_ids", len(written), total)
    return written


def deleted_chunk_ids(vector_index: _Collection, stale_chunk_ids: list[str], written_chunk_ids: list[str]) -> list[str]:
    """Remove chunks of re-ingested documents that the new version no longer has (after the writes)."""
    stale = list(stale_chunk_ids)
    for start in range(0, len(stale), _DELETE_BATCH):
        ids = [_point_id(chunk_id) for chunk_id in stale[start : start + _DELETE_BATCH]]
        client = _live(vector_index.client)
        with _session(client, f"deleting stale chunks from collection {vector_index.name!r}"):
            client.delete(vector_index.name, points_selector=models.PointIdsList(points=ids), wait=True)
    return stale


def deleted_document_count(vector_index: _Collection, document_ids_to_delete: list[str]) -> int:
    """Remove every chunk of these documents (a filter on `document_id`); returns how many points went."""
    deleted = 0
    for start in range(0, len(document_ids_to_delete), _FILTER_VALUES_LIMIT):
        where = _any_of("document_id", document_ids_to_delete[start : start + _FILTER_VALUES_LIMIT])
        client = _live(vector_index.client)
        with _session(client, f"deleting documents from collection {vector_index.name!r}"):
            matching = client.count(vector_index.name, count_filter=where, exact=True).count
            if matching:
                client.delete(vector_index.name, points_selector=models.FilterSelector(filter=where), wait=True)
        deleted += matching
    return deleted


def _nearest(existing_index: _Collection, query_vector: np.ndarray, top_k: int) -> list[dict]:
    if top_k <= 0:
        return []
    client = _live(existing_index.client)
    local = _endpoint_of(client).local
    with _session(client, f"searching collection {existing_index.name!r}"):
        response = client.query_points(
            existing_index.name,
            query=np.asarray(query_vector, dtype=np.float32).ravel().tolist(),
            limit=int(top_k),
            with_payload=list(STORED_FIELDS),
            search_params=None if local else models.SearchParams(hnsw_ef=max(_HNSW_EF, int(top_k))),
        )
    hits = []
    for point in response.points:
        hit = _row(point.payload)
        hit["score"] = float(point.score)
        hits.append(hit)
    return hits


def search_hits(existing_index: _Collection, query_vector: np.ndarray, top_k: int = 5) -> list[dict]:
    """The `top_k` chunks nearest the query vector by cosine distance; `score` is cosine similarity."""
    return _nearest(existing_index, query_vector, top_k)


def dense_hits(existing_index: _Collection, query_vector: np.ndarray, candidate_count: int) -> list[dict]:
    """The `candidate_count` chunks nearest the query vector by cosine distance; `score` is cosine similarity."""
    return _nearest(existing_index, query_vector, candidate_count)


_QUERIES_PER_REQUEST = 256  # query vectors per `query_batch_points` request


def dense_hits_batch(existing_index: _Collection, query_vectors: np.ndarray, candidate_count: int) -> list[list[dict]]:
    """For each query vector, its `candidate_count` nearest chunks, as `dense_hits` gives them: one `query_batch_points` per 256 queries."""
    vectors = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
    if candidate_count <= 0 or not len(vectors):
        return [[] for _ in range(len(vectors))]
    client = _live(existing_index.client)
    params = None if _endpoint_of(client).local else models.SearchParams(hnsw_ef=max(_HNSW_EF, int(candidate_count)))
    answers: list[list[dict]] = []
    for start in range(0, len(vectors), _QUERIES_PER_REQUEST):
        requests = [
            models.QueryRequest(query=vector.tolist(), limit=int(candidate_count), with_payload=list(STORED_FIELDS), params=params)
            for vector in vectors[start : start + _QUERIES_PER_REQUEST]
        ]
        with _session(client, f"searching collection {existing_index.name!r}"):
            responses = client.query_batch_points(existing_index.name, requests=requests)
        answers.extend([{**_row(point.payload), "score": float(point.score)} for point in response.points] for response in responses)
    return answers


def _dense_only(index_name: str) -> ConfigError:
    return ConfigError(
        f"Qdrant index {index_name!r} is dense-only here: lexical (BM25) and hybrid retrieval would need sparse vectors "
        "written at ingestion, which this workbench does not do for Qdrant. Use retrieval_mode 'dense' with Qdrant, "
        "or LanceDB / Weaviate for lexical and hybrid retrieval."
    )


def text_index(existing_index: _Collection) -> _Collection:
    """Refused: the workbench's Qdrant indexes are dense-only, so lexical and hybrid retrieval are not available."""
    raise _dense_only(existing_index.index_name)


def lexical_hits(text_index: _Collection, question: str, candidate_count: int) -> list[dict]:
    """Never reached: `text_index` refuses lexical retrieval on Qdrant."""
    raise _dense_only(text_index.index_name)


def hybrid_hits(
    text_index: _Collection,
    question: str,
    query_vector: np.ndarray,
    candidate_count: int,
    hybrid_fusion: str = "rrf",
    hybrid_alpha: float = 0.5,
    rrf_k: int = 60,
    hybrid_candidates: int = 50,
) -> list[dict]:
    """Never reached: `text_index` refuses hybrid retrieval on Qdrant."""
    raise _dense_only(text_index.index_name)


def indexed_questions(existing_index: _Collection) -> dict[str, str]:
    """Question id → document id, for every SQuAD question whose paragraph the index holds."""
    return {
        str(question_id): str(payload.get("document_id"))
        for payload in _scrolled(existing_index, _equal("source_kind", "squad"), ["document_id", "question_ids"])
        for question_id in payload.get("question_ids") or ()
    }


_ROW_FIELDS = list(CHUNK_ROW_FIELDS)


def chunk_rows(existing_index: _Collection) -> list[dict]:
    """Every stored chunk's id, document id, source name, title, page and text (no vectors): what labels resolve against."""
    rows = []
    for payload in _scrolled(existing_index, models.Filter(), _ROW_FIELDS):
        row = _row(payload)
        rows.append({name: row[name] for name in _ROW_FIELDS})
    return rows


def _count(collection: _Collection) -> int:
    client = _live(collection.client)
    with _session(client, f"counting points in collection {collection.name!r}"):
        return int(client.count(collection.name, exact=True).count)


def chunk_count(existing_index: _Collection) -> int:
    """How many chunks the index holds."""
    return _count(existing_index)


def run_chunks(existing_index: _Collection, run_id: str, run_chunk_limit: int = 200) -> list[dict]:
    """Chunks whose lineage names this run, at most `run_chunk_limit`, by document and position."""
    rows = [_row(payload) for payload in _scrolled(existing_index, _equal("run_id", run_id), list(STORED_FIELDS), run_chunk_limit)]
    rows.sort(key=lambda row: (row["document_id"], row["chunk_index"]))
    return rows


def index_reset(store_client: QdrantClient, index_name: str) -> bool:
    """Drop the index's collection; False when there was none."""
    client, name = _live(store_client), _collection_name(index_name)
    with _session(client, f"dropping collection {name!r}"):
        if not client.collection_exists(name):
            return False
        client.delete_collection(name)
    return True


def _ann_label(client: QdrantClient) -> str:
    return "" if _endpoint_of(client).local else "hnsw (managed)"


def maintained_index(store_client: QdrantClient, index_name: str, run_counts: dict[str, int]) -> dict[str, Any]:
    """Nothing to do: a Qdrant server maintains its own HNSW index, local mode searches exhaustively, and there is no full-text index."""
    ann = _ann_label(store_client) or "none (local mode: exact search)"
    return {"managed_by": "qdrant", "compacted": False, "ann_index": ann, "fts_index": "none"}


def index_state(existing_index: _Collection) -> dict[str, Any]:
    """The collection's point count and mode; a server's HNSW index (segments, indexed vectors, status) is its own, and there is no full-text index."""
    client = _live(existing_index.client)
    endpoint = _endpoint_of(client)
    state: dict[str, Any] = {
        "rows": _count(existing_index),
        "fragments": None,
        "ann_index": _ann_label(client),
        "fts_index": False,
        "mode": "local" if endpoint.local else "server",
    }
    if not endpoint.local:
        with _session(client, f"describing collection {existing_index.name!r}"):
            info = client.get_collection(existing_index.name)
        state.update(fragments=info.segments_count, indexed_vectors=info.indexed_vectors_count, status=str(info.status.value))
        state["disk"] = {"measured": False, "reason": f"the collection lives on the Qdrant server at {endpoint.url}; "
                         "its disk use is the server's (see its telemetry or cluster page)"}
    else:
        state["disk"] = _local_disk_usage(existing_index, endpoint.path, state["rows"])
    return state


def _dimension_of(collection: _Collection) -> int:
    params = collection.client.get_collection(collection.name).config.params.vectors
    return int(params.size) if isinstance(params, models.VectorParams) else 0


def _local_disk_usage(collection: _Collection, path: str, rows: int) -> dict[str, Any]:
    """Bytes of a local-mode collection's folder (one SQLite file of points: vectors, estimated as rows × dimension × 4,
    and payload); local mode builds no HNSW index and Qdrant has no full-text index here."""
    folder = Path(path) / "collection" / collection.name
    total = folder_bytes(folder)
    vectors = min(total, raw_vector_bytes(rows, _dimension_of(collection)))
    return {"measured": True, "path": str(folder), "total_bytes": total, "vectors_bytes": vectors, "fts_index_bytes": 0,
            "ann_index_bytes": 0, "key_index_bytes": 0, "payload_bytes": total - vectors, "other_bytes": 0,
            "method": "the collection folder; vectors = rows × dimension × 4 bytes of it, payload the rest"}
