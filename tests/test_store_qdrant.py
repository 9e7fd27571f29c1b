"""The Qdrant store module against real Qdrant: its local mode, on disk in a temporary folder (no fakes).

A second process opening the same folder is a real subprocess. `test_real_qdrant_server` runs the
store flow against a Qdrant server or Qdrant Cloud when QDRANT_URL (and QDRANT_API_KEY) are set;
`test_ingest_and_search_through_the_runtime` runs when the runtime accepts `vector_db: qdrant`.
"""

from __future__ import annotations

import http.server
import inspect
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from hamilton import driver, telemetry
from qdrant_client import QdrantClient

from dataflows.stores import STORES
from dataflows.stores import lancedb as reference_store
from dataflows.stores import qdrant as store
from ragkit.backends import EMBEDDED, OFFLINE, ApiKey, BackendSpec, SettingField
from ragkit.errors import (
    ConfigError,
    IndexMismatchError,
    IndexNotFoundError,
    MissingApiKeyError,
    StoreUnavailableError,
)
from ragkit.schema import STORED_FIELDS, Document, InputFile, Progress, sha256_hex
from tests.conftest import REPO, free_port

telemetry.disable_telemetry()

DIM = 8
INT_FIELDS = ("page", "chunk_index", "char_start", "char_end", "dimension")
# The store contract: every public node of the reference LanceDB module (dataflows/stores/__init__.py).
NODES = {
    name for name, fn in vars(reference_store).items()
    if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", "") == reference_store.__name__
}


