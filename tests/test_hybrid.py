"""Lexical and hybrid retrieval: fusion by hand, constructed cases where each side misses, lexical settings, stores."""

from __future__ import annotations

import types

import pytest

from dataflows.stores import lancedb as lancedb_store
from dataflows.stores import pinecone as pinecone_store
from dataflows.stores import weaviate as weaviate_store
from ragkit.errors import ConfigError, IndexNotFoundError
from ragkit.fusion import fuse
from ragkit.schema import InputFile
from workbench import api

# --- fusion, by hand ------------------------------------------------------------------------------


def test_reciprocal_rank_fusion_matches_hand_computed_scores():
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    lexical = [("c", 12.0), ("d", 3.0)]
    fused = fuse(dense, lexical, "rrf", alpha=0.5, rrf_k=60)
    assert [item for item, _ in fused] == ["c", "a", "b", "d"]  # b and d tie at 0.5/62; b was ranked by dense
    scores = dict(fused)
    assert scores["c"] == pytest.approx(0.5 / 63 + 0.5 / 61)
    assert scores["a"] == pytest.approx(0.5 / 61) and scores["d"] == pytest.approx(0.5 / 62)
    weighted = dict(fuse(dense, lexical, "rrf", alpha=0.2, rrf_k=1))
    assert weighted["d"] == pytest.approx(0.8 / 3) and weighted["a"] == pytest.approx(0.2 / 2)


def test_linear_fusion_weights_min_max_normalised_scores():
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]  # normalised: 1, 0.5, 0
    lexical = [("c", 12.0), ("d", 3.0)]  # normalised: 1, 0
    fused = fuse(dense, lexical, "linear", alpha=0.5)
    assert fused == [("a", 0.5), ("c", 0.5), ("b", 0.25), ("d", 0.0)]  # a and c tie; a has the better best rank
    assert [item for item, _ in fuse(dense, lexical, "linear", alpha=1.0)][:3] == ["a", "b", "c"]
    assert [item for item, _ in fuse(dense, lexical, "linear", alpha=0.0)][0] == "c"
    with pytest.raises(ValueError):
        fuse(dense, lexical, "max")


def test_retrieval_settings_are_checked():
    with pytest.raises(ConfigError, match="retrieval_mode must be one of"):
        api.resolve_config({"retrieval_mode": "semantic"})
    with pytest.raises(ConfigError, match="between 0 and 1"):
        api.resolve_config({"hybrid_alpha": 1.5})
    with pytest.raises(ConfigError, match="reranker must be one of"):
        api.resolve_config({"reranker": "llm"})


# --- constructed cases, real model and real LanceDB -----------------------------------------------

DOCS = {
    # the lexical case: only this text shares the query's rare tokens; three others are closer in meaning
    "dough.txt": "Knead the dough for ten minutes, rest it overnight and bake at 220 degrees; inventory tag QX-7731.",
    "freighter.txt": "The freighter transported goods across the ocean to the northern port.",
    "vessel.txt": "A vessel brought supplies to the harbour before the storm.",
    "tanker.txt": "The tanker unloaded its freight at the docks on Monday.",
    # the semantic case: the answer shares no word with the query; two off-topic texts do
    "recovery.txt": "If you cannot remember your password, open the account recovery page to regain access.",
    "kiosk.txt": "The login screen of the museum kiosk shows the opening hours and ticket prices.",
    "oven.txt": "Reset the oven timer after baking so the next loaf starts from zero.",
}
LEXICAL_CASE = "Which ship carried crate QX-7731?"
SEMANTIC_CASE = "How do I reset my forgotten login credentials?"


@pytest.fixture(scope="module")
def docs_index(tmp_path_factory) -> dict:
    data_dir = tmp_path_factory.mktemp("hybrid") / "data"
    config = {"source": "files", "data_dir": str(data_dir), "index_name": "docs", "chunk_size": 400, "chunk_overlap": 0}
    api.ingest(config, files=[InputFile(name, data=text.encode()) for name, text in DOCS.items()])
    return config


def _names(config: dict, question: str, mode: str, top_k: int = 3, **settings) -> list[str]:
    hits = api.search({**config, "retrieval_mode": mode, **settings}, question, top_k=top_k)["hits"]
    return [hit["source_name"] for hit in hits]


def test_hybrid_finds_the_exact_match_that_dense_misses(docs_index):
    assert "dough.txt" not in _names(docs_index, LEXICAL_CASE, "dense")  # three texts about ships come first
    assert _names(docs_index, LEXICAL_CASE, "lexical")[0] == "dough.txt"
    assert _names(docs_index, LEXICAL_CASE, "hybrid")[0] == "dough.txt"
    assert _names(docs_index, LEXICAL_CASE, "hybrid", hybrid_fusion="linear")[0] == "dough.txt"


def test_hybrid_finds_the_paraphrase_that_lexical_misses(docs_index):
    assert "recovery.txt" not in _names(docs_index, SEMANTIC_CASE, "lexical")  # it shares no word with the question
    assert _names(docs_index, SEMANTIC_CASE, "dense")[0] == "recovery.txt"
    assert "recovery.txt" in _names(docs_index, SEMANTIC_CASE, "hybrid")
    # equal-weight RRF puts texts found by both sides first; weighting the dense side up puts the paraphrase first
    assert _names(docs_index, SEMANTIC_CASE, "hybrid", hybrid_fusion="linear", hybrid_alpha=0.8)[0] == "recovery.txt"


