"""Every embedding service × every store resolves to a DAG, without network; swapping changes the picture."""

import pytest

from dataflows.embedders import EMBEDDERS
from dataflows.stores import STORES
from workbench import api

STORE_NODES = {"store_client", "vector_index", "stored_chunk_ids", "written_chunk_ids", "deleted_chunk_ids"}


@pytest.mark.parametrize("vector_db", STORES.names())
@pytest.mark.parametrize("service", EMBEDDERS.names())
def test_ingest_and_query_drivers_build_for_every_combination(service, vector_db, data_dir):
    config = {"embedding_service": service, "vector_db": vector_db, "data_dir": str(data_dir), "source": "files"}
    ingest = api.driver_for(config, "ingest")
    names = {n.name for n in ingest.list_available_variables()}
    assert STORE_NODES | {"chunks", "embeddings", "fresh_embeddings", "ingestion_counts"} <= names
    fresh = next(n for n in ingest.list_available_variables() if n.name == "fresh_embeddings")
    assert fresh.originating_functions[0].__code__.co_name == f"fresh_embeddings__{service}"
    store_client = next(n for n in ingest.list_available_variables() if n.name == "store_client")
    assert store_client.originating_functions[0].__module__ == f"dataflows.stores.{vector_db}"
    query = api.driver_for(config, "query")
    assert {"search_hits", "query_vector", "embeddings"} <= {n.name for n in query.list_available_variables()}


def test_store_modules_share_node_names():
    from dataflows.stores import store_module

    def public(vector_db):
        module = store_module(vector_db)
        return {name for name, fn in vars(module).items() if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", "") == module.__name__}

    names = {vector_db: public(vector_db) for vector_db in STORES.names()}
    assert all(names[vector_db] == names["lancedb"] for vector_db in names), names


def test_swapping_the_store_changes_the_dag(data_dir):
    lance = api.dag({"vector_db": "lancedb", "data_dir": str(data_dir)}).source
    pinecone = api.dag({"vector_db": "pinecone", "data_dir": str(data_dir)}).source
    assert "pinecone_api_key" in pinecone and "pinecone_api_key" not in lance
    assert lance != pinecone


def test_unknown_store_or_service_is_a_clear_config_error(data_dir):
    from ragkit.errors import ConfigError

    with pytest.raises(ConfigError, match="vector_db must be one of"):
        api.driver_for({"vector_db": "faiss", "data_dir": str(data_dir)})
    with pytest.raises(ConfigError, match="embedding_service must be one of"):
        api.driver_for({"embedding_service": "bert", "data_dir": str(data_dir)})
    with pytest.raises(ConfigError, match="must not hold secrets"):
        api.driver_for({"vector_db": "weaviate", "vector_db_config": {"api_key": "x"}, "data_dir": str(data_dir)})
