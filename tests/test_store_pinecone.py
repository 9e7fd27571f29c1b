"""The Pinecone store module, driven through the real `pinecone` SDK against an in-process fake.

The fake (tests/fakes/pinecone_fake.py) speaks Pinecone's REST API; the SDK's retry backoff
sleep is patched to nothing so retried failures stay fast. The last test runs against real
Pinecone when PINECONE_API_KEY is set.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import numpy as np
import pytest
from hamilton import driver, telemetry

from dataflows.stores import lancedb as reference_store
from dataflows.stores import pinecone as store
from ragkit.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    MissingApiKeyError,
    StoreUnavailableError,
)
from ragkit.schema import STORED_FIELDS, Document, Progress, sha256_hex
from tests.conftest import free_port
from tests.fakes import fixtures
from tests.fakes.pinecone_fake import METADATA_LIMIT, PineconeFake

telemetry.disable_telemetry()

DIM = 8
INT_FIELDS = ("page", "chunk_index", "char_start", "char_end", "dimension")
# The store contract: every public node of the reference LanceDB module (dataflows/stores/__init__.py).
NODES = {
    name for name, fn in vars(reference_store).items()
    if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", "") == reference_store.__name__
}


pinecone_fake = fixtures.pinecone_fake


@pytest.fixture
def fake(pinecone_fake: PineconeFake) -> PineconeFake:
    """A running fake; the SDK keeps its retry policy but does not sleep between attempts."""
    return pinecone_fake


@pytest.fixture
def config(fake: PineconeFake) -> dict:
    return {"host": fake.url, "namespace": "ns-test", "cloud": "aws", "region": "eu-west-1"}


@pytest.fixture
def client(fake: PineconeFake, config: dict):
    pc = store.store_client(config, fake.api_key)
    yield pc
    pc.close()


def make_chunks(doc_ids: list[str], per_doc: int, run_id: str = "run-1", dim: int = DIM, seed: int = 0,
                text: str | None = None) -> tuple[list[dict], np.ndarray]:
    """Chunk records with every stored field, and float32 unit vectors, one per record."""
    rng = np.random.default_rng(seed)
    records = []
    for doc_id in doc_ids:
        for index in range(per_doc):
            body = text if text is not None else f"Chunk {index} of {doc_id}: some text, «ünïcödé» ✓."
            records.append({
                "chunk_id": f"{doc_id}-{sha256_hex(doc_id, run_id, str(index))[:16]}",
                "document_id": doc_id,
                "source_kind": "upload",
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
                "question_ids": [f"q-{doc_id}-{index}"] if index % 2 == 0 else [],
            })
    vectors = rng.normal(size=(len(records), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert set(records[0]) == set(STORED_FIELDS)
    return records, vectors


def doc_ids(count: int) -> list[str]:
    return [Document.id_for("upload", f"file-{number}.pdf") for number in range(count)]


def test_index_lifecycle_through_the_fake(fake: PineconeFake, client) -> None:
    docs = doc_ids(3)
    records, vectors = make_chunks(docs, per_doc=4)
    target = store.vector_index(client, "Docs_Test", DIM)

    created = fake.indexes["docs-test"]
    assert (created.dimension, created.metric, created.cloud, created.region) == (DIM, "cosine", "aws", "eu-west-1")

    calls: list[tuple[str, int, int]] = []
    written = store.written_chunk_ids(target, records, vectors, Progress(lambda *a: calls.append(a)), 5)
    assert written == [r["chunk_id"] for r in records]
    assert calls == [("written_chunk_ids", n, 12) for n in (0, 5, 10, 12)]
    assert fake.count("POST", "/vectors/upsert") == 3
    stored = fake.vectors("docs-test", "ns-test")
    # the text is stored once: indexed_text (header + text) as its header only
    assert set(stored[records[0]["chunk_id"]]["metadata"]) == set(STORED_FIELDS) - {"chunk_id", "indexed_text"} | {"indexed_header"}
    assert isinstance(stored[records[0]["chunk_id"]]["metadata"]["page"], float)  # as Pinecone returns them

    queried = store.existing_index(client, "Docs_Test")
    assert store.chunk_count(queried) == 12
    store.written_chunk_ids(target, records, vectors, Progress(), 100)  # same ids: an upsert, not new rows
    assert store.chunk_count(queried) == 12

    unknown = "0" * 16
    found = store.stored_chunk_ids(target, docs + [unknown])
    assert found == {**{d: {r["chunk_id"] for r in records if r["document_id"] == d} for d in docs}, unknown: set()}

    hits = store.search_hits(queried, vectors[5], top_k=4)
    assert len(hits) == 4
    assert hits[0]["chunk_id"] == records[5]["chunk_id"]
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    for hit in hits:
        assert set(hit) == set(STORED_FIELDS) | {"score"}
        assert all(type(hit[name]) is int for name in INT_FIELDS)
        assert isinstance(hit["question_ids"], list)
    assert {k: hits[0][k] for k in STORED_FIELDS} == records[5]
    no_questions = next(h for h in hits if h["chunk_index"] % 2 == 1) if any(
        h["chunk_index"] % 2 for h in hits) else None
    if no_questions is not None:
        assert no_questions["question_ids"] == []

    stale = [r["chunk_id"] for r in records if r["document_id"] == docs[0]][:2]
    assert store.deleted_chunk_ids(target, stale, written) == stale
    assert store.chunk_count(queried) == 10
    assert not set(stale) & store.stored_chunk_ids(target, [docs[0]])[docs[0]]

    assert store.deleted_document_count(target, [docs[1]]) == 4
    assert store.chunk_count(queried) == 6
    assert store.stored_chunk_ids(target, [docs[1]]) == {docs[1]: set()}

    run2_records, run2_vectors = make_chunks([docs[2]], per_doc=2, run_id="run-2", seed=1)
    store.written_chunk_ids(target, run2_records, run2_vectors, Progress(), 100)
    run2 = store.run_chunks(queried, "run-2")
    assert sorted(r["chunk_id"] for r in run2) == sorted(r["chunk_id"] for r in run2_records)
    assert all(set(r) == set(STORED_FIELDS) and type(r["page"]) is int for r in run2)
    run1 = store.run_chunks(queried, "run-1", run_chunk_limit=3)
    assert len(run1) == 3 and {r["run_id"] for r in run1} == {"run-1"}

    assert store.index_reset(client, "Docs_Test") is True
    assert store.chunk_count(queried) == 0
    assert "docs-test" in fake.indexes  # the vectors of the namespace go, the index stays
    assert store.index_reset(client, "Docs_Test") is False
    assert store.index_reset(client, "never-created") is False


def test_listing_ids_pages_through_prefix_and_full_listings(fake: PineconeFake, client) -> None:
    big, small = doc_ids(2)
    records, vectors = make_chunks([big], per_doc=120)
    more, more_vectors = make_chunks([small], per_doc=30, seed=2)
    target = store.vector_index(client, "paged", DIM)
    assert store.stored_chunk_ids(target, [big, small]) == {big: set(), small: set()}
    assert fake.count("GET", "/vectors/list") == 0  # an empty namespace needs no listing

    store.written_chunk_ids(target, records + more, np.vstack([vectors, more_vectors]), Progress())
    expected = {big: {r["chunk_id"] for r in records}, small: {r["chunk_id"] for r in more}}
    assert store.stored_chunk_ids(target, [big]) == {big: expected[big]}  # by prefix, two pages
    assert fake.count("GET", "/vectors/list") == 2
    assert store.stored_chunk_ids(target, [big, small]) == expected  # one pass over all 150 ids
    assert fake.count("GET", "/vectors/list") == 4
    assert store.deleted_document_count(target, [big]) == 120
    assert store.chunk_count(target) == 30


def test_existing_index_must_exist(client) -> None:
    with pytest.raises(IndexNotFoundError, match="Pinecone has no index 'missing-index'"):
        store.existing_index(client, "missing_index")


def test_existing_index_with_another_dimension_or_metric_is_a_mismatch(fake: PineconeFake, client) -> None:
    fake.add_index("wide", dimension=16)
    with pytest.raises(IndexMismatchError, match="16-dimensional"):
        store.vector_index(client, "wide", DIM)
    fake.add_index("dots", dimension=DIM, metric="dotproduct")
    with pytest.raises(IndexMismatchError, match="dotproduct"):
        store.vector_index(client, "dots", DIM)
    assert fake.count("POST", "/indexes") == 0  # an existing index is never recreated
    assert store.vector_index(client, "wide", 16).name == "wide"


def test_missing_key_and_rejected_key(fake: PineconeFake, config: dict) -> None:
    for empty in ("", "   "):
        with pytest.raises(MissingApiKeyError, match="PINECONE_API_KEY"):
            store.store_client(config, empty)

    secret = "pcsk_wrong_secret_0123456789"
    wrong = store.store_client(config, secret)
    with pytest.raises(StoreUnavailableError) as caught:
        store.vector_index(wrong, "docs", DIM)
    message = str(caught.value)
    assert "Pinecone" in message and "401" in message and "PINECONE_API_KEY" in message
    assert secret not in message and secret not in repr(wrong)
    assert fake.count("GET", "/indexes/docs") == 1  # 401 is not retried


def test_unreachable_host_is_store_unavailable(config: dict) -> None:
    # `config` (through `fake`) patches out the retry sleep, so the SDK's retries are instant.
    closed = {**config, "host": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(StoreUnavailableError, match="Pinecone cannot be reached"):
        store.existing_index(store.store_client(closed, "some-key"), "docs")


def test_long_text_is_truncated_to_fit_the_metadata_limit(fake: PineconeFake, client) -> None:
    text = ('Ünïcödé "quoted" \\ ✓ 漢字 😀 ' * 4000)  # ~100 KB in UTF-8, with JSON escapes
    assert len(text.encode("utf-8")) > 100_000
    long_records, vectors = make_chunks(doc_ids(1), per_doc=1, text=text)
    short_records, short_vectors = make_chunks(doc_ids(2)[1:], per_doc=1, seed=3)
    target = store.vector_index(client, "long", DIM)
    store.written_chunk_ids(target, long_records + short_records, np.vstack([vectors, short_vectors]), Progress())

    stored = fake.vectors("long", "ns-test")
    metadata = stored[long_records[0]["chunk_id"]]["metadata"]
    as_sent = {k: int(v) if k in INT_FIELDS else v for k, v in metadata.items()}  # the fake keeps floats
    encoded = json.dumps(as_sent, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert len(encoded) <= 39_000 < METADATA_LIMIT
    assert len(encoded) > 38_000  # cut close to the budget, not far below it
    assert metadata["text_truncated"] is True
    assert text.startswith(metadata["text"]) and metadata["text"]
    metadata["text"].encode("utf-8")  # whole characters only: valid UTF-8
    assert "text_truncated" not in stored[short_records[0]["chunk_id"]]["metadata"]

    hit = store.search_hits(target, vectors[0], top_k=1)[0]
    assert hit["text"] == metadata["text"] and "text_truncated" not in hit


def test_upserts_are_cut_to_fit_the_request_size_limit(fake: PineconeFake, client) -> None:
    records, vectors = make_chunks(doc_ids(2), per_doc=60, dim=1536)  # ~4 MB of JSON in all
    target = store.vector_index(client, "wide-vectors", 1536)
    written = store.written_chunk_ids(target, records, vectors, Progress(), 100)
    assert len(written) == 120 and len(fake.vectors("wide-vectors", "ns-test")) == 120
    assert fake.count("POST", "/vectors/upsert") >= 3  # the fake rejects any request over 2 MB


def test_persistent_503_names_what_was_written(fake: PineconeFake, client) -> None:
    records, vectors = make_chunks(doc_ids(3), per_doc=4)
    target = store.vector_index(client, "flaky", DIM)
    fake.fail(503, times=None, path="/vectors/upsert", skip=1)
    with pytest.raises(StoreUnavailableError) as caught:
        store.written_chunk_ids(target, records, vectors, Progress(), 5)
    message = str(caught.value)
    assert "Pinecone" in message and "after 5 of 12 chunks were written" in message and "503" in message
    # The SDK retries a 503 three times (four attempts) before giving up.
    assert fake.count("POST", "/vectors/upsert") == 1 + 4


def test_single_503_is_retried_by_the_sdk(fake: PineconeFake, client) -> None:
    records, vectors = make_chunks(doc_ids(3), per_doc=4)
    target = store.vector_index(client, "flaky", DIM)
    fake.fail(503, times=1, path="/vectors/upsert")
    written = store.written_chunk_ids(target, records, vectors, Progress(), 5)
    assert len(written) == 12 and len(fake.vectors("flaky", "ns-test")) == 12
    assert fake.count("POST", "/vectors/upsert") == 3 + 1


def test_module_resolves_as_a_hamilton_dag(fake: PineconeFake, config: dict) -> None:
    records, vectors = make_chunks(doc_ids(2), per_doc=3)
    dr = driver.Builder().with_modules(store).build()
    computed = {v.name for v in dr.list_available_variables() if not v.is_external_input}
    assert computed == NODES  # private helpers are not nodes
    assert all(v.documentation for v in dr.list_available_variables() if v.name in NODES)

    inputs = {"vector_db_config": config, "pinecone_api_key": fake.api_key, "index_name": "dag-index",
              "embedding_dimension": DIM, "chunk_records": records, "chunk_vectors": vectors,
              "progress": Progress(), "document_ids": [r["document_id"] for r in records]}
    written = dr.execute(["written_chunk_ids", "store_location"], inputs=inputs)
    assert len(written["written_chunk_ids"]) == 6
    assert written["store_location"] == f"pinecone:ns-test@{fake.url}"

    query = {"vector_db_config": config, "pinecone_api_key": fake.api_key, "index_name": "dag-index",
             "query_vector": vectors[2], "top_k": 2, "document_ids": [records[0]["document_id"]]}
    result = dr.execute(["chunk_count", "search_hits", "stored_chunk_ids"], inputs={**query, "embedding_dimension": DIM})
    assert result["chunk_count"] == 6
    assert result["search_hits"][0]["chunk_id"] == records[2]["chunk_id"]
    assert result["stored_chunk_ids"][records[0]["document_id"]] == {r["chunk_id"] for r in records[:3]}


def test_index_names_and_location() -> None:
    assert store._pinecone_index_name("My_Docs.v2") == "my-docs-v2"
    long_a, long_b = "a" * 60 + "x", "a" * 60 + "y"
    name_a, name_b = store._pinecone_index_name(long_a), store._pinecone_index_name(long_b)
    assert len(name_a) <= 45 and len(name_b) <= 45 and name_a != name_b
    assert store.store_location({}) in ("pinecone:default", f"pinecone:default@{os.environ.get('PINECONE_CONTROLLER_HOST')}")
    location = store.store_location({"namespace": "n", "host": "https://user:hunter2@gw.example.com"})
    assert location == "pinecone:n@https://gw.example.com"


@pytest.mark.skipif(not os.environ.get("PINECONE_API_KEY"), reason="PINECONE_API_KEY not set: no real Pinecone to test against")
def test_against_real_pinecone() -> None:
    index_name = os.environ.get("PINECONE_TEST_INDEX", "workbench-pytest")
    config = {"namespace": f"pytest-{uuid.uuid4().hex[:12]}"}
    client = store.store_client(config, os.environ["PINECONE_API_KEY"])
    created = not client.indexes.exists(store._pinecone_index_name(index_name))
    docs = doc_ids(2)
    records, vectors = make_chunks(docs, per_doc=3, run_id=f"run-{uuid.uuid4().hex[:8]}")

    def eventually(check, seconds: float = 90.0):
        deadline = time.monotonic() + seconds
        while True:
            value = check()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(2)

    try:
        target = store.vector_index(client, index_name, DIM)
        assert store.written_chunk_ids(target, records, vectors, Progress(), 4) == [r["chunk_id"] for r in records]
        queried = store.existing_index(client, index_name)
        assert eventually(lambda: store.chunk_count(queried) == 6)
        assert eventually(lambda: len(store.stored_chunk_ids(target, docs)[docs[0]]) == 3)
        hits = store.search_hits(queried, vectors[1], top_k=3)
        assert hits[0]["chunk_id"] == records[1]["chunk_id"] and type(hits[0]["page"]) is int
        assert {k: hits[0][k] for k in STORED_FIELDS} == records[1]
        assert eventually(lambda: len(store.run_chunks(queried, records[0]["run_id"])) == 6)
        assert store.deleted_document_count(target, [docs[1]]) == 3
        assert eventually(lambda: store.chunk_count(queried) == 3)
    finally:
        store.index_reset(client, index_name)
        if created:
            client.indexes.delete(store._pinecone_index_name(index_name), timeout=120)
        client.close()
