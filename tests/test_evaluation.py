"""Evaluation on labelled data: metric functions by hand, a small SQuAD index scored end to end, the CLI's JSON."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from dataflows import evaluation
from dataflows.stores import lancedb as lancedb_store
from ragkit.errors import ConfigError
from ragkit.evaluation_run import EmbeddingClock, QuestionOutcome
from ragkit.local_models import load_sentence_transformer
from ragkit.questions import Label, Question, QuestionSet, ResolvedQuestion
from ragkit.relevance import metrics_from_ranks
from ragkit.schema import STORED_FIELDS, Document, InputFile, Progress
from ragkit.squad import read_squad_file
from tests.conftest import REPO, SQUAD_SAMPLE
from tests.fakes import fixtures
from workbench import api, cli

# --- metric functions against hand-computed cases ----------------------------------------------


def test_metrics_match_hand_computed_figures():
    ranks = [1, 3, 0, 12, 2]  # 0: the gold paragraph is not among the hits
    metrics = metrics_from_ranks(ranks, [1, 5, 10, 20])
    assert metrics["recall@1"] == 0.2  # 1 of 5
    assert metrics["recall@5"] == 0.6  # ranks 1, 3, 2
    assert metrics["recall@10"] == 0.6
    assert metrics["recall@20"] == 0.8  # and 12
    assert metrics["mrr@10"] == round((1 + 1 / 3 + 1 / 2) / 5, 4) == 0.3667  # rank 12 counts 0 at @10
    assert metrics["ndcg@10"] == round((1 + 1 / math.log2(4) + 1 / math.log2(3)) / 5, 4) == 0.4262


def test_perfect_and_empty_retrieval():
    assert metrics_from_ranks([1, 1], [1, 5]) == {"recall@1": 1.0, "recall@5": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0}
    assert set(metrics_from_ranks([0, 0], [1]).values()) == {0.0}
    with pytest.raises(ConfigError):
        evaluation.retrieval_metrics([])


def _resolved(question_id: str, *label_chunks: set[str]) -> ResolvedQuestion:
    labels = tuple(Label(document=f"doc-{n}") for n in range(len(label_chunks)))
    return ResolvedQuestion(Question(question_id, "?", labels), tuple(frozenset(c) for c in label_chunks))


def test_gold_rank_is_the_first_hit_from_the_gold_paragraph():
    questions = [_resolved("q1", {"g1", "g2"}), _resolved("q2", {"g1", "g2"}), _resolved("q3", {"x"})]
    outcomes = [
        QuestionOutcome(("a", "g1", "g2"), 1.0),  # two chunks of the gold paragraph: the first counts
        QuestionOutcome(("a", "b", "c"), 1.0),
        QuestionOutcome(("x",), 1.0),
    ]
    assert [r["rank"] for r in evaluation.question_results(questions, outcomes, [1, 5])] == [2, 0, 1]


def test_latency_percentiles_separate_embedding_search_and_rerank():
    clock = EmbeddingClock()
    clock("fresh_embeddings", 0, 4)
    clock("fresh_embeddings", 4, 4)
    assert len(clock.per_question_ms) == 4 and len(set(clock.per_question_ms)) == 1  # one batch: its time / 4 each
    outcomes = [QuestionOutcome(("a",), float(ms), 2.0 * ms) for ms in range(1, 101)]
    latency = evaluation.latency_percentiles([5.0] * 100, outcomes)
    assert latency["embed_p50"] == latency["embed_p95"] == 5.0
    assert latency["search_p50"] == 50.5 and latency["search_p95"] == 95.05
    assert latency["rerank_p50"] == 101.0
    assert "rerank_p50" not in evaluation.latency_percentiles([1.0], [QuestionOutcome(("a",), 1.0)])


def test_sample_is_seeded_and_holds_only_questions_whose_labels_resolve():
    questions = [_resolved(f"q{i}", {f"doc{i % 10}-c"} if i % 10 < 5 else set()) for i in range(100)]
    question_set = QuestionSet("set", tuple(r.question for r in questions))
    first = evaluation.evaluation_questions(questions, question_set, "idx", sample_size=20, seed=3)
    assert first == evaluation.evaluation_questions(list(reversed(questions)), question_set, "idx", sample_size=20, seed=3)
    assert first != evaluation.evaluation_questions(questions, question_set, "idx", sample_size=20, seed=4)
    assert len(first) == 20 and all(r.answerable for r in first)
    assert len(evaluation.evaluation_questions(questions, question_set, "idx", sample_size=0)) == 50
    assert evaluation.label_coverage(questions) == {"labels": 100, "unresolved_labels": 50, "questions": 100,
                                                    "questions_without_a_resolved_label": 50}
    with pytest.raises(ConfigError, match="none resolved"):
        evaluation.evaluation_questions([r for r in questions if not r.answerable], question_set, "idx")


# --- a small SQuAD index, evaluated end to end ---------------------------------------------------


@pytest.fixture(scope="module")
def squad_index(tmp_path_factory) -> dict:
    """The bundled SQuAD sample (30 paragraphs) in LanceDB with the default model, ingested once for this module."""
    data_dir = tmp_path_factory.mktemp("eval") / "data"
    config = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(data_dir), "index_name": "squad"}
    api.ingest(config)
    return {"data_dir": str(data_dir), "index_name": "squad"}  # no squad_path: evaluation finds it in the run record


def _exact_search_ranks(config: dict, questions: list[tuple[str, str]], depth: int) -> list[int]:
    """Gold ranks by brute-force cosine over the stored vectors, independent of the store's search."""
    resolved = api.resolve_config(config)
    table = lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), "squad").to_arrow()
    matrix = np.stack(table["vector"].to_numpy(zero_copy_only=False)).astype(np.float32)
    documents = table["document_id"].to_pylist()
    vectors = load_sentence_transformer("all-MiniLM-L6-v2").encode(
        [text for text, _ in questions], normalize_embeddings=True, convert_to_numpy=True
    )
    ranks = []
    for vector, (_, gold) in zip(vectors, questions):
        order = np.argsort(-(matrix @ vector), kind="stable")[:depth]
        ranks.append(next((rank for rank, row in enumerate(order, 1) if documents[row] == gold), 0))
    return ranks