def test_hybrid_hits_carry_every_stored_field_and_a_fused_score(docs_index):
    result = api.search({**docs_index, "retrieval_mode": "hybrid"}, LEXICAL_CASE, top_k=3)
    hit = result["hits"][0]
    assert {"chunk_id", "document_id", "text", "question_ids", "run_id", "score"} <= set(hit) and "vector" not in hit
    assert hit["score"] == pytest.approx(0.5 / 61 + 0.5 / 64, abs=0.5 / 61 - 0.5 / 62)  # lexical rank 1, dense rank 4 or so
    assert [h["score"] for h in result["hits"]] == sorted((h["score"] for h in result["hits"]), reverse=True)
    assert set(result["latency_ms"]) == {"embed", "search", "total"}


def _table(config: dict):
    resolved = api.resolve_config(config)
    return lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])


def test_stemming_is_a_setting_a_query_never_rebuilds_the_index_and_repair_does(docs_index):
    question = "Who unloads freights?"  # "unloaded" and "freight" match only when stemmed
    assert _names(docs_index, question, "lexical", top_k=1) == ["tanker.txt"]
    version = _table(docs_index).version
    with pytest.raises(IndexNotFoundError, match="other lexical settings.*repair --index"):
        _names(docs_index, question, "lexical", top_k=1, lexical_stem=False)
    assert _table(docs_index).version == version  # the query wrote nothing
    api.repair({**docs_index, "lexical_stem": False}, rebuild_fts=True)
    assert _names(docs_index, question, "lexical", top_k=1, lexical_stem=False) == []
    (index,) = [i for i in _table(docs_index).list_indices() if i.index_type == "FTS"]
    assert index.index_details["stem"] is False  # rebuilt with the asked-for settings
    api.repair({**docs_index, "lexical_stop_words": False}, rebuild_fts=True)
    assert len(_names(docs_index, "the of and", "lexical", lexical_stop_words=False)) == 3  # kept, they match
    api.repair(docs_index, rebuild_fts=True)
    assert _names(docs_index, "the of and", "lexical") == []  # stop words are dropped from index and query
    assert _names(docs_index, question, "lexical", top_k=1) == ["tanker.txt"]


def test_the_full_text_index_follows_new_writes(tmp_path):
    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "notes"}
    api.ingest(config, files=[InputFile("owls.txt", data=b"Owls hunt at night.")])
    assert _names(config, "owls", "lexical") == ["owls.txt"]
    api.ingest(config, files=[InputFile("bees.txt", data=b"Bees make honey in summer.")])
    assert _names(config, "honey", "lexical") == ["bees.txt"]  # refreshed by the run's index upkeep
    stats = _table(config).index_stats(next(i.name for i in _table(config).list_indices() if i.index_type == "FTS"))
    assert stats.num_indexed_rows == 2 and stats.num_unindexed_rows == 0


# --- the other stores --------------------------------------------------------------------------------


def test_pinecone_refuses_lexical_and_hybrid_with_a_clear_error():
    with pytest.raises(ConfigError, match="dense-only.*retrieval_mode 'dense'"):
        pinecone_store.text_index(types.SimpleNamespace(name="workbench"))


class _RecordingQuery:
    """Stands in for a Weaviate collection's `query` API, recording the arguments of each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def _answer(self, name: str, kwargs: dict) -> types.SimpleNamespace:
        self.calls.append((name, kwargs))
        properties = {"chunk_id": "c1", "document_id": "d1", "text": "t", "page": 2, "question_ids": ["q1"]}
        return types.SimpleNamespace(objects=[types.SimpleNamespace(properties=properties, metadata=types.SimpleNamespace(score=0.7))])

    def hybrid(self, **kwargs):
        return self._answer("hybrid", kwargs)

    def bm25(self, **kwargs):
        return self._answer("bm25", kwargs)


def test_weaviate_uses_its_own_hybrid_query_with_alpha_and_fusion():
    from weaviate.classes.query import HybridFusion

    query = _RecordingQuery()
    collection = types.SimpleNamespace(query=query, name="Docs")
    hits = weaviate_store.hybrid_hits(collection, "who?", [0.1, 0.2], 7, hybrid_fusion="linear", hybrid_alpha=0.3)
    name, kwargs = query.calls[0]
    assert name == "hybrid" and kwargs["alpha"] == 0.3 and kwargs["fusion_type"] == HybridFusion.RELATIVE_SCORE
    assert kwargs["query"] == "who?" and kwargs["limit"] == 7 and kwargs["query_properties"] == ["indexed_text"]
    assert kwargs["vector"] == pytest.approx([0.1, 0.2])
    assert hits[0]["score"] == 0.7 and hits[0]["page"] == 2 and hits[0]["question_ids"] == ["q1"]
    weaviate_store.hybrid_hits(collection, "who?", [0.1, 0.2], 3)
    assert query.calls[1][1]["fusion_type"] == HybridFusion.RANKED and query.calls[1][1]["alpha"] == 0.5
    weaviate_store.lexical_hits(collection, "who?", 4)
    assert query.calls[2][0] == "bm25" and query.calls[2][1]["limit"] == 4
