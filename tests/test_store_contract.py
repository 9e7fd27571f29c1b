"""The store contract: every registered store passes the same behaviour tests, through the runtime's own flow builder.

Registering a store in `dataflows.stores.STORES` enrols it here. An embedded store (capability
`embedded`: LanceDB, Qdrant local mode) runs for real in a fresh folder; a hosted one runs against its
local fake (LOCAL_FAKES below), driven through its official client. A registered store that is neither
fails here until it has a fake, so no store escapes the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hamilton import telemetry

from dataflows.stores import STORES
from ragkit.backends import EMBEDDED, HYBRID, LEXICAL, NAMESPACES
from ragkit.errors import ConfigError, IndexMismatchError, IndexNotFoundError
from ragkit.schema import STORED_FIELDS, Progress, sha256_hex
from tests.fakes import fixtures
from workbench import api

telemetry.disable_telemetry()

DIM = 8
INT_FIELDS = ("page", "chunk_index", "char_start", "char_end", "dimension")
weaviate_fake = fixtures.weaviate_fake
pinecone_fake = fixtures.pinecone_fake


@dataclass
class Harness:
    """A store under test: the config that points at it, its API keys, and the client opened once for the test."""

    config: dict[str, Any]
    api_keys: dict[str, str] = field(default_factory=dict)
    handles: dict[str, Any] = field(default_factory=dict)

    def run(self, outputs: list[str], **inputs: Any) -> dict[str, Any]:
        """Run nodes of the store's module through the runtime's flow builder, reusing one client."""
        dr = api.driver_for(self.config, "store")
        nodes = {variable.name for variable in dr.list_available_variables() if not variable.is_external_input}
        every = {**self.api_keys, "progress": Progress(), **{k: v for k, v in inputs.items() if k not in nodes}}
        if "store_client" not in self.handles:
            self.handles.update(dr.execute(["store_client"], inputs=every))
        overrides = {**self.handles, **{k: v for k, v in inputs.items() if k in nodes}}  # a node's value given: an override
        return dr.execute(outputs, inputs=every, overrides=overrides)

    def index(self, dimension: int = DIM) -> Any:
        return self.run(["vector_index"], embedding_dimension=dimension)["vector_index"]

    def existing(self) -> Any:
        return self.run(["existing_index"])["existing_index"]


def _weaviate(request: pytest.FixtureRequest) -> Harness:
    fake = request.getfixturevalue("weaviate_fake")
    return Harness({"vector_db": "weaviate", "vector_db_config": {"url": fake.url, "grpc_port": fake.grpc_port}},
                   {"weaviate_api_key": ""})


def _pinecone(request: pytest.FixtureRequest) -> Harness:
    fake = request.getfixturevalue("pinecone_fake")
    return Harness({"vector_db": "pinecone", "vector_db_config": {"host": fake.url, "namespace": "contract"}},
                   {"pinecone_api_key": fake.api_key})


LOCAL_FAKES: dict[str, Callable[[pytest.FixtureRequest], Harness]] = {"weaviate": _weaviate, "pinecone": _pinecone}
# What a local fake does not serve (the real-service tests cover it when a URL or key is set).
FAKE_GAPS = {"weaviate": {LEXICAL: "the Weaviate fake speaks gRPC near-vector search only, not BM25 or hybrid"}}


@pytest.fixture(params=STORES.names())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    name = request.param
    spec = STORES.get(name)
    if spec.has(EMBEDDED):
        harness = Harness({"vector_db": name})
    elif name in LOCAL_FAKES:
        harness = LOCAL_FAKES[name](request)
    else:
        pytest.fail(f"store {name!r} is registered but is neither embedded nor has a local fake: add one to LOCAL_FAKES")
    harness.config.update(data_dir=str(tmp_path / "data"), index_name="contract_index")
    yield harness
    client = harness.handles.get("store_client")
    if hasattr(client, "close"):
        client.close()


def _records(layout: list[tuple[str, int]], run_id: str = "run-1", text: Callable[[str, int], str] | None = None) -> list[dict]:
    """Chunk records with every stored field (ints, a list, non-ASCII text), one per (document, chunk index)."""
    records = []
    for position, (doc_id, chunk_index) in enumerate(layout):
        body = text(doc_id, chunk_index) if text else f"Chunk {chunk_index} of {doc_id}: «ünïcödé» text ✓."
        records.append({
            "chunk_id": f"{doc_id}-{sha256_hex(doc_id, run_id, str(chunk_index))[:16]}",  # the product's id form
            "document_id": doc_id,
            "source_kind": "squad" if doc_id == "doc-b" else "upload",
            "source_name": f"{doc_id}.txt",
            "title": f"Title of {doc_id}",
            "section": f"Part {chunk_index} \u203a Überblick" if chunk_index else "",
            "page": chunk_index + 1,
            "chunk_index": chunk_index,
            "char_start": 100 * chunk_index,
            "char_end": 100 * chunk_index + len(body),
            "content_hash": f"hash-{position}-{run_id}",
            "embedding_service": "fake",
            "model_name": "fake-model",
            "dimension": DIM,
            "run_id": run_id,
            "ingested_at": "2024-05-01T12:00:00+00:00",
            "text": body,
            "indexed_text": f"Title of {doc_id} \u203a Part {chunk_index}\n\n{body}",  # what was embedded: header + text
            "question_ids": [f"q-{doc_id}-{chunk_index}"] if doc_id == "doc-b" else [],
        })
    assert all(set(record) == set(STORED_FIELDS) for record in records)
    return records


def _vectors(count: int, seed: int = 7) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


LAYOUT = [("doc-a", 0), ("doc-a", 1), ("doc-a", 2), ("doc-b", 0), ("doc-b", 1), ("doc-c", 0)]


def _write(store: Harness, records: list[dict], vectors: np.ndarray, batch: int = 2) -> list[str]:
    index = store.index()
    return store.run(["written_chunk_ids"], embedding_dimension=DIM, chunk_records=records, chunk_vectors=vectors,
                     upsert_batch_size=batch, vector_index=index)["written_chunk_ids"]


def _stored(store: Harness, doc_ids: list[str]) -> dict[str, set[str]]:
    return store.run(["stored_chunk_ids"], embedding_dimension=DIM, document_ids=doc_ids)["stored_chunk_ids"]


def _count(store: Harness) -> int:
    return store.run(["chunk_count"])["chunk_count"]


def test_upsert_is_idempotent_and_reports_progress(store):
    records, vectors = _records(LAYOUT), _vectors(len(LAYOUT))
    steps: list[tuple[str, int, int]] = []
    index = store.index()
    written = store.run(["written_chunk_ids"], embedding_dimension=DIM, chunk_records=records, chunk_vectors=vectors,
                        upsert_batch_size=4, vector_index=index, progress=Progress(lambda *step: steps.append(step)))
    assert written["written_chunk_ids"] == [r["chunk_id"] for r in records]
    assert steps[0] == ("written_chunk_ids", 0, 6) and steps[-1] == ("written_chunk_ids", 6, 6)
    assert _count(store) == 6
    _write(store, records, vectors, batch=100)  # the same ids again: upserted, not added
    assert _count(store) == 6
    assert _stored(store, ["doc-a", "doc-b", "doc-c", "doc-unknown"]) == {
        "doc-a": {r["chunk_id"] for r in records[:3]}, "doc-b": {r["chunk_id"] for r in records[3:5]},
        "doc-c": {records[5]["chunk_id"]}, "doc-unknown": set(),
    }


def test_a_changed_document_replaces_its_chunks(store):
    old = _records(LAYOUT)
    _write(store, old, _vectors(len(old)))
    new = _records([("doc-a", 0), ("doc-a", 1)], run_id="run-2")  # doc-a now has two chunks, with new ids
    _write(store, new, _vectors(2, seed=9))
    stale = sorted(r["chunk_id"] for r in old if r["document_id"] == "doc-a")
    deleted = store.run(["deleted_chunk_ids"], embedding_dimension=DIM, stale_chunk_ids=stale,
                        written_chunk_ids=[r["chunk_id"] for r in new], vector_index=store.index())["deleted_chunk_ids"]
    assert sorted(deleted) == stale
    assert _stored(store, ["doc-a"]) == {"doc-a": {r["chunk_id"] for r in new}}
    assert _count(store) == 5


def test_delete_by_document_removes_only_that_document(store):
    records = _records(LAYOUT)
    _write(store, records, _vectors(len(records)))
    removed = store.run(["deleted_document_count"], embedding_dimension=DIM, document_ids_to_delete=["doc-a"],
                        vector_index=store.index())["deleted_document_count"]
    assert removed == 3
    assert _stored(store, ["doc-a", "doc-b"]) == {"doc-a": set(), "doc-b": {r["chunk_id"] for r in records[3:5]}}
    hits = store.run(["search_hits"], query_vector=_vectors(len(records))[0], top_k=10)["search_hits"]
    assert all(hit["document_id"] != "doc-a" for hit in hits) and len(hits) == 3


def test_search_order_scores_and_lineage_round_trip(store):
    records, vectors = _records(LAYOUT), _vectors(len(LAYOUT))
    _write(store, records, vectors)
    hits = store.run(["search_hits"], query_vector=vectors[3], top_k=4)["search_hits"]
    assert len(hits) == 4
    assert hits[0]["chunk_id"] == records[3]["chunk_id"]
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-4)  # cosine similarity of a vector with itself
    expected = sorted((float(vectors[3] @ v) for v in vectors), reverse=True)[:4]
    assert [hit["score"] for hit in hits] == pytest.approx(expected, abs=1e-4)
    for hit in hits:
        assert set(hit) >= set(STORED_FIELDS) | {"score"}
        assert all(type(hit[name]) is int for name in INT_FIELDS)
        by_id = next(r for r in records if r["chunk_id"] == hit["chunk_id"])
        assert {name: hit[name] for name in STORED_FIELDS} == by_id
    dense = store.run(["dense_hits"], query_vector=vectors[3], candidate_count=2)["dense_hits"]
    assert [hit["chunk_id"] for hit in dense] == [hit["chunk_id"] for hit in hits[:2]]


def test_batched_dense_search_answers_each_query_as_dense_hits_does(store):
    records, vectors = _records(LAYOUT), _vectors(len(LAYOUT))
    _write(store, records, vectors)
    queries = np.vstack([vectors[3], vectors[0], -vectors[5], vectors[1]])
    batched = store.run(["dense_hits_batch"], query_vectors=queries, candidate_count=3)["dense_hits_batch"]
    assert len(batched) == len(queries)
    for query, hits in zip(queries, batched):
        single = store.run(["dense_hits"], query_vector=query, candidate_count=3)["dense_hits"]
        assert [hit["chunk_id"] for hit in hits] == [hit["chunk_id"] for hit in single]
        assert [hit["score"] for hit in hits] == pytest.approx([hit["score"] for hit in single], abs=1e-5)
        assert [{name: hit[name] for name in STORED_FIELDS} for hit in hits] == \
            [{name: hit[name] for name in STORED_FIELDS} for hit in single]
    assert batched[0][0]["chunk_id"] == records[3]["chunk_id"] and batched[1][0]["chunk_id"] == records[0]["chunk_id"]
    empty = store.run(["dense_hits_batch"], query_vectors=np.zeros((0, DIM), dtype=np.float32), candidate_count=3)
    assert empty["dense_hits_batch"] == []


def test_counts_questions_run_chunks_state_and_upkeep(store):
    records = _records(LAYOUT) + _records([("doc-d", 0)], run_id="run-other")
    _write(store, records, _vectors(len(records)))
    assert _count(store) == 7
    assert store.run(["indexed_questions"])["indexed_questions"] == {"q-doc-b-0": "doc-b", "q-doc-b-1": "doc-b"}
    chunks = store.run(["run_chunks"], run_id="run-other", run_chunk_limit=10)["run_chunks"]
    assert [chunk["chunk_id"] for chunk in chunks] == [records[-1]["chunk_id"]]
    assert store.run(["index_state"])["index_state"]["rows"] == 7
    rows = store.run(["chunk_rows"])["chunk_rows"]
    by_id = {record["chunk_id"]: record for record in records}
    assert sorted(row["chunk_id"] for row in rows) == sorted(by_id)
    assert all(row == {name: by_id[row["chunk_id"]][name] for name in row} and {"text", "page", "source_name"} <= set(row)
               for row in rows)
    upkeep = store.run(["maintained_index"], run_counts={"written": 7})["maintained_index"]
    assert isinstance(upkeep, dict)
    assert _count(store) == 7  # upkeep neither loses nor adds rows


def test_a_dimension_mismatch_and_a_missing_index_are_refused(store):
    _write(store, _records(LAYOUT[:2]), _vectors(2))
    with pytest.raises(IndexMismatchError):
        store.run(["vector_index"], embedding_dimension=DIM * 2)
    store.config["index_name"] = "never_created_index"
    with pytest.raises(IndexNotFoundError):
        store.run(["existing_index"])


def test_reset_empties_the_index(store):
    """Reset drops the index, or (a store with namespaces) empties this index's namespace and keeps the shared index."""
    _write(store, _records(LAYOUT[:2]), _vectors(2))
    assert store.run(["index_reset"])["index_reset"] is True
    if STORES.get(store.config["vector_db"]).has(NAMESPACES):
        assert _count(store) == 0
    else:
        with pytest.raises(IndexNotFoundError):
            store.run(["existing_index"])
    assert store.run(["index_reset"])["index_reset"] is False


