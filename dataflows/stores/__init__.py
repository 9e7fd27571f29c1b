"""Vector stores: one Hamilton module per store, the same node names in each, and their registry (`STORES`).

Swapping stores is passing another module to the driver. Every store module defines these nodes
(inputs in brackets are driver inputs or nodes of other modules):

    store_client(vector_db_config, [<store>_api_key])          -> client; StoreUnavailableError if unreachable
    store_location(vector_db_config)                           -> str naming where the index lives (no secrets)
    vector_index(store_client, index_name, embedding_dimension) -> handle; created (cosine) if missing,
                                                                  IndexMismatchError if its dimension differs
    existing_index(store_client, index_name)                   -> handle of an index that must exist (queries)
    stored_chunk_ids(vector_index, document_ids)               -> {document_id: {chunk_id, ...}} now stored
    written_chunk_ids(vector_index, chunk_records, chunk_vectors, progress, upsert_batch_size)
                                                               -> ids written, in batches (upsert by chunk_id)
    deleted_chunk_ids(vector_index, stale_chunk_ids, written_chunk_ids)
                                                               -> ids removed; runs after the writes
    deleted_document_count(vector_index, document_ids_to_delete) -> chunks removed for those documents
    search_hits(existing_index, query_vector, top_k)           -> [{**STORED_FIELDS, "score": cosine similarity}]
    dense_hits(existing_index, query_vector, candidate_count)  -> the same, `candidate_count` of them (retrieval flow)
    dense_hits_batch(existing_index, query_vectors, candidate_count)
                                                               -> [dense_hits of each row of query_vectors], in row order,
                                                                  the same hits, order and scores (evaluation flow); in
                                                                  as few store calls as the store allows (LanceDB: many
                                                                  query vectors per search; Qdrant: query_batch_points;
                                                                  Weaviate, Pinecone: single searches on a few threads)
    text_index(existing_index, [lexical settings])             -> handle with a current full-text (BM25) index;
                                                                  ConfigError where the store has none
    lexical_hits(text_index, question, candidate_count)        -> [{**STORED_FIELDS, "score": BM25}]
    hybrid_hits(text_index, question, query_vector, candidate_count, [fusion settings])
                                                               -> [{**STORED_FIELDS, "score": fused score}]
    indexed_questions(existing_index)                          -> {SQuAD question id: document id} (evaluation)
    chunk_count(existing_index)                                -> rows in the index
    chunk_rows(existing_index)                                 -> [{chunk_id, document_id, source_name, title, page,
                                                                  chunk_index, text}] of every chunk (label resolution)
    run_chunks(existing_index, run_id, run_chunk_limit)        -> stored rows written by one run
    index_reset(store_client, index_name)                      -> True when the index was dropped
    maintained_index(store_client, index_name, run_counts, [upkeep settings])
                                                               -> what index upkeep did after a run ({} when nothing)
    index_state(existing_index)                                -> {"rows": ..., store-specific details}

`tests/test_store_contract.py` runs the same behaviour tests on every registered store.

Registering a store is its module here plus one `STORES.register(BackendSpec(...))` entry below:
settings validation, the CLI's choices, the UI's store picker and fields, API-key checks and
service checks all read the spec.
"""

from __future__ import annotations

from types import ModuleType

from ragkit.backends import (
    EMBEDDED,
    HYBRID,
    INDEX_UPKEEP,
    LEXICAL,
    NAMESPACES,
    OFFLINE,
    ApiKey,
    BackendSpec,
    Registry,
    SettingField,
)
from ragkit.readiness import weaviate_problem

STORES = Registry(kind="vector store", config_key="vector_db")

STORES.register(BackendSpec(
    name="lancedb",
    label="LanceDB (embedded)",
    module="dataflows.stores.lancedb",
    settings=(SettingField("uri", "LanceDB folder", "{data_dir}/lancedb", "The folder that holds the tables."),),
    capabilities=frozenset({EMBEDDED, OFFLINE, LEXICAL, HYBRID, INDEX_UPKEEP}),
    index_label="LanceDB table",
    description="embedded: files in the data folder, nothing to run",
    packages=("lancedb",),
    service_licence="nothing runs outside this process",
))

STORES.register(BackendSpec(
    name="weaviate",
    label="Weaviate",
    module="dataflows.stores.weaviate",
    settings=(SettingField("url", "Weaviate URL", "http://localhost:8080",
                           "A local server, or a Weaviate Cloud cluster URL (needs the key)."),),
    api_key=ApiKey("weaviate_api_key", "WEAVIATE_API_KEY", "Weaviate", required=False),
    capabilities=frozenset({LEXICAL, HYBRID}),
    readiness=weaviate_problem,
    index_label="Weaviate collection",
    description="a Weaviate server (local or Weaviate Cloud)",
    packages=("weaviate-client",),
    service_licence="Weaviate server: BSD-3-Clause (open source); Weaviate Cloud: a hosted service on its terms",
))

STORES.register(BackendSpec(
    name="pinecone",
    label="Pinecone",
    module="dataflows.stores.pinecone",
    settings=(
        SettingField("namespace", "Pinecone namespace", "default", "Chunks of this index live in this namespace."),
        SettingField("cloud", "Pinecone cloud", "aws", "Where a new serverless index is created.", choices=("aws", "gcp", "azure")),
        SettingField("region", "Pinecone region", "us-east-1", "The cloud region of a new serverless index."),
        SettingField("host", "Pinecone control-plane host", "", "Empty: Pinecone's own (api.pinecone.io).",
                     env_var="PINECONE_CONTROLLER_HOST"),
    ),
    api_key=ApiKey("pinecone_api_key", "PINECONE_API_KEY", "Pinecone"),
    capabilities=frozenset({NAMESPACES}),
    index_label="Pinecone index",
    description="a Pinecone account (serverless index) and its API key",
    packages=("pinecone",),
    service_licence="Pinecone: a proprietary hosted service (its terms of service)",
))


STORES.register(BackendSpec(
    name="qdrant",
    label="Qdrant (embedded, or a server)",
    module="dataflows.stores.qdrant",
    settings=(
        SettingField("path", "Qdrant folder (local mode)", "{data_dir}/qdrant",
                     "Qdrant's embedded local mode keeps its collections here; one process at a time can open it."),
        SettingField("url", "Qdrant server URL (empty: local mode)", "",
                     "A Qdrant server (http://localhost:6333) or a Qdrant Cloud cluster URL (needs the key); when set, "
                     "the folder is not used."),
    ),
    api_key=ApiKey("qdrant_api_key", "QDRANT_API_KEY", "Qdrant", required=False),
    capabilities=frozenset({EMBEDDED, OFFLINE}),
    index_label="Qdrant collection",
    description="embedded: a folder in the data folder (local mode), or a Qdrant server / Qdrant Cloud",
    packages=("qdrant-client",),
    service_licence="Qdrant server: Apache-2.0 (open source); Qdrant Cloud: a hosted service on its terms; local mode runs in this process",
))


def store_module(vector_db: str) -> ModuleType:
    """The Hamilton module for a store name; ConfigError naming the choices for an unknown one."""
    return STORES.get(vector_db).load()
