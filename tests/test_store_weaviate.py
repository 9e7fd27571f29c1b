"""The Weaviate store module, driven through the official client against an in-process fake.

The fake (tests/fakes/weaviate_fake.py) answers the REST and gRPC calls weaviate-client v4
makes; `test_real_weaviate` runs the same flow against a real server when WEAVIATE_URL is set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import weaviate
from hamilton import driver
from weaviate.util import generate_uuid5

import dataflows.stores.weaviate as store
from ragkit.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    MissingApiKeyError,
    StoreUnavailableError,
)
from ragkit.schema import STORED_FIELDS, Progress
from tests.conftest import REPO, free_port
from tests.fakes.weaviate_fake import FakeWeaviate

DIM = 8
INDEX = "test-index"
INT_FIELDS = ("page", "chunk_index", "char_start", "char_end", "dimension")


def _records() -> list[dict]:
    """Five chunks of three documents; doc-c was written by another run."""
    layout = [("doc-a", 0), ("doc-a", 1), ("doc-b", 0), ("doc-b", 1), ("doc-c", 0)]
    records = []
    for position, (doc_id, chunk_index) in enumerate(layout):
        records.append({
            "chunk_id": f"{doc_id}-{chunk_index}",
            "document_id": doc_id,
            "source_kind": "upload",
            "source_name": f"{doc_id}.txt",
            "title": f"Title of {doc_id}",
            "page": chunk_index + 1,
            "chunk_index": chunk_index,
            "char_start": 100 * chunk_index,
            "char_end": 100 * chunk_index + 99,
            "content_hash": f"hash-{position}",
            "embedding_service": "fake",
            "model_name": "fake-model",
            "dimension": DIM,
            "run_id": "run-2" if doc_id == "doc-c" else "run-1",
            "ingested_at": "2024-05-01T12:00:00+00:00",
            "text": f"Text of chunk {chunk_index} of {doc_id}.",
            "section": f"Part {chunk_index}",
            "indexed_text": f"Title of {doc_id} › Part {chunk_index}\n\nText of chunk {chunk_index} of {doc_id}.",
            "question_ids": ["q-1", "q-2"] if doc_id == "doc-b" else [],
        })
    assert all(set(record) == set(STORED_FIELDS) for record in records)
    return records


def _vectors(count: int, dim: int = DIM, seed: int = 7) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def fake():
    with FakeWeaviate() as server:
        yield server


@pytest.fixture
def config(fake: FakeWeaviate) -> dict:
    return {"url": fake.url, "grpc_port": fake.grpc_port}


@pytest.fixture
def client(config: dict):
    connected = store.store_client(config, "")
    yield connected
    connected.close()


def _execute(outputs: list[str], client, **inputs) -> dict:
    """Run nodes of the module through a Hamilton driver, reusing the test's client."""
    dr = driver.Builder().with_modules(store).build()
    return dr.execute(outputs, inputs=inputs, overrides={"store_client": client})


def test_ingest_search_delete_reset_through_the_fake(fake, config, client, monkeypatch):
    records, vectors = _records(), _vectors(5)
    steps: list[tuple[str, int, int]] = []
    common = {"vector_db_config": config, "weaviate_api_key": "", "index_name": INDEX}

    result = _execute(
        ["store_location", "vector_index", "written_chunk_ids"], client, **common,
        embedding_dimension=DIM, chunk_records=records, chunk_vectors=vectors,
        progress=Progress(lambda *step: steps.append(step)), upsert_batch_size=2,
    )
    all_ids = [r["chunk_id"] for r in records]
    assert result["store_location"] == f"weaviate:{fake.url}"
    assert result["written_chunk_ids"] == all_ids
    assert steps == [("written_chunk_ids", done, 5) for done in (0, 2, 4, 5)]
    assert list(fake.schemas) == ["Test_index"]
    assert _execute(["chunk_count"], client, **common)["chunk_count"] == 5

    # Writing the same chunks again replaces them: same deterministic UUIDs, same count.
    index = store.vector_index(client, INDEX, DIM)
    assert store.written_chunk_ids(index, records, vectors, Progress(), 3) == all_ids
    assert store.chunk_count(index) == 5
    assert set(fake.objects["Test_index"]) == {generate_uuid5(chunk_id) for chunk_id in all_ids}

    # Small pages and filter groups, so the keyset paging and the id grouping both run.
    monkeypatch.setattr(store, "_PAGE_SIZE", 1)
    monkeypatch.setattr(store, "_FILTER_VALUES_LIMIT", 2)
    assert store.stored_chunk_ids(index, ["doc-a", "doc-b", "doc-c", "doc-missing"]) == {
        "doc-a": {"doc-a-0", "doc-a-1"},
        "doc-b": {"doc-b-0", "doc-b-1"},
        "doc-c": {"doc-c-0"},
        "doc-missing": set(),
    }

    query = vectors[3] + 0.05 * _vectors(1, seed=99)[0]
    hits = _execute(["search_hits"], client, **common, query_vector=query, top_k=3)["search_hits"]
    assert hits[0]["chunk_id"] == "doc-b-1"
    assert len(hits) == 3
    assert set(hits[0]) == set(STORED_FIELDS) | {"score"}
    assert {k: v for k, v in hits[0].items() if k != "score"} == records[3]
    assert all(type(hits[0][name]) is int for name in INT_FIELDS)
    assert hits[0]["question_ids"] == ["q-1", "q-2"]
    expected = sorted((float(np.dot(query, v) / np.linalg.norm(query)) for v in vectors), reverse=True)[:3]
    assert [hit["score"] for hit in hits] == pytest.approx(expected, abs=1e-5)

    assert store.deleted_chunk_ids(index, ["doc-a-1"], all_ids) == ["doc-a-1"]
    assert store.chunk_count(index) == 4
    assert store.stored_chunk_ids(index, ["doc-a"]) == {"doc-a": {"doc-a-0"}}
    assert store.deleted_document_count(index, ["doc-b", "doc-missing"]) == 2
    assert store.chunk_count(index) == 2

    run_rows = store.run_chunks(index, "run-2", 200)
    assert run_rows == [records[4]]
    assert len(store.run_chunks(index, "run-1", 200)) == 1
    assert store.run_chunks(index, "run-3", 200) == []

    assert _execute(["index_reset"], client, **common)["index_reset"] is True
    assert store.index_reset(client, INDEX) is False
    with pytest.raises(IndexNotFoundError, match="test-index"):
        store.existing_index(client, INDEX)
    assert fake.unknown == []


