"""An in-process fake Weaviate server, driven through the official `weaviate-client` v4.

Only what `dataflows.stores.weaviate` uses, answered the way Weaviate documents it:

REST (http.server on 127.0.0.1): `GET /v1/meta`, `GET /v1/.well-known/ready`,
`GET /v1/.well-known/openid-configuration` (404: no OIDC), `GET|DELETE /v1/schema/{Class}`,
`POST /v1/schema`.

gRPC (`weaviate.v1.Weaviate` from the protobuf stubs shipped in the client, plus
`grpc.health.v1.Health/Check`): `Search` (fetch with property filters, sort and limit; exact
cosine `near_vector`; properties and vectors returned), `BatchObjects` (upsert by UUID, with a
switch to fail objects), `BatchDelete` (by filter), `Aggregate` (total count).

Switches: `accept_objects` (accept this many more objects, fail the rest in the batch reply),
`fail_grpc(code, after, times, methods)` (after `after` more gRPC calls, abort the next `times`
calls — all if None — of those methods with `code`, UNAVAILABLE by default: what a client sees
from a server answering 503). `stop()` mid-run closes both ports, so connections drop.

Filters: `equal`, `contains_any`, `greater_than` on text properties and `and` / `or`.
Anything else the client asks for is recorded in `unknown` and answered with 404 / UNIMPLEMENTED.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any, Self

import grpc
import numpy as np
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

from tests.fakes._http_fake import Failure, FailureScript, FakeHandler, LocalHttpFake

VERSION = "1.32.0"
_OP = base_pb2.Filters


# --- REST -------------------------------------------------------------------------------------


class _RestHandler(FakeHandler):
    fake: FakeWeaviate
    protocol_version = "HTTP/1.0"  # the stock one: a connection per request
    title_case_headers = True

    def _error(self, status: int, message: str) -> None:
        self.send_json(status, {"error": [{"message": message}]})

    def serve(self) -> None:
        fake, method = self.fake, self.command
        path = self.path.split("?", 1)[0].rstrip("/")
        fake.calls.append(f"{method} {path}")
        public = path.startswith("/v1/.well-known/")
        if fake.api_key is not None and not public and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
            return self._error(401, "anonymous access not enabled, please provide an auth scheme such as OIDC")
        with fake.lock:
            if method == "GET" and path == "/v1/meta":
                return self.send_json(200, {"hostname": "http://[::]:8080", "modules": {},
                                            "version": fake.version, "grpcMaxMessageSize": 104858000})
            if method == "GET" and path == "/v1/.well-known/ready":
                return self.send_json(200)
            if method == "GET" and path == "/v1/.well-known/openid-configuration":
                return self.send_json(404)
            if method == "POST" and path == "/v1/schema":
                body = self.read_json()
                name = body["class"]
                if fake._class(name):
                    return self._error(422, f"class name {name!r} already exists")
                fake.schemas[name] = body
                fake.objects[name] = {}
                return self.send_json(200, body)
            if path.startswith("/v1/schema/") and path.count("/") == 3:
                name = fake._class(path.rsplit("/", 1)[1])
                if method == "GET":
                    return self.send_json(200, fake.schemas[name]) if name else self.send_json(404)
                if method == "DELETE":
                    if name:
                        del fake.schemas[name], fake.objects[name]
                    return self.send_json(200)
        fake.unknown.append(f"REST {method} {self.path}")
        return self._error(404, f"fake Weaviate does not implement {method} {path}")


class FakeWeaviate(LocalHttpFake):
    """A Weaviate server in memory: start(), use `http_port` / `grpc_port`, stop()."""

    name = "fake-weaviate"
    handler = _RestHandler
    methods = ("GET", "POST", "DELETE", "PUT")

    def __init__(self, version: str = VERSION, api_key: str | None = None) -> None:
        super().__init__()
        self.version = version
        self.api_key = api_key  # when set, REST calls (but /.well-known) need `Authorization: Bearer <api_key>` (else 401)
        self.schemas: dict[str, dict] = {}  # class name -> class JSON as POSTed
        self.objects: dict[str, dict[str, dict]] = {}  # class name -> uuid -> {"properties", "vectors"}
        self.unknown: list[str] = []  # calls the fake does not implement
        self.calls: list[str] = []  # every REST path and gRPC method, in order
        self.accept_objects: int | None = None  # switch: accept this many more objects, fail the rest
        self._grpc_failures = FailureScript()  # switch: see fail_grpc
        self.lock = self._lock
        self._grpc: grpc.Server | None = None
        self.http_port = 0
        self.grpc_port = 0

    @property
    def url(self) -> str:
        """The REST API's address (still the old one after stop())."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> Self:
        """Serve REST and gRPC, each on a free port."""
        super().start()
        self.http_port = self.port
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(_Servicer(self), self._grpc)
        self._grpc.add_generic_rpc_handlers([_health_handler(self)])
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        return self

    def stop(self) -> None:
        """Close both ports, so that connections drop."""
        super().stop()
        if self._grpc is not None:
            self._grpc.stop(grace=None)

    def fail_grpc(self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, after: int = 0, times: int | None = None,
                  methods: tuple[str, ...] = ("Search", "BatchObjects", "BatchDelete", "Aggregate")) -> None:
        """After `after` more gRPC calls of `methods` pass, abort `times` of them (None: all) with `code`."""
        self._grpc_failures.replace(Failure(code, times, after, only=frozenset(methods).__contains__))

    def _injected_grpc_failure(self, method: str) -> grpc.StatusCode | None:
        failure = self._grpc_failures.take(method)
        return None if failure is None else failure.status

    # --- the data model -------------------------------------------------------------------

    def _class(self, name: str) -> str | None:
        """The stored class name, matched case-insensitively on the first letter as Weaviate does."""
        for stored in self.schemas:
            if stored.lower() == name.lower():
                return stored
        return None

    def _data_types(self, collection: str) -> dict[str, str]:
        return {p["name"]: p["dataType"][0] for p in self.schemas[collection].get("properties", [])}


