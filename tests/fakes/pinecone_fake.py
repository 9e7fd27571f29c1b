"""An in-process fake of Pinecone's REST API (control plane and data plane), for driving the SDK.

Serves, on 127.0.0.1 and a free port, only what `dataflows.stores.pinecone` uses, with the
response shapes of API version 2026-07 that the installed `pinecone` SDK decodes:

    control plane  GET /indexes, POST /indexes, GET /indexes/{name}
    data plane     POST /index/{name}/vectors/upsert, /query, /vectors/delete,
                   /vectors/fetch_by_metadata, /describe_index_stats;
                   GET /index/{name}/vectors/list, /vectors/fetch

Each index's `host` is `http://127.0.0.1:<port>/index/<name>`, so the SDK's data-plane client
(which keeps an explicit http:// scheme, and takes a base URL with a path) reaches this server.
Vectors are kept in memory per index and namespace; query is exact cosine; metadata numbers come
back as floats, as Pinecone returns them. Pinecone's limits the store module must respect are
enforced: 40 KB metadata per vector, 2 MB and 1000 vectors per upsert, the index dimension.

Switches: `api_key` (a request with another key gets 401), `fail(status, times, path, skip)` to
answer the next matching requests with an error status (503 by default), `drop(times, path, skip)`
to close the connection of the next matching requests without any answer. `requests` records
(method, path) of every request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes._http_fake import Failure, FailureScript, FakeHandler, LocalHttpFake

METADATA_LIMIT = 40_960
REQUEST_LIMIT = 2 * 1024 * 1024
MAX_UPSERT_VECTORS = 1000
_DROP = 0  # the injected "status" of a dropped connection


@dataclass
class FakeIndex:
    """One index: its shape and its vectors, {namespace: {id: {"values": [...], "metadata": {...}}}}."""

    name: str
    dimension: int
    metric: str = "cosine"
    cloud: str = "aws"
    region: str = "us-east-1"
    namespaces: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _floats(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        key: float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        for key, value in metadata.items()
        if value is not None
    }


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _matches(metadata: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, condition in flt.items():
        expected = condition.get("$eq") if isinstance(condition, dict) else condition
        if metadata.get(key) != expected:
            return False
    return True


def _ends_with(suffix: str) -> Callable[[str], bool]:
    return lambda path: path.endswith(suffix)


class _Handler(FakeHandler):
    fake: PineconeFake
    disable_nagle_algorithm = True
    title_case_headers = True

    def serve(self) -> None:
        fake, method, split = self.fake, self.command, urlsplit(self.path)
        raw = self.read_body()
        with fake._lock:
            fake.requests.append((method, split.path))
            try:
                status = fake._injected_failure(split.path)
                if status == _DROP:
                    self.close_connection = True  # no status line, no body: the client sees the connection go
                    return
                if status is not None:
                    raise _ApiError(status, "UNAVAILABLE" if status >= 500 else "FAILED", f"Injected failure {status}")
                if self.headers.get("Api-Key") != fake.api_key:
                    raise _ApiError(401, "UNAUTHENTICATED", "Invalid API Key")
                body = self.read_json(empty={})
                status, payload = fake._route(method, split.path, parse_qs(split.query), body, len(raw))
            except _ApiError as error:
                status = error.status
                payload = {"error": {"code": error.code, "message": error.message}, "status": error.status}
        self.send_json(status, payload)


class PineconeFake(LocalHttpFake):
    """Start with `with PineconeFake() as fake:`; point the SDK at `fake.url` with `fake.api_key`."""

    name = "fake-pinecone"
    handler = _Handler

    def __init__(self, api_key: str = "fake-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self.indexes: dict[str, FakeIndex] = {}
        self.requests: list[tuple[str, str]] = []
        self._failures = FailureScript()
        self._bind()  # `url` is known before the server starts

    def add_index(self, name: str, dimension: int, metric: str = "cosine") -> FakeIndex:
        """Seed an existing index."""
        self.indexes[name] = FakeIndex(name=name, dimension=dimension, metric=metric)
        return self.indexes[name]

    def vectors(self, index: str, namespace: str) -> dict[str, dict[str, Any]]:
        """The stored vectors of one namespace ({} when there is none)."""
        return self.indexes[index].namespaces.get(namespace, {})

    def fail(self, status: int = 503, times: int | None = 1, path: str | None = None, skip: int = 0) -> None:
        """Answer `times` requests (None: all) whose path ends with `path` with `status`, after `skip` pass."""
        self._failures.replace(Failure(status, times, skip, only=None if path is None else _ends_with(path)))

    def drop(self, times: int | None = 1, path: str | None = None, skip: int = 0) -> None:
        """Close the connection of `times` requests (None: all) whose path ends with `path`, unanswered, after `skip` pass."""
        self.fail(_DROP, times, path, skip)

    def count(self, method: str, path_suffix: str) -> int:
        """How many requests with this method had a path ending in `path_suffix`."""
        return sum(1 for m, p in self.requests if m == method and p.endswith(path_suffix))

    # --- request handling -------------------------------------------------------------------

    def _injected_failure(self, path: str) -> int | None:
        failure = self._failures.take(path)
        return None if failure is None else failure.status

    def _model(self, index: FakeIndex) -> dict[str, Any]:
        return {
            "name": index.name,
            "host": f"{self.url}/index/{index.name}",
            "status": {"ready": True, "state": "Ready"},
            "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": index.dimension,
                                              "metric": index.metric}}},
            "deployment": {"deployment_type": "managed", "cloud": index.cloud, "region": index.region},
            "deletion_protection": "disabled",
            "tags": None,
        }

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any],
               raw_size: int) -> tuple[int, dict[str, Any]]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["indexes"] and method == "GET":
            return 200, {"indexes": [self._model(index) for index in self.indexes.values()]}
        if parts == ["indexes"] and method == "POST":
            return self._create_index(body)
        if len(parts) == 2 and parts[0] == "indexes" and method == "GET":
            if parts[1] not in self.indexes:
                raise _ApiError(404, "NOT_FOUND", f"Resource {parts[1]} not found")
            return 200, self._model(self.indexes[parts[1]])
        if len(parts) >= 3 and parts[0] == "index":
            if parts[1] not in self.indexes:
                raise _ApiError(404, "NOT_FOUND", f"Index {parts[1]} not found")
            return self._data_plane(self.indexes[parts[1]], method, "/".join(parts[2:]), query, body, raw_size)
        raise _ApiError(404, "NOT_FOUND", f"No route for {method} {path}")

    def _create_index(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body.get("name") or ""
        if name in self.indexes:
            raise _ApiError(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        dense = body.get("schema", {}).get("fields", {}).get("_values")
        if not dense or dense.get("type") != "dense_vector":
            raise _ApiError(400, "INVALID_ARGUMENT", "schema must declare a dense_vector field _values")
        deployment = body.get("deployment") or {}
        index = FakeIndex(name=name, dimension=int(dense["dimension"]), metric=dense.get("metric", "cosine"),
                          cloud=deployment.get("cloud", "aws"), region=deployment.get("region", "us-east-1"))
        self.indexes[name] = index
        return 201, self._model(index)

    def _data_plane(self, index: FakeIndex, method: str, op: str, query: dict[str, list[str]],
                    body: dict[str, Any], raw_size: int) -> tuple[int, dict[str, Any]]:
        if method == "GET":
            namespace = query.get("namespace", ["__default__"])[0] or "__default__"
        else:
            namespace = body.get("namespace") or "__default__"
        stored = index.namespaces.get(namespace, {})
        if op == "vectors/upsert" and method == "POST":
            return 200, self._upsert(index, namespace, body, raw_size)
        if op == "query" and method == "POST":
            vector = body.get("vector") or []
            if len(vector) != index.dimension:
                raise _ApiError(400, "INVALID_ARGUMENT", f"Vector dimension {len(vector)} does not match "
                                f"the dimension of the index {index.dimension}")
            scored = sorted(((_cosine(vector, item["values"]), vid) for vid, item in stored.items()), reverse=True)
            matches = []
            for score, vid in scored[: int(body.get("topK", 10))]:
                match: dict[str, Any] = {"id": vid, "score": score}
                if body.get("includeMetadata"):
                    match["metadata"] = stored[vid]["metadata"]
                if body.get("includeValues"):
                    match["values"] = stored[vid]["values"]
                matches.append(match)
            return 200, {"matches": matches, "namespace": namespace, "usage": {"readUnits": 1}}
        if op == "vectors/delete" and method == "POST":
            if body.get("deleteAll"):
                index.namespaces.pop(namespace, None)
            for vid in body.get("ids") or []:
                stored.pop(vid, None)
            return 200, {}
        if op == "vectors/list" and method == "GET":
            prefix = query.get("prefix", [""])[0]
            limit = int(query.get("limit", ["100"])[0])
            offset = int(query.get("paginationToken", ["0"])[0])
            ids = sorted(vid for vid in stored if vid.startswith(prefix))
            page: dict[str, Any] = {"vectors": [{"id": vid} for vid in ids[offset : offset + limit]],
                                    "namespace": namespace, "usage": {"readUnits": 1}}
            if offset + limit < len(ids):
                page["pagination"] = {"next": str(offset + limit)}
            return 200, page
        if op == "vectors/fetch" and method == "GET":
            found = {vid: {"id": vid, **stored[vid]} for vid in query.get("ids", []) if vid in stored}
            return 200, {"vectors": found, "namespace": namespace, "usage": {"readUnits": 1}}
        if op == "vectors/fetch_by_metadata" and method == "POST":
            limit = int(body.get("limit", 100))
            offset = int(body.get("paginationToken") or 0)
            ids = sorted(vid for vid, item in stored.items() if _matches(item["metadata"], body.get("filter", {})))
            result: dict[str, Any] = {
                "vectors": {vid: {"id": vid, **stored[vid]} for vid in ids[offset : offset + limit]},
                "namespace": namespace, "usage": {"readUnits": 1},
            }
            if offset + limit < len(ids):
                result["pagination"] = {"next": str(offset + limit)}
            return 200, result
        if op == "describe_index_stats" and method == "POST":
            namespaces = {ns: {"vectorCount": len(items)} for ns, items in index.namespaces.items() if items}
            return 200, {"namespaces": namespaces, "dimension": index.dimension, "indexFullness": 0.0,
                         "totalVectorCount": sum(n["vectorCount"] for n in namespaces.values()),
                         "metric": index.metric, "vectorType": "dense"}
        raise _ApiError(404, "NOT_FOUND", f"No route for {method} {op}")

    def _upsert(self, index: FakeIndex, namespace: str, body: dict[str, Any], raw_size: int) -> dict[str, Any]:
        vectors = body.get("vectors") or []
        if raw_size > REQUEST_LIMIT:
            raise _ApiError(400, "INVALID_ARGUMENT", f"Request size {raw_size} bytes exceeds the maximum "
                            f"supported size of {REQUEST_LIMIT} bytes")
        if len(vectors) > MAX_UPSERT_VECTORS:
            raise _ApiError(400, "INVALID_ARGUMENT", f"Upsert of {len(vectors)} vectors exceeds the limit "
                            f"of {MAX_UPSERT_VECTORS}")
        for vector in vectors:
            values = vector.get("values") or []
            if len(values) != index.dimension:
                raise _ApiError(400, "INVALID_ARGUMENT", f"Vector dimension {len(values)} does not match "
                                f"the dimension of the index {index.dimension}")
            metadata = vector.get("metadata") or {}
            size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            if size > METADATA_LIMIT:
                raise _ApiError(400, "INVALID_ARGUMENT", f"Metadata size is {size} bytes, which exceeds "
                                f"the limit of {METADATA_LIMIT} bytes per vector")
            for key, value in metadata.items():
                ok = value is None or isinstance(value, (str, int, float, bool)) or (
                    isinstance(value, list) and all(isinstance(item, str) for item in value))
                if not ok:
                    raise _ApiError(400, "INVALID_ARGUMENT", f"Metadata value for field {key} has an "
                                    "unsupported type")
        stored = index.namespaces.setdefault(namespace, {})
        for vector in vectors:
            stored[vector["id"]] = {"values": list(vector["values"]),
                                    "metadata": _floats(vector.get("metadata") or {})}
        return {"upsertedCount": len(vectors)}