def test_existing_collection_with_another_dimension_is_a_mismatch(client):
    index = store.vector_index(client, INDEX, DIM)
    store.written_chunk_ids(index, _records()[:1], _vectors(1), Progress(), 200)
    assert store.vector_index(client, INDEX, DIM).name == "Test_index"  # same dimension: fine
    with pytest.raises(IndexMismatchError, match=r"8-dimensional.*gives 4"):
        store.vector_index(client, INDEX, 4)


@pytest.mark.parametrize("api_key", ["", "sk-weaviate-secret-123"])
def test_refused_connection_names_the_url_quickly_and_hides_the_key(api_key):
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as raised:
        store.store_client({"url": url, "grpc_port": free_port()}, api_key)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert url in message and "not reachable" in message
    assert "secret" not in message


def test_closed_grpc_port_names_the_grpc_address(config):
    grpc_port = free_port()
    with pytest.raises(StoreUnavailableError, match=f"gRPC API at 127.0.0.1:{grpc_port}"):
        store.store_client({**config, "grpc_port": grpc_port}, "")


def test_wrong_api_key_is_refused_without_echoing_it():
    with FakeWeaviate(api_key="the-right-key") as server:
        config = {"url": server.url, "grpc_port": server.grpc_port}
        with pytest.raises(StoreUnavailableError, match="refused the credentials") as raised:
            store.store_client(config, "a-wrong-key")
        assert "a-wrong-key" not in str(raised.value)
        store.store_client(config, "the-right-key").close()


def test_one_client_per_server_and_key_is_shared_and_a_closed_one_is_replaced(config, monkeypatch):
    connects: list[str] = []
    connect = weaviate.connect_to_local
    monkeypatch.setattr(weaviate, "connect_to_local", lambda **settings: connects.append(settings["port"]) or connect(**settings))
    first = store.store_client(config, "")
    assert store.store_client(dict(config), "") is first and len(connects) == 1  # runs share the connection
    first.close()  # closed by someone: not handed out again
    second = store.store_client(config, "")
    assert second is not first and second.is_connected() and len(connects) == 2
    assert store.store_client(config, "") is second


def test_a_kept_client_whose_server_stopped_is_not_handed_out():
    with FakeWeaviate() as server:
        config = {"url": server.url, "grpc_port": server.grpc_port}
        assert store.store_client(config, "").is_connected()
    with pytest.raises(StoreUnavailableError, match=f"Weaviate at {re.escape(server.url)} is not reachable"):
        store.store_client(config, "")