def make_chunks(doc_ids: list[str], per_doc: int, run_id: str = "run-1", dim: int = DIM, seed: int = 0,
                source_kind: str = "upload") -> tuple[list[dict], np.ndarray]:
    """Chunk records with every stored field, and float32 unit vectors, one per record."""
    rng = np.random.default_rng(seed)
    records = []
    for doc_id in doc_ids:
        for index in range(per_doc):
            body = f"Chunk {index} of {doc_id}: some text, «ünïcödé» ✓ 漢字 😀 \"quoted\" \\ ."
            records.append({
                "chunk_id": f"{doc_id}-{sha256_hex(doc_id, run_id, str(index))[:16]}",
                "document_id": doc_id,
                "source_kind": source_kind,
                "source_name": f"{doc_id}.pdf",
                "title": f"Title {doc_id}",
                "page": index + 1,
                "chunk_index": index,
                "char_start": index * 100,
                "char_end": index * 100 + len(body),
                "content_hash": sha256_hex(body),
                "embedding_service": "local",
                "model_name": "test-model",
                "dimension": dim,
                "run_id": run_id,
                "ingested_at": "2024-05-01T12:00:00+00:00",
                "text": body,
                "section": f"Chapter {index + 1}",
                "indexed_text": f"Title {doc_id} › Chapter {index + 1}\n\n{body}",
                "question_ids": [f"q-{doc_id}-{index}", f"q2-{doc_id}-{index}"] if index % 2 == 0 else [],
            })
    vectors = rng.normal(size=(len(records), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert set(records[0]) == set(STORED_FIELDS)
    return records, vectors


def doc_ids(count: int) -> list[str]:
    return [Document.id_for("upload", f"file-{number}.pdf") for number in range(count)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "qdrant"


@pytest.fixture
def config(folder: Path) -> dict:
    return {"path": str(folder)}


@pytest.fixture
def client(config: dict):
    qdrant = store.store_client(config)
    yield qdrant
    qdrant.close()  # releases the folder's lock; the next store_client of it opens a new client


def test_module_defines_the_store_contract_nodes(config: dict) -> None:
    dr = driver.Builder().with_modules(store).build()
    computed = {v.name for v in dr.list_available_variables() if not v.is_external_input}
    assert computed == NODES  # the same nodes as LanceDB; private helpers are not nodes
    assert all(v.documentation for v in dr.list_available_variables() if v.name in NODES)
    for name in NODES:
        ours = inspect.signature(getattr(store, name)).parameters
        reference = inspect.signature(getattr(reference_store, name)).parameters
        required = {p for p, spec in ours.items() if spec.default is inspect.Parameter.empty}
        assert required <= set(reference), f"{name} needs inputs the LanceDB flow does not give: {required - set(reference)}"
    for name in ("lexical_hits", "hybrid_hits"):
        assert list(inspect.signature(getattr(store, name)).parameters) == list(
            inspect.signature(getattr(reference_store, name)).parameters)
    assert inspect.signature(store.store_client).parameters["qdrant_api_key"].default == ""


def test_index_lifecycle_in_local_mode(client, folder: Path) -> None:
    docs = doc_ids(3)
    records, vectors = make_chunks(docs, per_doc=4)
    target = store.vector_index(client, "docs", DIM)

    calls: list[tuple[str, int, int]] = []
    written = store.written_chunk_ids(target, records, vectors, Progress(lambda *a: calls.append(a)), 5)
    assert written == [r["chunk_id"] for r in records]
    assert calls == [("written_chunk_ids", n, 12) for n in (0, 5, 10, 12)]

    queried = store.existing_index(client, "docs")
    assert store.chunk_count(queried) == 12
    store.written_chunk_ids(target, records, vectors, Progress(), 100)  # same chunk ids: an upsert, not new points
    assert store.chunk_count(queried) == 12
    assert store.vector_index(client, "docs", DIM).name == "docs"  # reopening keeps the points
    assert store.chunk_count(queried) == 12

    unknown = "0" * 16
    found = store.stored_chunk_ids(target, docs + [unknown])
    assert found == {**{d: {r["chunk_id"] for r in records if r["document_id"] == d} for d in docs}, unknown: set()}
    assert store.stored_chunk_ids(target, []) == {}

    # a changed document: its new version is written, then the chunks it no longer has are deleted
    stale = [r["chunk_id"] for r in records if r["document_id"] == docs[0]][:2]
    assert store.deleted_chunk_ids(target, stale, written) == stale
    assert store.chunk_count(queried) == 10
    assert store.stored_chunk_ids(target, [docs[0]])[docs[0]] == {r["chunk_id"] for r in records[2:4]}
    assert store.deleted_chunk_ids(target, [], written) == []

    assert store.deleted_document_count(target, [docs[1]]) == 4
    assert store.chunk_count(queried) == 6
    assert store.stored_chunk_ids(target, [docs[1]]) == {docs[1]: set()}
    assert store.deleted_document_count(target, [docs[1], unknown]) == 0

    run2_records, run2_vectors = make_chunks([docs[2]], per_doc=2, run_id="run-2", seed=1)
    store.written_chunk_ids(target, run2_records, run2_vectors, Progress(), 100)
    run2 = store.run_chunks(queried, "run-2")
    assert [r["chunk_id"] for r in run2] == [r["chunk_id"] for r in run2_records]  # by document and position
    assert all(set(r) == set(STORED_FIELDS) and type(r["page"]) is int for r in run2)
    assert {k: run2[0][k] for k in STORED_FIELDS} == run2_records[0]
    run1 = store.run_chunks(queried, "run-1", run_chunk_limit=3)
    assert len(run1) == 3 and {r["run_id"] for r in run1} == {"run-1"}
    assert store.run_chunks(queried, "no-such-run") == []

    state = store.index_state(queried)
    disk = state.pop("disk")
    assert state == {"rows": 8, "fragments": None, "ann_index": "", "fts_index": False, "mode": "local"}
    assert disk["measured"] and disk["vectors_bytes"] == 8 * DIM * 4 and disk["total_bytes"] > disk["vectors_bytes"]
    upkeep = store.maintained_index(client, "docs", {"written": 2})
    assert upkeep["fts_index"] == "none" and upkeep["compacted"] is False and "exact" in upkeep["ann_index"]

    assert store.index_reset(client, "docs") is True
    with pytest.raises(IndexNotFoundError):
        store.existing_index(client, "docs")
    assert store.index_reset(client, "docs") is False
    assert store.index_reset(client, "never-created") is False


def test_search_order_scores_and_lineage(client) -> None:
    records, vectors = make_chunks(doc_ids(4), per_doc=5, seed=3)
    target = store.vector_index(client, "search", DIM)
    store.written_chunk_ids(target, records, vectors, Progress())
    queried = store.existing_index(client, "search")

    hits = store.search_hits(queried, vectors[7], top_k=6)
    assert len(hits) == 6
    assert hits[0]["chunk_id"] == records[7]["chunk_id"]
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    by_id = {r["chunk_id"]: position for position, r in enumerate(records)}
    cosine = vectors @ vectors[7]
    assert [h["chunk_id"] for h in hits] == [records[i]["chunk_id"] for i in np.argsort(-cosine)[:6]]
    for hit in hits:
        assert set(hit) == set(STORED_FIELDS) | {"score"}
        assert {k: hit[k] for k in STORED_FIELDS} == records[by_id[hit["chunk_id"]]]  # every field, exactly
        assert all(type(hit[name]) is int for name in INT_FIELDS)
        assert isinstance(hit["question_ids"], list)
        assert hit["score"] == pytest.approx(float(cosine[by_id[hit["chunk_id"]]]), abs=1e-5)

    # cosine, not dot product: a scaled, unnormalised query scores the same
    scaled = store.search_hits(queried, 37.5 * vectors[7], top_k=6)
    assert [(h["chunk_id"], round(h["score"], 5)) for h in scaled] == [(h["chunk_id"], round(h["score"], 5)) for h in hits]
    opposite = store.search_hits(queried, -vectors[7], top_k=len(records))
    assert opposite[-1]["chunk_id"] == records[7]["chunk_id"] and opposite[-1]["score"] == pytest.approx(-1.0, abs=1e-5)

    dense = store.dense_hits(queried, vectors[7], candidate_count=3)
    assert [h["chunk_id"] for h in dense] == [h["chunk_id"] for h in hits[:3]]
    assert store.search_hits(queried, vectors[7], top_k=0) == []
    assert len(store.search_hits(queried, vectors[7], top_k=100)) == len(records)


def test_indexed_questions_come_from_squad_chunks_only(client) -> None:
    squad, squad_vectors = make_chunks(["para-1", "para-2"], per_doc=2, source_kind="squad")
    upload, upload_vectors = make_chunks(["upload-1"], per_doc=2, seed=5)
    target = store.vector_index(client, "squad", DIM)
    store.written_chunk_ids(target, squad + upload, np.vstack([squad_vectors, upload_vectors]), Progress())
    assert store.indexed_questions(target) == {"q-para-1-0": "para-1", "q2-para-1-0": "para-1",
                                               "q-para-2-0": "para-2", "q2-para-2-0": "para-2"}


def test_many_points_page_through_scroll_and_filters(client, monkeypatch: pytest.MonkeyPatch) -> None:
    # small pages and batches, so a few hundred points take many scroll pages, filters and delete requests
    monkeypatch.setattr(store, "_PAGE_SIZE", 50)
    monkeypatch.setattr(store, "_FILTER_VALUES_LIMIT", 2)
    monkeypatch.setattr(store, "_DELETE_BATCH", 70)
    docs = doc_ids(5)
    records, vectors = make_chunks(docs, per_doc=60)
    target = store.vector_index(client, "paged", DIM)
    assert len(store.written_chunk_ids(target, records, vectors, Progress(), 64)) == 300
    found = store.stored_chunk_ids(target, docs)
    assert found == {d: {r["chunk_id"] for r in records if r["document_id"] == d} for d in docs}
    assert len(store.run_chunks(target, "run-1", run_chunk_limit=175)) == 175
    assert len(store.run_chunks(target, "run-1", run_chunk_limit=1000)) == 300
    squad, squad_vectors = make_chunks([f"para-{n}" for n in range(60)], per_doc=2, source_kind="squad", seed=9)
    store.written_chunk_ids(target, squad, squad_vectors, Progress())
    assert len(store.indexed_questions(target)) == 120  # two questions on each first chunk of 60 paragraphs
    stale = [r["chunk_id"] for r in records[:150]]
    assert store.deleted_chunk_ids(target, stale, []) == stale
    assert store.chunk_count(target) == 150 + 120
    assert store.deleted_document_count(target, docs) == 150
    assert store.chunk_count(target) == 120


def test_dimension_mismatch_and_missing_index_are_refused(client, folder: Path) -> None:
    store.vector_index(client, "wide", 16)
    with pytest.raises(IndexMismatchError, match=r"16-dimensional.*gives 8-dimensional") as caught:
        store.vector_index(client, "wide", DIM)
    assert "Use another index name" in str(caught.value)
    assert store.vector_index(client, "wide", 16).name == "wide"
    with pytest.raises(IndexNotFoundError, match=r"no index 'missing' at .*Ingest documents into it first") as missing:
        store.existing_index(client, "missing")
    assert str(folder) in str(missing.value)


def test_point_ids_are_deterministic_across_clients(tmp_path: Path) -> None:
    records, vectors = make_chunks(doc_ids(2), per_doc=3)
    assert store._point_id(records[0]["chunk_id"]) == store._point_id(records[0]["chunk_id"])
    assert len({store._point_id(r["chunk_id"]) for r in records}) == len(records)
    stored_ids = []
    for name in ("one", "two"):  # two folders, two clients, written separately
        config = {"path": str(tmp_path / name)}
        client = store.store_client(config)
        store.written_chunk_ids(store.vector_index(client, "docs", DIM), records, vectors, Progress())
        client.close()
        raw = QdrantClient(path=config["path"])  # plain qdrant-client, after ours let go of the folder
        points, _ = raw.scroll("docs", limit=100, with_payload=["chunk_id"])
        raw.close()
        stored_ids.append({str(p.id): p.payload["chunk_id"] for p in points})
    assert stored_ids[0] == stored_ids[1] == {store._point_id(r["chunk_id"]): r["chunk_id"] for r in records}
    assert store._point_id("doc-0") == str(uuid.uuid5(uuid.UUID("469f0231-9703-497e-a78b-132d45945748"), "doc-0"))


def test_one_client_per_folder_and_reopening_after_close(config: dict) -> None:
    first = store.store_client(config)
    assert store.store_client(dict(config)) is first  # local mode locks its folder: one client per process
    records, vectors = make_chunks(doc_ids(2), per_doc=3)
    target = store.vector_index(first, "kept", DIM)
    store.written_chunk_ids(target, records, vectors, Progress())
    first.close()

    fresh = store.store_client(config)
    assert fresh is not first
    reopened = store.existing_index(fresh, "kept")
    assert store.chunk_count(reopened) == 6
    assert store.search_hits(reopened, vectors[4], top_k=1)[0]["chunk_id"] == records[4]["chunk_id"]
    assert store.chunk_count(target) == 6  # a handle of the closed client goes on through the open one
    assert store.index_state(store.existing_index(first, "kept"))["rows"] == 6
    fresh.close()


def test_threads_share_the_folder_client(client) -> None:
    target = store.vector_index(client, "threads", DIM)
    batches = [make_chunks([f"doc-{n}"], per_doc=25, seed=n) for n in range(8)]
    errors: list[BaseException] = []

    def write(records: list[dict], vectors: np.ndarray) -> None:
        try:
            worker = store.vector_index(store.store_client({"path": client.workbench_endpoint.path}), "threads", DIM)
            store.written_chunk_ids(worker, records, vectors, Progress(), 7)
            store.search_hits(worker, vectors[0], top_k=3)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=batch) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.chunk_count(target) == 200


_SECOND_PROCESS = """
import sys
from dataflows.stores import qdrant as store
from ragkit.errors import StoreUnavailableError
try:
    client = store.store_client({"path": sys.argv[1]})
except StoreUnavailableError as error:
    print(error)
    sys.exit(3)
print("rows", store.chunk_count(store.existing_index(client, "docs")))
"""


def test_a_second_process_gets_a_clear_error(client, folder: Path) -> None:
    records, vectors = make_chunks(doc_ids(1), per_doc=2)
    store.written_chunk_ids(store.vector_index(client, "docs", DIM), records, vectors, Progress())

    def second_process() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _SECOND_PROCESS, str(folder)], cwd=REPO, capture_output=True,
                              text=True, timeout=120)

    refused = second_process()
    assert refused.returncode == 3, refused.stderr
    message = refused.stdout.strip()
    assert message.startswith(f"Qdrant folder {folder} is in use by another process")
    assert "run a Qdrant server" in message and "Traceback" not in refused.stderr

    client.close()  # this process lets go: the other one can open the folder now
    opened = second_process()
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.strip() == "rows 2"


