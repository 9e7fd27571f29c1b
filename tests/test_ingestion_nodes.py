"""Unit tests of the pure ingestion, retrieval and cache nodes (no model, no store)."""

import numpy as np

from dataflows import embeddings, ingestion, retrieval
from dataflows.embedders import sentence_transformers as local_embedder
from ragkit.local_models import load_sentence_transformer
from ragkit.schema import Chunk, Document, FileError, FileRecord, Page
from workbench import api


def _chunk(doc: str, index: int, text: str) -> Chunk:
    return Chunk(f"{doc}-{index:016x}", doc, "file", f"{doc}.txt", doc, 1, index, 0, len(text), text, f"h{index}",
                 ("q1",) if doc == "squad" else ())


def test_new_chunks_and_unchanged_count():
    chunks = [_chunk("d1", 0, "a"), _chunk("d1", 1, "b"), _chunk("d2", 0, "c")]
    stored = {"d1": {chunks[0].chunk_id}, "d2": set()}
    new = ingestion.new_chunks(chunks, stored)
    assert new == chunks[1:]
    assert ingestion.unchanged_chunk_count(chunks, new) == 1


def test_stale_chunk_ids_are_stored_ids_the_new_version_lacks():
    chunks = [_chunk("d1", 0, "a")]
    stored = {"d1": {chunks[0].chunk_id, "d1-old"}, "d2": {"d2-keep"}}
    documents = [Document("d1", "file", "d1.txt", "d1", "a", (Page(0, 0, 1),))]
    # d2 is in the batch but was not read (a file that failed, or one skipped unchanged): its chunks are not stale
    assert ingestion.stale_chunk_ids(documents, chunks, stored) == ["d1-old"]


def test_chunk_records_carry_every_lineage_field():
    from ragkit.schema import STORED_FIELDS

    (record,) = ingestion.chunk_records([_chunk("squad", 3, "text")], "sentence_transformers", "m", 384, "run1", "2026-01-01T00:00:00+00:00")
    assert set(record) == set(STORED_FIELDS)
    assert record["question_ids"] == ["q1"] and record["run_id"] == "run1" and record["dimension"] == 384
    assert record["chunk_index"] == 3 and record["text"] == "text"


def test_ingestion_counts():
    documents = [Document("d1", "file", "a", "a", "x", (Page(0, 0, 1),))]
    chunks = [_chunk("d1", 0, "a"), _chunk("d1", 1, "b")]
    skipped = [FileRecord("d3", "c.txt", 10, "ab", 4, "cd")]
    counts = ingestion.ingestion_counts(documents, skipped, [FileError("b.pdf", "bad")], chunks, chunks[1:], 1, ["b"], ["id"],
                                        ["old1", "old2"], ["a"], {"tokens": 7, "estimated": True, "method": "estimated"}, 1)
    assert counts == {"read": 2, "chunked": 2, "embedded": 1, "embedded_by_model": 1, "written": 1,
                      "skipped_unchanged": 5, "skipped_files": 1, "deleted_stale": 2, "failed": 1, "replaced_documents": 1,
                      "model_calls": 1, "tokens_embedded": 7, "tokens_estimated": 7}


def test_texts_and_input_types_differ_between_ingestion_and_retrieval():
    assert ingestion.texts_to_embed([_chunk("d", 0, "chunk text")]) == ["chunk text"]
    assert retrieval.texts_to_embed("  a question?  ") == ["a question?"]
    assert ingestion.embedding_input_type() == "search_document"
    assert retrieval.embedding_input_type() == "search_query"
    matrix = np.eye(3, dtype=np.float32)
    assert np.array_equal(retrieval.query_vector(matrix), matrix[0])


def test_embedding_namespace_separates_input_types_only_for_cohere():
    def embedding_namespace(service: str, model: str, input_type: str) -> str:
        dr = api.driver_for({"embedding_service": service, "model_name": model, "source": "files"}, "query")
        return dr.execute(["embedding_namespace"], overrides={"embedding_input_type": input_type})["embedding_namespace"]

    assert embedding_namespace("cohere", "m", "search_query") != embedding_namespace("cohere", "m", "search_document")
    assert embedding_namespace("openai", "m", "search_query") == embedding_namespace("openai", "m", "search_document")
    assert embedding_namespace("openai", "m1", "") != embedding_namespace("openai", "m2", "")


def test_texts_missing_from_cache_are_distinct_and_ordered():
    cached = {"b": np.zeros(2, dtype=np.float32)}
    assert embeddings.texts_missing_from_cache(["a", "b", "c", "a"], cached) == ["a", "c"]


def test_embeddings_node_merges_cache_and_fresh_vectors_in_order(tmp_path):
    cache = embeddings.EmbeddingCache(tmp_path / "cache.sqlite")
    namespace = "svc|model|"
    cached = {"b": np.array([0, 1], dtype=np.float32)}
    fresh = np.array([[1, 0], [0.6, 0.8]], dtype=np.float32)
    result = embeddings.embeddings(["a", "b", "c", "a"], cached, ["a", "c"], fresh, cache, namespace, 2)
    assert result.tolist() == [[1, 0], [0, 1], [0.6000000238418579, 0.800000011920929], [1, 0]]
    stored = cache.get_many([cache.key(namespace, "a"), cache.key(namespace, "c")], 2)
    assert len(stored) == 2  # fresh vectors were written to the cache


def test_sentence_transformers_vectors_are_unit_float32_rows():
    model = load_sentence_transformer("all-MiniLM-L6-v2")
    from ragkit.schema import Progress

    seen = []
    vectors = local_embedder.fresh_embeddings__sentence_transformers(model, ["short", "a much longer text " * 10, "mid text"],
                                                                 Progress(lambda *a: seen.append(a)), embedding_batch_size=2)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    alone = local_embedder.fresh_embeddings__sentence_transformers(model, ["mid text"], Progress())
    assert np.allclose(alone[0], vectors[2], atol=1e-5)  # order preserved despite length sorting
    assert seen[-1] == ("fresh_embeddings", 3, 3)
    counts = local_embedder.token_counts__sentence_transformers(model)(["hello world", "a " * 300])
    assert counts[0] == 4 and counts[1] > 256  # counted, not truncated
