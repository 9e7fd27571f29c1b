"""Evaluation's batched dense search (`dense_hits_batch`) ranks every question as the one-search-per-question path does,
on real stores: LanceDB and Qdrant's local mode, each holding the bundled SQuAD sample."""

from __future__ import annotations

import pytest

from tests.conftest import SQUAD_SAMPLE
from workbench import api


@pytest.fixture(scope="module", params=["lancedb", "qdrant"])
def small_index(request, tmp_path_factory) -> dict:
    """The bundled SQuAD sample (30 paragraphs) ingested once per store with the default model."""
    data_dir = tmp_path_factory.mktemp(f"batched-{request.param}") / "data"
    config = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(data_dir), "index_name": "squad",
              "vector_db": request.param}
    api.ingest(config)
    return {"data_dir": str(data_dir), "index_name": "squad", "vector_db": request.param}


def test_batched_search_gives_every_question_the_ranks_of_one_search_per_question(small_index):
    batched = api.evaluate(small_index, sample_size=0, save=False)
    one_by_one = api.evaluate({**small_index, "batched_search": False}, sample_size=0, save=False)
    assert batched["sample"]["batched_search"] is True and one_by_one["sample"]["batched_search"] is False
    assert batched["questions"] == one_by_one["questions"] > 100
    assert [row["id"] for row in batched["per_question"]] == [row["id"] for row in one_by_one["per_question"]]
    assert [row["label_ranks"] for row in batched["per_question"]] == [row["label_ranks"] for row in one_by_one["per_question"]]
    assert batched["metrics"] == one_by_one["metrics"]
    assert 0 < batched["metrics"]["recall@5"] < 1  # a real ranking, neither empty nor trivially perfect
    # the batch's time is shared out evenly (amortised): one figure for every question
    assert batched["latency_ms"]["search_p50"] == batched["latency_ms"]["search_p95"] > 0


def test_a_reranker_or_another_mode_keeps_the_one_by_one_search(small_index):
    if small_index["vector_db"] != "lancedb":
        pytest.skip("Qdrant serves no full-text search; LanceDB shows the mode switch")
    lexical = api.evaluate({**small_index, "retrieval_mode": "lexical"}, sample_size=20, save=False)
    assert lexical["sample"]["batched_search"] is False


@pytest.mark.parametrize(("settings", "batched"), [({}, True), ({"batched_search": False}, False),
                                                   ({"retrieval_mode": "hybrid"}, False)])
def test_the_evaluation_dag_shows_which_search_it_runs(settings, batched, tmp_path):
    dr = api.driver_for({"data_dir": str(tmp_path), "index_name": "squad", **settings}, "evaluate")
    upstream = {node.name for node in dr.what_is_upstream_of("question_results")}
    assert ("dense_hits_batch" in upstream) is batched
    assert ("searcher" in upstream) is not batched