def test_lexical_and_hybrid_are_refused(client) -> None:
    records, vectors = make_chunks(doc_ids(1), per_doc=2)
    store.written_chunk_ids(store.vector_index(client, "dense", DIM), records, vectors, Progress())
    queried = store.existing_index(client, "dense")
    with pytest.raises(ConfigError, match=r"dense-only.*retrieval_mode 'dense'.*LanceDB / Weaviate"):
        store.text_index(queried)
    with pytest.raises(ConfigError, match="dense-only"):
        store.lexical_hits(queried, "question", 5)
    with pytest.raises(ConfigError, match="dense-only"):
        store.hybrid_hits(queried, "question", vectors[0], 5)


def test_module_resolves_as_a_hamilton_dag(config: dict, folder: Path) -> None:
    records, vectors = make_chunks(doc_ids(2), per_doc=3)
    dr = driver.Builder().with_modules(store).build()
    inputs = {"vector_db_config": config, "index_name": "dag-index", "embedding_dimension": DIM,
              "chunk_records": records, "chunk_vectors": vectors, "progress": Progress(),
              "document_ids": [r["document_id"] for r in records]}  # no qdrant_api_key: it is optional
    written = dr.execute(["written_chunk_ids", "store_location", "stored_chunk_ids"], inputs=inputs)
    assert len(written["written_chunk_ids"]) == 6
    assert written["store_location"] == f"qdrant:{folder.resolve()}"

    query = {"vector_db_config": config, "qdrant_api_key": "", "index_name": "dag-index", "query_vector": vectors[2],
             "top_k": 2, "document_ids": [records[0]["document_id"]], "run_counts": {"written": 6}}
    result = dr.execute(["chunk_count", "search_hits", "stored_chunk_ids", "index_state", "maintained_index"],
                        inputs={**query, "embedding_dimension": DIM})
    assert result["chunk_count"] == 6 and result["index_state"]["rows"] == 6
    assert result["search_hits"][0]["chunk_id"] == records[2]["chunk_id"]
    assert result["stored_chunk_ids"][records[0]["document_id"]] == {r["chunk_id"] for r in records[:3]}
    store.store_client(config).close()


