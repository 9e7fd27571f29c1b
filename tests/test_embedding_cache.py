"""The embedding cache never holds a wrong vector: settings are checked before work, only vectors that pass the
checks are cached, and a cached row that fails them on read is dropped and recomputed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from dataflows import embeddings
from ragkit.embedding_cache import EmbeddingCache
from ragkit.errors import ConfigError, ServiceError
from ragkit.schema import InputFile
from workbench import api

TEXT = "Glaciers carve valleys as they move. The Aletsch glacier is the largest in the Alps."


def _cache_rows(data_dir: Path) -> int:
    path = data_dir / "embedding_cache.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]


@pytest.mark.parametrize("setting, value", [("embedding_batch_size", -1), ("upsert_batch_size", -5),
                                            ("embedding_batch_size", "many"), ("embedding_batch_size", 2.5)])
def test_a_negative_or_non_integer_batch_size_is_refused_before_any_work(files_config, setting, value):
    with pytest.raises(ConfigError, match=setting):
        api.ingest({**files_config, setting: value}, files=[InputFile("g.txt", TEXT.encode())])
    assert api.runs(files_config["data_dir"]) == [] and _cache_rows(Path(files_config["data_dir"])) == 0


def test_zero_or_non_finite_fresh_vectors_stop_the_run_and_are_never_cached(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    fresh = np.array([[1, 0], [0, 0], [np.nan, 1]], dtype=np.float32)
    with pytest.raises(ServiceError, match="2 of 3 vector"):
        embeddings.embeddings(["a", "b", "c"], {}, ["a", "b", "c"], fresh, cache, "ns|", 2)
    assert cache.get_many([cache.key("ns|", text) for text in "abc"], 2) == {}


def test_only_vectors_that_pass_the_checks_are_cached(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    keys = [cache.key("ns|", text) for text in "abc"]
    stored = cache.put_many(keys, np.array([[1, 0], [0.5, 0.5], [0, 3]], dtype=np.float32), 2)
    assert stored == 1 and list(cache.get_many(keys, 2)) == [keys[0]]


def test_a_wrong_cached_vector_is_dropped_on_read_and_recomputed_so_the_text_is_found(files_config):
    data_dir = Path(files_config["data_dir"])
    files = [InputFile("glaciers.txt", TEXT.encode())]
    api.ingest({**files_config, "index_name": "first"}, files=files)
    with sqlite3.connect(data_dir / "embedding_cache.sqlite") as connection:  # poison every cached row: zeros, then a short row
        keys = [key for (key,) in connection.execute("SELECT key FROM embeddings")]
        connection.execute("UPDATE embeddings SET vector = ?", (np.zeros(384, dtype=np.float32).tobytes(),))
        connection.execute("UPDATE embeddings SET vector = ? WHERE key = ?", (b"\x00\x00\x80", keys[0]))
    for data_quality in ("fail", "warn"):
        config = {**files_config, "index_name": f"again_{data_quality}", "data_quality": data_quality}
        record = api.ingest(config, files=files)
        assert record["status"] == "succeeded"
        assert record["counts"]["embedded_by_model"] == (len(keys) if data_quality == "fail" else 0)  # recomputed once, then reused
        hits = api.search(config, "largest glacier in the Alps", top_k=1)["hits"]
        assert hits and hits[0]["source_name"] == "glaciers.txt" and hits[0]["score"] > 0.3
    cached = EmbeddingCache(data_dir / "embedding_cache.sqlite").get_many(keys, 384)
    assert set(cached) == set(keys) and all(abs(np.linalg.norm(v) - 1) < 1e-3 for v in cached.values())


def test_a_model_folder_is_known_by_its_absolute_path_and_its_files_so_other_weights_never_reuse_its_vectors(
        tmp_path, monkeypatch):
    from dataflows.embedders.sentence_transformers import embedding_namespace__sentence_transformers as namespace
    from workbench.config import resolve_config

    for folder, weights in (("a", b"weights of model A"), ("b", b"other weights, model B")):
        (tmp_path / folder / "m").mkdir(parents=True)
        (tmp_path / folder / "m" / "model.safetensors").write_bytes(weights)
    names = []
    for folder in ("a", "b"):
        monkeypatch.chdir(tmp_path / folder)
        names.append(resolve_config({"model_name": "./m"})["model_name"])  # the same words, two folders
    assert names == [str(tmp_path / "a" / "m"), str(tmp_path / "b" / "m")]
    assert namespace(names[0]) != namespace(names[1])
    before = namespace(names[0])
    (tmp_path / "a" / "m" / "model.safetensors").write_bytes(b"retrained weights, a new model at the same path")
    assert namespace(names[0]) != before
    assert namespace("all-MiniLM-L6-v2") == "sentence_transformers|all-MiniLM-L6-v2|"  # a named model: its name
