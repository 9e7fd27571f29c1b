"""Rerankers: one Hamilton module per reranker (`ranked_hits`, and `reranker_client` where there is one), and their
registry (`RERANKERS`). The store returns `rerank_top_n` candidates for the reranker to score; each reranked hit keeps
its retrieval score as `retrieval_score`, and `score` is the reranker's. Registering one is its module plus one entry.
"""

from __future__ import annotations

from ragkit.backends import OFFLINE, ApiKey, BackendSpec, Registry, SettingField

RERANKERS = Registry(kind="reranker", config_key="reranker")

RERANKERS.register(BackendSpec(
    name="none",
    label="none",
    module="dataflows.rerankers.none",
    capabilities=frozenset({OFFLINE}),
))

RERANKERS.register(BackendSpec(
    name="cross_encoder",
    label="cross-encoder (local)",
    module="dataflows.rerankers.cross_encoder",
    settings=(SettingField("reranker_model", "Cross-encoder (local path or model name)", "",
                           "A folder holding a sentence-transformers CrossEncoder, or a model name in the Hugging Face cache."),),
    capabilities=frozenset({OFFLINE}),
    description="a local cross-encoder model on this CPU",
))

RERANKERS.register(BackendSpec(
    name="cohere",
    label="Cohere Rerank",
    module="dataflows.rerankers.cohere",
    settings=(SettingField("reranker_model", "Cohere rerank model", "", "Empty: rerank-v3.5."),),
    api_key=ApiKey("cohere_api_key", "COHERE_API_KEY", "Cohere Rerank"),
    default_model="rerank-v3.5",
    description="a Cohere account and its API key",
))