def test_locations_and_collection_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert store.store_location({"path": str(tmp_path / "q")}) == f"qdrant:{(tmp_path / 'q').resolve()}"
    monkeypatch.chdir(tmp_path)
    assert store.store_location({}) == f"qdrant:{(tmp_path / 'data' / 'qdrant').resolve()}"
    assert store.store_location({"path": "", "url": ""}) == store.store_location({})
    assert store.store_location({"path": "rel/q"}) == f"qdrant:{(tmp_path / 'rel' / 'q').resolve()}"
    assert store.store_location({"url": "localhost:6333/"}) == "qdrant:http://localhost:6333"
    assert store.store_location({"url": "https://user:hunter2@xyz.cloud.qdrant.io:6333", "path": "/ignored"}) == \
        "qdrant:https://xyz.cloud.qdrant.io:6333"
    with pytest.raises(ConfigError, match="http"):
        store.store_location({"url": "ftp://example.com"})

    assert store._collection_name("docs") == "docs"
    assert store._collection_name("My_Docs-v2.1") == "My_Docs-v2.1"
    odd = [store._collection_name(name) for name in ("my docs", "my/docs", "my_docs", "..", "../x", "ü")]
    assert len(set(odd)) == len(odd)
    assert all(store._COLLECTION_NAME.fullmatch(name) for name in odd)
    assert len(store._collection_name("x" * 400)) <= 200
    with pytest.raises(ConfigError):
        store._collection_name("   ")


