"""Streaming ingestion (real model, real LanceDB): batches give the same index as one batch, a killed run resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dataflows.stores import lancedb as lancedb_store
from ragkit.schema import InputFile
from tests.conftest import REPO, SQUAD_SAMPLE
from workbench import api
from workbench.catalog import Catalog


def _table(config: dict):
    resolved = api.resolve_config(config)
    return lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])


def _stored(config: dict) -> dict[str, dict]:
    """Stored rows by chunk id (vector included, run lineage left out), each checked against its packed hit fields."""
    stored = {}
    for row in _table(config).to_arrow().to_pylist():
        packed = json.loads(row.pop("hit_json"))
        assert packed == {name: row[name] for name in packed} and len(packed) == len(row) - 3  # all but two texts, vector
        stored[row["chunk_id"]] = {k: v for k, v in row.items() if k not in ("run_id", "ingested_at")}
    return stored


def _squad(tmp_path, name: str, **settings) -> dict:
    return {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(tmp_path / name), "index_name": "squad", **settings}


# The float32 torch model: its vector of a text does not depend on the batch the text was embedded in, so the rows
# can be compared to 1e-5. The int8 ONNX default quantises activations per model call, so its vector of a text moves
# with the batch by about as much as int8 moves it from float32 (cosine 0.991 or more; `test_onnx_embedder.py`).
EXACT_MODEL = "all-MiniLM-L6-v2"


def test_batched_ingest_stores_exactly_what_a_single_batch_stores(tmp_path):
    whole = api.ingest(_squad(tmp_path, "whole", ingest_batch_documents=10_000, model_name=EXACT_MODEL))
    batched = api.ingest(_squad(tmp_path, "batched", ingest_batch_documents=7, model_name=EXACT_MODEL))
    calls = {record["run_id"]: record["counts"].pop("model_calls") for record in (whole, batched)}
    assert whole["counts"] == batched["counts"] and batched["counts"]["written"] >= 30
    assert calls[whole["run_id"]] < calls[batched["run_id"]]  # each batch embeds its own texts: more, smaller calls
    assert len(Catalog(tmp_path / "whole").run_batches(whole["run_id"])) == 1
    batches = Catalog(tmp_path / "batched").run_batches(batched["run_id"])
    assert [b["batch_number"] for b in batches] == [0, 1, 2, 3, 4]  # 30 paragraphs in batches of 7
    assert sum(b["documents"] for b in batches) == 30
    one, many = _stored(_squad(tmp_path, "whole", model_name=EXACT_MODEL)), _stored(_squad(tmp_path, "batched", model_name=EXACT_MODEL))
    assert set(one) == set(many)
    for chunk_id, row in one.items():
        other = many[chunk_id]
        assert {k: v for k, v in row.items() if k != "vector"} == {k: v for k, v in other.items() if k != "vector"}
        assert np.allclose(row["vector"], other["vector"], atol=1e-5)
    assert {"fresh_embeddings", "written_chunk_ids", "chunks_raw", "document_batches"} <= set(batched["timings"])


def test_batches_of_files_keep_same_named_files_together_and_replace_per_document(files_config):
    files = [InputFile(f"doc{i}.txt", data=f"Document number {i} is about topic {i}.".encode()) for i in range(5)]
    clash = [InputFile("doc1.txt", data=b"Another file that claims the same name.")]
    record = api.ingest({**files_config, "ingest_batch_documents": 2}, files=files + clash)
    assert record["counts"]["read"] == 5 and record["counts"]["written"] == 5
    assert [e["source_name"] for e in record["file_errors"]] == ["doc1.txt"]  # the clash is reported, not ingested twice
    changed = [InputFile("doc3.txt", data=b"Document three now talks about owls.")]
    again = api.ingest({**files_config, "ingest_batch_documents": 2}, files=files[:3] + changed + files[4:])
    assert again["counts"]["written"] == 1 and again["counts"]["deleted_stale"] == 1
    assert again["counts"]["skipped_unchanged"] == 4
    texts = {row["source_name"]: row["text"] for row in _table(files_config).to_arrow().to_pylist()}
    assert texts["doc3.txt"] == "Document three now talks about owls." and len(texts) == 5


def test_batches_of_one_process_share_one_parser_child(files_config, monkeypatch):
    from ragkit import parsers

    started: list[list[str]] = []
    real_popen = subprocess.Popen

    def popen(args, *rest, **kwargs):
        if any("_serve_parse_requests" in str(arg) for arg in args):
            started.append(list(args))
        return real_popen(args, *rest, **kwargs)

    monkeypatch.setattr(parsers.subprocess, "Popen", popen)
    files = [InputFile(f"doc{i}.txt", data=f"Document number {i} is about topic {i}.".encode()) for i in range(9)]
    record = api.ingest({**files_config, "ingest_batch_documents": 3}, files=files)
    assert record["counts"]["written"] == 9 and len(Catalog(files_config["data_dir"]).run_batches(record["run_id"])) == 3
    assert len(started) <= 1  # the child of the first batch (or of an earlier test) serves the next ones
    again = api.ingest({**files_config, "ingest_batch_documents": 3}, files=[InputFile("new.txt", data=b"A new one.")])
    assert again["counts"]["written"] == 1 and len(started) <= 1


def test_progress_reports_batches_from_the_driver_process(tmp_path):
    events: list[tuple[str, int, int]] = []
    from ragkit.schema import Progress

    api.ingest(_squad(tmp_path, "p", ingest_batch_documents=10), progress=Progress(lambda *e: events.append(e)))
    batches = [e for e in events if e[0] == "batches"]
    assert batches[0] == ("batches", 0, 3) and batches[-1] == ("batches", 3, 3)
    assert any(e[0] == "fresh_embeddings" for e in events)  # the synchronous executor also reports each batch's steps


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_parallel_executors_write_the_same_chunks_as_the_synchronous_one(tmp_path, executor):
    sync = api.ingest(_squad(tmp_path, "sync", ingest_batch_documents=8))
    parallel = api.ingest(_squad(tmp_path, executor, ingest_batch_documents=8, executor=executor, executor_workers=2))
    assert parallel["status"] == "succeeded" and parallel["counts"] == sync["counts"]
    assert set(_stored(_squad(tmp_path, executor))) == set(_stored(_squad(tmp_path, "sync")))
    workers = {b["worker"] for b in Catalog(tmp_path / executor).run_batches(parallel["run_id"])}
    in_this_process = {w for w in workers if w.endswith(f":{os.getpid()}")}
    assert (in_this_process == workers) == (executor == "threads")  # processes ran the batches elsewhere


_KILLED_RUN = textwrap.dedent(
    """
    import json, os, signal, sys
    from workbench import api
    from ragkit.schema import Progress

    config = json.loads(sys.argv[1])

    def on_progress(step, done, total):
        if step == "batches" and done == 2:  # two batches are written and recorded: die without any cleanup
            os.kill(os.getpid(), signal.SIGKILL)

    api.ingest(config, progress=Progress(on_progress))
    """
)


def test_a_run_killed_after_two_batches_resumes_to_exactly_the_expected_chunks(tmp_path):
    config = _squad(tmp_path, "killed", ingest_batch_documents=6)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    killed = subprocess.run([sys.executable, "-c", _KILLED_RUN, json.dumps(config)], cwd=REPO, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]

    (first,) = api.runs(config["data_dir"])
    assert first["status"] == "interrupted"
    finished = Catalog(config["data_dir"]).run_batches(first["run_id"])
    assert [b["batch_number"] for b in finished] == [0, 1]
    assert first["counts"]["read"] == 12  # the record kept what the two finished batches did
    written_before = _table(config).count_rows()
    assert written_before == first["counts"]["written"] > 0
    assert api.index_manifest(config)["chunk_count"] == written_before  # the manifest followed each finished batch

    resumed = api.ingest(config)
    expected, _ = api.preview_chunks(config)
    assert set(_stored(config)) == {chunk.chunk_id for chunk in expected}
    assert resumed["status"] == "succeeded"
    assert resumed["counts"]["skipped_unchanged"] == written_before  # what was written is not redone
    assert resumed["counts"]["written"] == len(expected) - written_before