def test_runs_of_one_process_open_one_connection_and_close_it_at_exit(tmp_path):
    """Three ingests, a listing and a search in one process: one connection, closed before the interpreter
    tears down (each run's own client used to be left to the garbage collector, with a ResourceWarning)."""
    script = f"""
import warnings
warnings.simplefilter("default")
import weaviate
from tests.fakes.weaviate_fake import FakeWeaviate
from workbench import api
connect, connects = weaviate.connect_to_local, []
weaviate.connect_to_local = lambda **settings: connects.append(1) or connect(**settings)
(docs := __import__("pathlib").Path({str(tmp_path)!r}) / "docs").mkdir()
(docs / "etna.txt").write_text("Mount Etna is an active volcano on the east coast of Sicily. " * 4)
server = FakeWeaviate().start()
config = {{"source": "files", "data_dir": str(docs.parent / "data"), "index_name": "kept", "vector_db": "weaviate",
          "vector_db_config": {{"url": server.url, "grpc_port": server.grpc_port}},
          "file_paths": [str(docs / "etna.txt")], "ingest_root": str(docs.parent)}}
for _ in range(3):
    api.ingest(config, api_keys={{"weaviate_api_key": ""}})
api.documents(config, api_keys={{"weaviate_api_key": ""}})
assert api.search(config, "Etna", api_keys={{"weaviate_api_key": ""}})["hits"]
print("connections made:", len(connects))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "connections made: 1" in done.stdout
    assert "not closed" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-3000:]


@pytest.mark.parametrize("accepted", [3, 2], ids=["part-of-a-batch-fails", "a-whole-batch-fails"])
def test_failed_objects_stop_the_write_and_report_what_was_written(fake, client, accepted):
    records, vectors = _records(), _vectors(5)
    index = store.vector_index(client, INDEX, DIM)
    fake.accept_objects = accepted
    with pytest.raises(StoreUnavailableError, match=f"Weaviate.*after {accepted} of 5 chunks") as raised:
        store.written_chunk_ids(index, records, vectors, Progress(), 2)
    assert "disk usage too high" in str(raised.value)
    assert raised.value.written_chunk_ids == [r["chunk_id"] for r in records[:accepted]]
    assert len(fake.objects["Test_index"]) == accepted


def test_collection_name():
    assert store._collection_name("docs") == "Docs"
    assert store._collection_name("my-index") == "My_index"
    assert store._collection_name("squad v2.0") == "Squad_v2_0"
    assert store._collection_name("Already_Fine_1") == "Already_Fine_1"
    assert store._collection_name("2024-reports") == "Index_2024_reports"
    for name in ("docs", "my-index", "squad v2.0", "2024-reports", "ünïcode", "_x"):
        assert re.fullmatch(r"[A-Z][_0-9A-Za-z]*", store._collection_name(name))


def test_cloud_hosts_use_weaviate_cloud_and_need_a_key(monkeypatch):
    calls = []
    monkeypatch.setattr(store.weaviate, "connect_to_weaviate_cloud", lambda **kw: calls.append(kw) or "client")
    url = "https://abc123.c0.europe-west3.gcp.weaviate.cloud"
    assert store.store_client({"url": url}, "cloud-key") == "client"
    assert calls[0]["cluster_url"] == url and calls[0]["auth_credentials"].api_key == "cloud-key"
    assert store.store_location({"url": url}) == f"weaviate:{url}"
    with pytest.raises(MissingApiKeyError, match="WEAVIATE_API_KEY"):
        store.store_client({"url": url}, "")


@pytest.mark.skipif(not os.environ.get("WEAVIATE_URL"), reason="WEAVIATE_URL not set: no real Weaviate to test against")
def test_real_weaviate(monkeypatch):
    config = {"url": os.environ["WEAVIATE_URL"]}
    if os.environ.get("WEAVIATE_GRPC_PORT"):
        config["grpc_port"] = int(os.environ["WEAVIATE_GRPC_PORT"])
    index_name = f"workbench_test_{uuid.uuid4().hex[:10]}"
    records, vectors = _records(), _vectors(5)
    client = store.store_client(config, os.environ.get("WEAVIATE_API_KEY", ""))
    try:
        index = store.vector_index(client, index_name, DIM)
        assert store.written_chunk_ids(index, records, vectors, Progress(), 2) == [r["chunk_id"] for r in records]
        assert store.written_chunk_ids(index, records, vectors, Progress(), 5) == [r["chunk_id"] for r in records]
        assert store.chunk_count(index) == 5
        with pytest.raises(IndexMismatchError):
            store.vector_index(client, index_name, DIM * 2)
        monkeypatch.setattr(store, "_PAGE_SIZE", 1)
        assert store.stored_chunk_ids(index, ["doc-a", "doc-c"]) == {"doc-a": {"doc-a-0", "doc-a-1"}, "doc-c": {"doc-c-0"}}
        hits = store.search_hits(store.existing_index(client, index_name), vectors[2], 2)
        assert hits[0]["chunk_id"] == "doc-b-0" and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
        assert {k: v for k, v in hits[0].items() if k != "score"} == records[2]
        assert store.deleted_chunk_ids(index, ["doc-a-1"], []) == ["doc-a-1"]
        assert store.deleted_document_count(index, ["doc-b"]) == 2
        assert store.chunk_count(index) == 2
        assert [row["chunk_id"] for row in store.run_chunks(index, "run-2", 10)] == ["doc-c-0"]
    finally:
        assert store.index_reset(client, index_name) is True
        client.close()