def test_odd_index_names_stay_inside_the_folder(client, folder: Path) -> None:
    records, vectors = make_chunks(doc_ids(1), per_doc=1)
    for name in ("../escape", "my docs/with slash"):
        store.written_chunk_ids(store.vector_index(client, name, DIM), records, vectors, Progress())
        assert store.chunk_count(store.existing_index(client, name)) == 1
    assert not (folder.parent / "escape").exists()
    assert store.index_reset(client, "../escape") is True


def test_unreachable_server_and_missing_cloud_key() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailableError, match=rf"Qdrant at {url} cannot be reached while connecting.*server is running"):
        store.store_client({"url": url}, "")
    with pytest.raises(MissingApiKeyError, match="QDRANT_API_KEY"):
        store.store_client({"url": "https://abc-123.eu-central-1-0.aws.cloud.qdrant.io:6333"}, "  ")


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every request with 401, as Qdrant does for a wrong API key."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        body = b'{"status":{"error":"Must provide an API key or an Authorization bearer token"},"time":0.0}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_refused_api_key_is_named_but_never_shown() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    secret = "qdrant-secret-key-0123456789"
    try:
        with pytest.warns(UserWarning, match="insecure connection"):  # qdrant-client's own warning: a key over http
            with pytest.raises(StoreUnavailableError) as caught:
                store.store_client({"url": f"http://127.0.0.1:{server.server_port}"}, secret)
        with pytest.raises(MissingApiKeyError, match=r"No API key for the Qdrant server at http://127\.0\.0\.1:.*QDRANT_API_KEY"):
            store.store_client({"url": f"http://127.0.0.1:{server.server_port}"}, "")
    finally:
        server.shutdown()
        server.server_close()
    message = str(caught.value)
    assert "refused the API key (HTTP 401)" in message and "QDRANT_API_KEY" in message
    assert secret not in message and secret not in repr(caught.value)


