"""The int8 ONNX backend of all-MiniLM-L6-v2: built locally from the packaged weights, close to the float32 model,
and recorded in the index manifest like any other model."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ragkit import onnx_embedder
from ragkit.errors import ConfigError, IndexMismatchError
from ragkit.local_models import load_sentence_transformer
from ragkit.onnx_embedder import (
    ONNX_INT8_MODELS,
    STALE_SCRATCH_HOURS,
    OnnxEmbedder,
    _packaged_model_dir,
    int8_model_path,
    load_onnx_int8,
)
from ragkit.schema import InputFile
from tests.conftest import REPO, SQUAD_SAMPLE
from workbench import api

ONNX_MODEL = "all-MiniLM-L6-v2-onnx-int8"


@pytest.fixture(scope="module")
def squad_sample() -> tuple[list[str], list[tuple[str, int]]]:
    """The bundled SQuAD sample: paragraph texts, and (question, index of its paragraph)."""
    data = json.loads(SQUAD_SAMPLE.read_text())
    paragraphs, questions = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            questions.extend((qa["question"], len(paragraphs) - 1) for qa in paragraph["qas"])
    return paragraphs, questions


SENTENCE = "Mount Etna is an active volcano on the east coast of Sicily."


@pytest.fixture(scope="module")
def exported_cache(tmp_path_factory):
    """A model cache holding one export (about a minute): the tests copy it rather than export again."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    int8_model_path(cache_dir=cache)
    return cache


def _copied_cache(exported_cache, tmp_path):
    """A copy of the exported cache and the model file in it."""
    cache = tmp_path / "cache"
    shutil.copytree(exported_cache, cache)
    (model,) = cache.glob("*/model-int8.onnx")
    return cache, model


def test_the_int8_model_is_exported_and_quantised_once_into_the_cache(exported_cache):
    tmp_path = exported_cache
    path = int8_model_path(cache_dir=tmp_path)
    fp32_bytes = (_packaged_model_dir() / "model.safetensors").stat().st_size
    assert path.exists() and path.parent.parent == tmp_path
    assert path.stat().st_size < 0.7 * fp32_bytes  # the MatMul weights are int8 now (the embedding table stays float32)
    built_at = path.stat().st_mtime_ns
    assert int8_model_path(cache_dir=tmp_path) == path and path.stat().st_mtime_ns == built_at  # reused, not rebuilt
    embedder = OnnxEmbedder(path, _packaged_model_dir())
    assert embedder.get_embedding_dimension() == 384 and embedder.max_seq_length == 256


def test_int8_vectors_are_close_to_the_float32_model_and_retrieve_as_well(squad_sample):
    paragraphs, questions = squad_sample
    onnx, torch_model = load_sentence_transformer(ONNX_MODEL), load_sentence_transformer("all-MiniLM-L6-v2")
    texts = paragraphs + [question for question, _ in questions]
    int8 = onnx.encode(texts, normalize_embeddings=True)
    fp32 = torch_model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    cosine = (int8 * fp32).sum(axis=1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.97
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)

    def recall_at_1(vectors: np.ndarray) -> float:
        documents, queries = vectors[: len(paragraphs)], vectors[len(paragraphs) :]
        best = (queries @ documents.T).argmax(axis=1)
        return float(np.mean([found == gold for found, (_, gold) in zip(best, questions)]))

    assert abs(recall_at_1(int8) - recall_at_1(fp32)) <= 0.03
    single = onnx.encode("Who won Super Bowl 50?", normalize_embeddings=True)
    assert single.shape == (384,)


