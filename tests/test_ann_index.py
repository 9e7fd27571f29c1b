"""Index upkeep after ingestion (real LanceDB): the ANN index appears at the threshold, compaction, full-text index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataflows.stores import lancedb as lancedb_store
from ragkit.schema import STORED_FIELDS
from tests.conftest import SQUAD_SAMPLE
from workbench import api

DIMENSION = 16


def _rows(start: int, count: int, rng: np.random.Generator) -> tuple[list[dict], np.ndarray]:
    records = [
        {name: 0 for name in STORED_FIELDS}
        | {"chunk_id": f"c{i}", "document_id": f"d{i}", "source_kind": "file", "source_name": f"f{i}.txt", "title": "t",
           "content_hash": "h", "embedding_service": "s", "model_name": "m", "run_id": "r", "ingested_at": "now",
           "text": f"row number {i} about topic {i % 7}: naïve \"東京\" \\ {chr(0x1F600)}", "section": f"§ {i % 3}",
           "indexed_text": f"row number {i} about topic {i % 7}", "question_ids": [f"q{i}"] if i % 2 else [], "page": i % 5}
        for i in range(start, start + count)
    ]
    vectors = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    return records, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def table(tmp_path):
    client = lancedb_store.store_client({"uri": str(tmp_path / "lancedb")})
    return client, lancedb_store.vector_index(client, "docs", DIMENSION)


def _write(table, start: int, count: int, rng) -> dict[str, int]:
    records, vectors = _rows(start, count, rng)
    written = lancedb_store.written_chunk_ids(table, records, vectors, progress=lambda *a: None)
    return {"written": len(written), "deleted_stale": 0}


def test_the_ann_index_is_built_when_the_table_reaches_the_threshold_and_kept_up_to_date(table):
    client, index = table
    rng = np.random.default_rng(0)
    settings = {"ann_index_threshold": 600, "ann_index_type": "ivf_hnsw_sq", "compact_after_writes": 0}
    below = lancedb_store.maintained_index(client, "docs", _write(index, 0, 599, rng), **settings)
    assert below["rows"] == 599 and below["ann_index"] == "none"
    assert lancedb_store.index_state(client.open_table("docs"))["ann_index"] == ""

    at = lancedb_store.maintained_index(client, "docs", _write(index, 599, 1, rng), **settings)
    assert at["rows"] == 600 and at["ann_index"] == "created ivf_hnsw_sq"
    state = lancedb_store.index_state(client.open_table("docs"))
    assert state["ann_index"] == "IvfHnswSq" and state["ann_unindexed_rows"] == 0 and state["fts_index"] is True

    after = lancedb_store.maintained_index(client, "docs", _write(index, 600, 50, rng), **settings)
    assert after["ann_index"] == "updated" and after["compacted"] is True  # new rows folded into the index
    assert lancedb_store.index_state(client.open_table("docs"))["ann_unindexed_rows"] == 0


def test_ivf_pq_is_the_other_choice(table):
    client, index = table
    rng = np.random.default_rng(1)
    done = lancedb_store.maintained_index(client, "docs", _write(index, 0, 600, rng), ann_index_threshold=500,
                                          ann_index_type="ivf_pq")
    assert done["ann_index"] == "created ivf_pq"
    assert lancedb_store.index_state(client.open_table("docs"))["ann_index"] == "IvfPq"


def test_many_small_writes_are_compacted_after_the_configured_count(table):
    client, index = table
    rng = np.random.default_rng(2)
    for batch in range(5):
        counts = _write(index, batch * 10, 10, rng)
    assert lancedb_store.index_state(client.open_table("docs"))["fragments"] == 5
    done = lancedb_store.maintained_index(client, "docs", counts, ann_index_threshold=0, compact_after_writes=5)
    assert done["compacted"] is True
    state = lancedb_store.index_state(client.open_table("docs"))
    assert state["fragments"] == 1 and state["rows"] == 50


def test_ingestion_builds_the_ann_index_past_the_threshold_and_search_still_finds_the_passage(data_dir):
    config = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(data_dir), "index_name": "squad",
              "ingest_batch_documents": 4, "ann_index_threshold": 20, "compact_after_writes": 4}
    record = api.ingest(config)
    state = api.index_state(config)
    assert state["rows"] == record["counts"]["written"] >= 20
    assert state["ann_index"] == "IvfHnswSq" and state["fts_index"] is True
    assert state["fragments"] == 1  # eight batches wrote eight fragments; compacted into one
    assert "maintained_index" in record["timings"]
    hits = api.search(config, "Which NFL team represented the AFC at Super Bowl 50?", top_k=3)["hits"]
    assert any("Denver Broncos" in hit["text"] for hit in hits)


def test_below_the_threshold_there_is_no_ann_index(data_dir):
    config = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(data_dir), "index_name": "squad"}
    api.ingest(config)
    state = api.index_state(config)
    assert state["ann_index"] == "" and state["fts_index"] is True and state["rows"] > 0


def _file_format(table) -> set[tuple[int, int]]:
    """The Lance file-format (major, minor) of each of the table's data files: the last 8 bytes are both and 'LANC'."""
    versions = set()
    for path in (Path(table.uri) / "data").glob("*.lance"):
        tail = path.read_bytes()[-8:]
        assert tail[4:] == b"LANC"
        versions.add((int.from_bytes(tail[0:2], "little"), int.from_bytes(tail[2:4], "little")))
    return versions


def test_new_tables_are_written_in_lance_file_format_2_1(table):
    client, index = table
    _write(index, 0, 30, np.random.default_rng(3))
    assert _file_format(client.open_table("docs")) == {(2, 1)}


@pytest.mark.parametrize("with_ann_index", [False, True])
def test_a_dense_search_returns_what_lancedbs_public_query_builder_returns(table, with_ann_index):
    """The search runs LanceDB's async query plan in one trip to its event loop; the hits, their order and scores are
    those of the documented sync builder with the same settings (this fails if LanceDB stops wrapping an AsyncTable,
    or its async query stops keeping the plan it executes as `_inner`)."""
    client, index = table
    rng = np.random.default_rng(4)
    _write(index, 0, 700, rng)
    if with_ann_index:
        lancedb_store.maintained_index(client, "docs", {"written": 700}, ann_index_threshold=600)
    index = lancedb_store.existing_index(client, "docs")
    assert (lancedb_store.index_state(index)["ann_index"] != "") is with_ann_index
    for query in _rows(900, 5, rng)[1]:
        hits = lancedb_store.search_hits(index, query, top_k=7)
        public = (index.search(query).distance_type("cosine").ef(128).refine_factor(2).limit(7).to_arrow())
        assert [hit["chunk_id"] for hit in hits] == public["chunk_id"].to_pylist()
        assert [hit["score"] for hit in hits] == pytest.approx([1 - d for d in public["_distance"].to_pylist()], abs=1e-6)
        for hit, row in zip(hits, public.to_pylist()):  # the packed copy of the fields is what the columns hold
            assert {name: value for name, value in hit.items() if name != "score"} == {name: row[name] for name in STORED_FIELDS}