@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="QDRANT_URL not set: no real Qdrant server to test against")
def test_real_qdrant_server() -> None:
    config = {"url": os.environ["QDRANT_URL"]}
    index_name = f"workbench-pytest-{uuid.uuid4().hex[:12]}"
    client = store.store_client(config, os.environ.get("QDRANT_API_KEY", ""))
    assert store.store_location(config).startswith("qdrant:http")
    docs = doc_ids(3)
    records, vectors = make_chunks(docs, per_doc=4, run_id=f"run-{uuid.uuid4().hex[:8]}")
    try:
        target = store.vector_index(client, index_name, DIM)
        assert store.written_chunk_ids(target, records, vectors, Progress(), 5) == [r["chunk_id"] for r in records]
        store.written_chunk_ids(target, records, vectors, Progress(), 5)
        queried = store.existing_index(client, index_name)
        assert store.chunk_count(queried) == 12
        hits = store.search_hits(queried, vectors[1], top_k=3)
        assert hits[0]["chunk_id"] == records[1]["chunk_id"] and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
        assert {k: hits[0][k] for k in STORED_FIELDS} == records[1]
        assert store.stored_chunk_ids(target, docs[:1]) == {docs[0]: {r["chunk_id"] for r in records[:4]}}
        assert len(store.run_chunks(queried, records[0]["run_id"])) == 12
        assert store.deleted_chunk_ids(target, [records[0]["chunk_id"]], []) == [records[0]["chunk_id"]]
        assert store.deleted_document_count(target, [docs[1]]) == 4
        assert store.chunk_count(queried) == 7
        state = store.index_state(queried)
        assert state["rows"] == 7 and state["ann_index"] == "hnsw (managed)" and state["mode"] == "server"
        with pytest.raises(IndexMismatchError):
            store.vector_index(client, index_name, DIM + 1)
        with pytest.raises(ConfigError):
            store.text_index(queried)
    finally:
        store.index_reset(client, index_name)
        client.close()


def test_ingest_and_search_through_the_runtime(tmp_path: Path) -> None:
    try:
        from workbench import api
        from workbench.config import resolve_config
    except ImportError as error:
        pytest.skip(f"the runtime does not import now ({error}); the store tests above cover the module")
    registered_here = "qdrant" not in STORES
    if registered_here:
        STORES.register(BackendSpec(
            name="qdrant", label="Qdrant", module="dataflows.stores.qdrant",
            settings=(SettingField("path", "Qdrant folder (local mode)", "{data_dir}/qdrant"),
                      SettingField("url", "Qdrant server URL (empty: local mode)", "")),
            api_key=ApiKey("qdrant_api_key", "QDRANT_API_KEY", "Qdrant", required=False),
            capabilities=frozenset({EMBEDDED, OFFLINE}),
        ))
    folder = tmp_path / "data" / "qdrant"
    config = {"source": "files", "vector_db": "qdrant", "data_dir": str(tmp_path / "data"), "index_name": "q",
              "vector_db_config": {"path": str(folder)}}
    try:
        try:
            resolve_config(config)
        except ConfigError as error:
            pytest.skip(f"the runtime does not accept vector_db 'qdrant' yet ({error})")
        files = [InputFile(name="a.txt", data=b"Qdrant is a vector database written in Rust. " * 20),
                 InputFile(name="b.txt", data=b"Bananas are yellow fruit that grow in bunches. " * 20)]
        record = api.ingest(config, files=files)
        assert record["status"] == "succeeded" and record["counts"]["written"] > 0
        again = api.ingest(config, files=files)
        assert again["counts"]["written"] == 0 and again["counts"]["skipped_unchanged"] == record["counts"]["written"]
        hits = api.search(config, "Which fruit is yellow?")["hits"]
        assert hits[0]["source_name"] == "b.txt" and -1.0 <= hits[0]["score"] <= 1.0
        assert api.index_state(config)["rows"] == record["counts"]["written"]
        with pytest.raises(ConfigError, match="dense-only"):
            api.search({**config, "retrieval_mode": "hybrid"}, "Which fruit is yellow?")
    finally:
        if registered_here:
            STORES.unregister("qdrant")
        store.store_client({"path": str(folder)}).close()