def test_an_int8_vector_moves_with_its_batch_no_more_than_int8_moves_it_from_float32(squad_sample):
    """Activations are quantised per model call (dynamic quantisation), so a text's vector depends a little on the
    texts embedded beside it: each one alone against all in batches of 32, as close as int8 is to float32."""
    paragraphs, _ = squad_sample
    onnx = load_sentence_transformer(ONNX_MODEL)
    alone = onnx.encode(paragraphs, batch_size=1, normalize_embeddings=True)
    batched = onnx.encode(paragraphs, batch_size=32, normalize_embeddings=True)
    cosine = (alone * batched).sum(axis=1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.99
    assert np.array_equal(onnx.encode(paragraphs, batch_size=32, normalize_embeddings=True), batched)  # deterministic


def test_an_index_built_with_the_onnx_backend_records_it_and_refuses_the_torch_model(files_config):
    config = {**files_config, "model_name": ONNX_MODEL}
    files = [InputFile("etna.md", data=b"Mount Etna is an active volcano on the east coast of Sicily."),
             InputFile("owls.txt", data=b"Owls hunt small mammals at night.")]
    record = api.ingest(config, files=files)
    assert record["status"] == "succeeded" and record["counts"]["written"] == 2
    (manifest,) = api.indexes(files_config["data_dir"])
    assert manifest["model_name"] == ONNX_MODEL and manifest["dimension"] == 384
    hits = api.search(files_config, "Which volcano is in Sicily?", top_k=1)["hits"]  # the manifest picks the backend
    assert hits[0]["source_name"] == "etna.md" and hits[0]["model_name"] == ONNX_MODEL
    with pytest.raises(IndexMismatchError):
        api.ingest({**files_config, "model_name": "all-MiniLM-L6-v2"}, files=files)  # the float32 torch model may not write into it


def test_a_truncated_cached_model_is_exported_again_and_embeds_the_same(exported_cache, tmp_path, monkeypatch, caplog):
    model_dir = _packaged_model_dir()
    expected = OnnxEmbedder(int8_model_path(cache_dir=exported_cache), model_dir).encode(SENTENCE, normalize_embeddings=True)
    cache, model = _copied_cache(exported_cache, tmp_path)
    whole = model.stat().st_size
    with open(model, "r+b") as file:
        file.truncate(whole // 3)  # an interrupted copy, a full disk, a killed writer
    monkeypatch.setenv("WORKBENCH_MODEL_CACHE", str(cache))
    with caplog.at_level(logging.WARNING, logger="ragkit.onnx_embedder"):
        embedder = load_onnx_int8(next(iter(ONNX_INT8_MODELS)))
    assert embedder.onnx_path == model and model.stat().st_size == whole
    assert np.allclose(embedder.encode(SENTENCE, normalize_embeddings=True), expected, atol=1e-6)
    warnings = [record.getMessage() for record in caplog.records if record.name == "ragkit.onnx_embedder"]
    assert len(warnings) == 1 and "damaged" in warnings[0] and "exporting it again" in warnings[0], warnings
    built_at = model.stat().st_mtime_ns
    load_onnx_int8(next(iter(ONNX_INT8_MODELS)))
    assert model.stat().st_mtime_ns == built_at  # whole again: reused, not exported a second time


def test_a_model_from_before_completion_records_is_adopted_if_it_loads(exported_cache, tmp_path, monkeypatch):
    cache, model = _copied_cache(exported_cache, tmp_path)
    model.with_name("model-int8.json").unlink()
    monkeypatch.setattr(onnx_embedder, "_export", lambda *_: pytest.fail("a whole model was exported again"))
    assert int8_model_path(cache_dir=cache) == model and model.with_name("model-int8.json").exists()


def test_a_damaged_model_whose_export_fails_is_one_error_not_a_loop(exported_cache, tmp_path, monkeypatch):
    cache, model = _copied_cache(exported_cache, tmp_path)
    model.write_bytes(b"not an onnx model")
    calls = []
    monkeypatch.setattr(onnx_embedder, "_export", lambda *_: calls.append(1) or (_ for _ in ()).throw(OSError("No space left on device")))
    with pytest.raises(ConfigError, match="Could not build the int8 ONNX model.*No space left"):
        int8_model_path(cache_dir=cache)
    assert calls == [1]


def _fake_exporters(monkeypatch, calls: list[str] | None = None):
    """Export and quantise as instant fakes that write a few bytes (the scratch folder's handling is under test)."""
    def export(model_dir, target):
        (calls if calls is not None else []).append(str(target.parent))
        target.write_bytes(b"fp32 " * 1000)

    monkeypatch.setattr(onnx_embedder, "_export", export)
    monkeypatch.setattr(onnx_embedder, "_quantise", lambda source, target: target.write_bytes(b"int8 model"))


def _scratch(cache, name: str, age_hours: float = 0.0):
    folder = cache / name
    folder.mkdir(parents=True)
    (folder / "model-fp32.onnx").write_bytes(b"half an export")
    if age_hours:
        when = time.time() - age_hours * 3600
        os.utime(folder, (when, when))
    return folder


def test_an_export_works_in_a_scratch_folder_beside_the_cache_and_removes_stale_ones(tmp_path, monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # a process id that is gone now
    gone.wait()
    dead = _scratch(tmp_path, f".export-{gone.pid}-k1lled")
    old = _scratch(tmp_path, f".export-{os.getpid()}-0ld", age_hours=STALE_SCRATCH_HOURS + 1)  # a live id, reused
    running = _scratch(tmp_path, f".export-{os.getpid()}-running")  # another export of this process, still going
    legacy = _scratch(tmp_path, "all-MiniLM-L6-v2-0000000000000000/tmpab12cd", age_hours=STALE_SCRATCH_HOURS + 1)
    calls: list[str] = []
    _fake_exporters(monkeypatch, calls)
    path = int8_model_path(cache_dir=tmp_path)
    assert path.read_bytes() == b"int8 model" and path.with_name("model-int8.json").exists()
    assert sorted(item.name for item in path.parent.iterdir()) == ["model-int8.json", "model-int8.onnx"]
    assert Path(calls[0]).parent == tmp_path and Path(calls[0]).name.startswith(f".export-{os.getpid()}-")
    assert not dead.exists() and not old.exists() and not legacy.exists()
    assert running.exists()
    assert sorted(item.name for item in tmp_path.iterdir() if item.name.startswith(".export-")) == [running.name]


def test_a_killed_export_leaves_a_scratch_folder_that_the_next_export_removes(tmp_path, monkeypatch):
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from ragkit import onnx_embedder\n"
        "def export(model_dir, target):\n"
        "    target.write_bytes(b'x' * 100000)\n"
        "    print(target.parent, flush=True)\n"
        "    time.sleep(600)\n"
        "onnx_embedder._export = export\n"
        "onnx_embedder.int8_model_path(cache_dir=Path(sys.argv[1]))\n"
    )
    exporter = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        scratch = Path(exporter.stdout.readline().strip())
    finally:
        exporter.kill()
        exporter.wait()
    assert (scratch / "model-fp32.onnx").exists()  # killed mid-export: its scratch folder is left behind
    assert list(tmp_path.glob("*/model-int8.onnx")) == []  # and nothing half-made is in the model's place
    _fake_exporters(monkeypatch)
    path = int8_model_path(cache_dir=tmp_path)
    assert not scratch.exists() and path.read_bytes() == b"int8 model"
    assert [item for item in tmp_path.rglob("*") if item.is_dir()] == [path.parent]  # no scratch anywhere
    assert scratch.parent == tmp_path  # it was beside the model folders, not inside one


def test_a_failed_export_leaves_no_scratch_folder_and_a_damaged_model_is_replaced_whole(tmp_path, monkeypatch):
    _fake_exporters(monkeypatch)
    path = int8_model_path(cache_dir=tmp_path)
    path.write_bytes(b"damaged")
    monkeypatch.setattr(onnx_embedder, "_quantise", lambda source, target: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(ConfigError, match="MemoryError"):
        int8_model_path(cache_dir=tmp_path)
    assert [item.name for item in tmp_path.iterdir() if item.is_dir()] == [path.parent.name]
    _fake_exporters(monkeypatch)
    assert int8_model_path(cache_dir=tmp_path) == path and path.read_bytes() == b"int8 model"
    assert [item.name for item in tmp_path.iterdir() if item.is_dir()] == [path.parent.name]