def test_evaluating_a_small_index_gives_the_figures_of_an_exact_search(squad_index):
    record = api.evaluate(squad_index, sample_size=0)
    paragraphs = read_squad_file(SQUAD_SAMPLE)
    questions = [(text, Document.id_for("squad", p.context)) for p in paragraphs for _, text in p.questions]
    assert record["questions"] == len(questions) > 100
    expected = metrics_from_ranks(_exact_search_ranks(squad_index, questions, 20), [1, 5, 10, 20])
    for name, value in expected.items():
        assert record["metrics"][name] == pytest.approx(value, abs=1.5 / len(questions)), name  # a cosine tie may swap
    assert set(record["metrics"]) == {"recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "ndcg@10"}
    assert record["metrics"]["recall@1"] <= record["metrics"]["recall@5"] <= record["metrics"]["recall@20"]
    assert set(record["latency_ms"]) == {"embed_p50", "embed_p95", "search_p50", "search_p95"}
    assert 0 < record["latency_ms"]["search_p50"] <= record["latency_ms"]["search_p95"]
    assert record["sample"]["squad_path"] == str(SQUAD_SAMPLE)  # found in the index's ingestion run
    assert "api_key" not in json.dumps(record["config"]) and record["config"]["retrieval_mode"] == "dense"
    assert record["code_version"].count("dataflows@") == 1


def test_evaluations_accumulate_into_a_history_on_the_same_questions(squad_index):
    dense = api.evaluate(squad_index, sample_size=40, seed=7)
    lexical = api.evaluate({**squad_index, "retrieval_mode": "lexical"}, sample_size=40, seed=7)
    assert dense["sample"]["questions_digest"] == lexical["sample"]["questions_digest"]  # same questions
    assert lexical["latency_ms"]["embed_p50"] == 0.0  # lexical retrieval embeds nothing
    history = api.evaluations(squad_index["data_dir"], index_key=dense["index_key"])
    assert [r["eval_id"] for r in history[:2]] == [lexical["eval_id"], dense["eval_id"]]  # newest first
    assert history[0]["metrics"] == lexical["metrics"] and history[0]["config"]["retrieval_mode"] == "lexical"
    assert api.evaluations(squad_index["data_dir"], index_key="lancedb:/elsewhere#x") == []


def test_an_index_without_squad_paragraphs_is_a_clear_config_error(tmp_path):
    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "notes"}
    api.ingest(config, files=[InputFile("notes.txt", data=b"Bees make honey. Owls hunt at night.")])
    with pytest.raises(ConfigError, match="holds no SQuAD paragraphs"):
        api.evaluate(config, squad_path=str(SQUAD_SAMPLE))


