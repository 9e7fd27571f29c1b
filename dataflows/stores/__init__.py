"""Vector stores: one Hamilton module per store, the same node names in each.

Swapping stores is passing another module to the driver. Every store module defines these
nodes (inputs in brackets are driver inputs or nodes of other modules):

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
    text_index(existing_index, [lexical settings])             -> handle with a current full-text (BM25) index;
                                                                  ConfigError where the store has none (Pinecone)
    lexical_hits(text_index, question, candidate_count)        -> [{**STORED_FIELDS, "score": BM25}]
    hybrid_hits(text_index, question, query_vector, candidate_count, [fusion settings])
                                                               -> [{**STORED_FIELDS, "score": fused score}]
    indexed_questions(existing_index)                          -> {SQuAD question id: document id} (evaluation)
    chunk_count(existing_index)                                -> rows in the index
    run_chunks(existing_index, run_id, run_chunk_limit)        -> stored rows written by one run
    index_reset(store_client, index_name)                      -> True when the index was dropped

Registering a store is one module here and one line in STORE_MODULES.
"""

from __future__ import annotations

import importlib
from types import ModuleType

STORE_MODULES: dict[str, str] = {
    "lancedb": "dataflows.stores.lancedb",
    "weaviate": "dataflows.stores.weaviate",
    "pinecone": "dataflows.stores.pinecone",
}


def store_module(vector_db: str) -> ModuleType:
    """The Hamilton module for a store name; ConfigError naming the choices for an unknown one."""
    from ragkit.errors import ConfigError

    if vector_db not in STORE_MODULES:
        raise ConfigError(f"Unknown vector store {vector_db!r}; choose one of {', '.join(STORE_MODULES)}.")
    return importlib.import_module(STORE_MODULES[vector_db])