# --- gRPC -------------------------------------------------------------------------------------


def _health_handler(fake: FakeWeaviate) -> grpc.GenericRpcHandler:
    def check(request: health_weaviate_pb2.WeaviateHealthCheckRequest, context: Any) -> Any:
        fake.calls.append("gRPC Health/Check")
        return health_weaviate_pb2.WeaviateHealthCheckResponse(
            status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
        )

    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(
            check,
            request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
            response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
        )
    })


def _floats(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def _filter_property(filters: base_pb2.Filters) -> str:
    if filters.HasField("target"):
        return filters.target.property
    return filters.on[0]


def _matches(filters: base_pb2.Filters, uuid: str, properties: dict) -> bool:
    op = filters.operator
    if op == _OP.OPERATOR_AND:
        return all(_matches(f, uuid, properties) for f in filters.filters)
    if op == _OP.OPERATOR_OR:
        return any(_matches(f, uuid, properties) for f in filters.filters)
    name = _filter_property(filters)
    value = uuid if name == "_id" else properties.get(name)
    values = value if isinstance(value, list) else [value]
    kind = filters.WhichOneof("test_value")
    wanted = getattr(filters, kind)
    if kind.endswith("_array"):
        wanted = list(wanted.values)
    if op == _OP.OPERATOR_EQUAL:
        return wanted in values
    if op == _OP.OPERATOR_CONTAINS_ANY:
        return any(v in wanted for v in values)
    if op == _OP.OPERATOR_GREATER_THAN:
        return value is not None and value > wanted
    raise NotImplementedError(f"filter operator {_OP.Operator.Name(op)}")


def _value(value: Any) -> properties_pb2.Value:
    if isinstance(value, bool):
        return properties_pb2.Value(bool_value=value)
    if isinstance(value, int):
        return properties_pb2.Value(int_value=value)
    if isinstance(value, float):
        return properties_pb2.Value(number_value=value)
    if isinstance(value, list):
        return properties_pb2.Value(list_value=properties_pb2.ListValue(
            text_values=properties_pb2.TextValues(values=[str(v) for v in value])))
    return properties_pb2.Value(text_value=str(value))


class _Servicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, fake: FakeWeaviate) -> None:
        self.fake = fake

    def _abort_if_failing(self, method: str, context: grpc.ServicerContext) -> None:
        code = self.fake._injected_grpc_failure(method)
        if code is not None:
            context.abort(code, f"injected failure: {code.name} (503 Service Unavailable)")

    def _collection(self, name: str, context: grpc.ServicerContext) -> str:
        stored = self.fake._class(name)
        if stored is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"class {name!r} not found")
        return stored

    def _selected(self, collection: str, filters: base_pb2.Filters | None) -> list[tuple[str, dict]]:
        rows = list(self.fake.objects[collection].items())
        if filters is not None:
            rows = [(uuid, obj) for uuid, obj in rows if _matches(filters, uuid, obj["properties"])]
        return rows

    def Search(self, request: search_get_pb2.SearchRequest, context: grpc.ServicerContext) -> Any:
        fake = self.fake
        fake.calls.append("gRPC Search")
        self._abort_if_failing("Search", context)
        unsupported = [f.name for f, _ in request.ListFields() if f.name not in {
            "collection", "properties", "metadata", "limit", "offset", "sort_by", "filters", "near_vector",
            "uses_123_api", "uses_125_api", "uses_127_api"}]
        if unsupported:
            fake.unknown.append(f"gRPC Search fields {unsupported}")
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"fake Weaviate does not implement {unsupported}")
        with fake.lock:
            collection = self._collection(request.collection, context)
            rows = self._selected(collection, request.filters if request.HasField("filters") else None)
            distances: dict[str, float] = {}
            if request.HasField("near_vector"):
                near = request.near_vector
                query = _floats(near.vector_bytes) if near.vector_bytes else _floats(near.vectors[0].vector_bytes)
                for uuid, obj in rows:
                    vector = next(iter(obj["vectors"].values()))
                    if len(vector) != len(query):
                        context.abort(grpc.StatusCode.UNKNOWN,
                                      f"vector search: vector lengths don't match: {len(query)} vs {len(vector)}")
                    cosine = float(np.dot(query, vector) / (np.linalg.norm(query) * np.linalg.norm(vector)))
                    distances[uuid] = 1.0 - cosine
                rows.sort(key=lambda row: distances[row[0]])
            for sort in reversed(request.sort_by):
                rows.sort(key=lambda row: row[1]["properties"].get(sort.path[0]), reverse=not sort.ascending)
            limit = request.limit or 10
            rows = rows[request.offset : request.offset + limit]
            wanted = set(request.properties.non_ref_properties)
            everything = request.properties.return_all_nonref_properties
            results = []
            for uuid, obj in rows:
                props = {k: _value(v) for k, v in obj["properties"].items() if everything or k in wanted}
                metadata = search_get_pb2.MetadataResult(id=uuid)
                if uuid in distances and request.metadata.distance:
                    metadata.distance = distances[uuid]
                    metadata.distance_present = True
                if request.metadata.vector or request.metadata.vectors:
                    for name, vector in obj["vectors"].items():
                        metadata.vectors.append(base_pb2.Vectors(
                            name=name, vector_bytes=vector.astype("<f4").tobytes(),
                            type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32))
                results.append(search_get_pb2.SearchResult(
                    properties=search_get_pb2.PropertiesResult(
                        non_ref_props=properties_pb2.Properties(fields=props), target_collection=collection),
                    metadata=metadata,
                ))
        return search_get_pb2.SearchReply(took=0.001, results=results)

    def BatchObjects(self, request: batch_pb2.BatchObjectsRequest, context: grpc.ServicerContext) -> Any:
        fake = self.fake
        fake.calls.append("gRPC BatchObjects")
        self._abort_if_failing("BatchObjects", context)
        errors = []
        with fake.lock:
            for index, obj in enumerate(request.objects):
                collection = fake._class(obj.collection)
                if collection is None:
                    errors.append(batch_pb2.BatchObjectsReply.BatchError(
                        index=index, error=f"class {obj.collection!r} not found"))
                    continue
                if fake.accept_objects is not None:
                    if fake.accept_objects <= 0:
                        errors.append(batch_pb2.BatchObjectsReply.BatchError(
                            index=index, error="store is read-only: disk usage too high"))
                        continue
                    fake.accept_objects -= 1
                fake.objects[collection][obj.uuid] = {
                    "properties": self._properties(collection, obj.properties),
                    "vectors": self._vectors(obj),
                }
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def _properties(self, collection: str, props: batch_pb2.BatchObject.Properties) -> dict:
        types = self.fake._data_types(collection)
        out: dict[str, Any] = {}
        for key, value in props.non_ref_properties.items():  # a Struct: numbers arrive as doubles
            out[key] = int(value) if types.get(key) == "int" else value
        for array in props.text_array_properties:
            out[array.prop_name] = list(array.values)
        for array in props.int_array_properties:
            out[array.prop_name] = list(array.values)
        for name in props.empty_list_props:
            out[name] = []
        return out

    def _vectors(self, obj: batch_pb2.BatchObject) -> dict[str, np.ndarray]:
        if obj.vector_bytes:
            return {"default": _floats(obj.vector_bytes)}
        if obj.vectors:
            return {v.name or "default": _floats(v.vector_bytes) for v in obj.vectors}
        return {"default": np.asarray(obj.vector, dtype=np.float32)}

    def BatchDelete(self, request: batch_delete_pb2.BatchDeleteRequest, context: grpc.ServicerContext) -> Any:
        fake = self.fake
        fake.calls.append("gRPC BatchDelete")
        self._abort_if_failing("BatchDelete", context)
        with fake.lock:
            collection = self._collection(request.collection, context)
            doomed = [uuid for uuid, _ in self._selected(collection, request.filters)]
            if not request.dry_run:
                for uuid in doomed:
                    del fake.objects[collection][uuid]
        return batch_delete_pb2.BatchDeleteReply(
            took=0.001, failed=0, matches=len(doomed), successful=len(doomed),
            objects=[batch_delete_pb2.BatchDeleteObject(uuid=bytes.fromhex(u.replace("-", "")),
                                                        successful=True) for u in doomed] if request.verbose else [],
        )

    def Aggregate(self, request: aggregate_pb2.AggregateRequest, context: grpc.ServicerContext) -> Any:
        fake = self.fake
        fake.calls.append("gRPC Aggregate")
        self._abort_if_failing("Aggregate", context)
        if request.aggregations or request.HasField("group_by") or request.WhichOneof("search"):
            fake.unknown.append("gRPC Aggregate beyond a total count")
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "fake Weaviate only counts objects")
        with fake.lock:
            collection = self._collection(request.collection, context)
            count = len(self._selected(collection, request.filters if request.HasField("filters") else None))
        return aggregate_pb2.AggregateReply(
            took=0.001, single_result=aggregate_pb2.AggregateReply.Single(objects_count=count))

    def _unimplemented(self, name: str, context: grpc.ServicerContext) -> Any:
        self.fake.unknown.append(f"gRPC {name}")
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"fake Weaviate does not implement {name}")

    def BatchReferences(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._unimplemented("BatchReferences", context)

    def TenantsGet(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._unimplemented("TenantsGet", context)