def test_cli_eval_json_has_every_figure(squad_index, capsys):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    args = [sys.executable, "-m", "dataflows", "eval", "--index", "squad", "--data-dir", squad_index["data_dir"],
            "--sample", "25", "--mode", "hybrid", "--json"]
    record = json.loads(subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=300).stdout)
    assert {"eval_id", "index_key", "config", "questions", "metrics", "latency_ms", "started_at", "code_version"} <= set(record)
    assert record["questions"] == 25 and record["config"]["retrieval_mode"] == "hybrid"
    assert set(record["metrics"]) == {"recall@1", "recall@5", "recall@10", "recall@20", "mrr@10", "ndcg@10"}
    assert all(0.0 <= value <= 1.0 for value in record["metrics"].values())
    assert {"embed_p50", "embed_p95", "search_p50", "search_p95"} <= set(record["latency_ms"])
    assert cli.run(["evals", "--data-dir", squad_index["data_dir"], "--json"]) == 0  # the history, newest first
    assert json.loads(capsys.readouterr().out)[0]["eval_id"] == record["eval_id"]


# --- the other stores list the SQuAD questions they hold -------------------------------------------


def _squad_records(dimension: int) -> tuple[list[dict], np.ndarray]:
    layout = [("squad", "d1", ["q1", "q2"]), ("squad", "d2", ["q3"]), ("file", "f1", [])]
    records = []
    for position, (kind, document_id, question_ids) in enumerate(layout):
        record = {name: "" for name in STORED_FIELDS}
        record.update({name: 0 for name in ("page", "chunk_index", "char_start", "char_end")})
        record.update(chunk_id=f"{document_id}-{position:016x}", document_id=document_id, source_kind=kind,
                      text=f"text {position}", dimension=dimension, question_ids=question_ids, run_id="r1")
        records.append(record)
    vectors = np.eye(len(records), dimension, dtype=np.float32)
    return records, vectors


pinecone_fake = fixtures.pinecone_fake
weaviate_fake = fixtures.weaviate_fake


def _assert_lists_the_squad_questions(store, client) -> None:
    """A store module lists the SQuAD question ids of the chunks it holds, and only those."""
    try:
        index = store.vector_index(client, "squad", 4)
        store.written_chunk_ids(index, *_squad_records(4), Progress())
        assert store.indexed_questions(store.existing_index(client, "squad")) == {"q1": "d1", "q2": "d1", "q3": "d2"}
    finally:
        client.close()


def test_weaviate_lists_the_squad_questions_it_holds(weaviate_fake):
    from dataflows.stores import weaviate as store

    _assert_lists_the_squad_questions(store, store.store_client({"url": weaviate_fake.url, "grpc_port": weaviate_fake.grpc_port}, ""))


def test_pinecone_lists_the_squad_questions_it_holds(pinecone_fake):
    from dataflows.stores import pinecone as store

    _assert_lists_the_squad_questions(store, store.store_client({"host": pinecone_fake.url, "namespace": "ns"}, pinecone_fake.api_key))