def test_full_text_search_is_served_or_refused_as_the_spec_declares(store):
    words = {("doc-a", 0): "Lighthouse keepers of Marrowick", ("doc-a", 1): "Silver gulls over the harbour",
             ("doc-b", 0): "A brass key opens the lantern room", ("doc-b", 1): "Tides and timetables",
             ("doc-c", 0): "The guild was founded in 1884", ("doc-a", 2): "Fog horns at dawn"}
    records = _records(LAYOUT, text=lambda doc, index: words[(doc, index)])
    records[3]["indexed_text"] = "Harbourmaster handbook \u203a Keys\n\n" + records[3]["text"]  # a word only in the header
    vectors = _vectors(len(records))
    _write(store, records, vectors)
    spec = STORES.get(store.config["vector_db"])
    gap = FAKE_GAPS.get(spec.name, {}).get(LEXICAL) if not spec.has(EMBEDDED) else None
    if gap:
        pytest.skip(gap)
    if not spec.has(LEXICAL):
        with pytest.raises(ConfigError, match="dense"):
            store.run(["text_index"])
        return
    store.run(["maintained_index"], run_counts={"written": len(records)})  # upkeep builds the full-text index; queries never write
    hits = store.run(["lexical_hits"], question="brass lantern", candidate_count=3)["lexical_hits"]
    assert hits[0]["chunk_id"] == records[3]["chunk_id"]
    header_hits = store.run(["lexical_hits"], question="harbourmaster", candidate_count=3)["lexical_hits"]
    assert [hit["chunk_id"] for hit in header_hits] == [records[3]["chunk_id"]]  # BM25 indexes the header too ...
    assert header_hits[0]["text"] == records[3]["text"] and "Harbourmaster" in header_hits[0]["indexed_text"]  # ... shown apart
    if spec.has(HYBRID):
        fused = store.run(["hybrid_hits"], question="brass lantern", query_vector=vectors[3], candidate_count=3)["hybrid_hits"]
        assert fused[0]["chunk_id"] == records[3]["chunk_id"]
