"""The Ray executor, for real: a local Ray instance (ray.init(num_cpus=2)) runs the batches on two Ray actors, and
the index ends with exactly the chunk ids of the synchronous run."""

from __future__ import annotations

import os

import pytest

from dataflows.stores import lancedb as lancedb_store
from tests.conftest import REPO, SQUAD_SAMPLE
from workbench import api
from workbench.catalog import Catalog

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance with two CPUs, shut down after the module's tests."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}})
    yield ray
    ray.shutdown()


def _chunk_ids(config: dict) -> set[str]:
    resolved = api.resolve_config(config)
    table = lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])
    return set(table.to_arrow()["chunk_id"].to_pylist())


def test_ray_run_writes_exactly_the_chunk_ids_of_the_synchronous_run(tmp_path, local_ray):
    base = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "index_name": "squad", "ingest_batch_documents": 3,
            "executor_workers": 2}
    sync = api.ingest({**base, "data_dir": str(tmp_path / "sync")})
    on_ray = api.ingest({**base, "data_dir": str(tmp_path / "ray"), "executor": "ray"})

    assert on_ray["status"] == "succeeded" and on_ray["config"]["executor"] == "ray"
    assert on_ray["counts"] == sync["counts"] and on_ray["counts"]["written"] >= 30
    assert _chunk_ids({**base, "data_dir": str(tmp_path / "ray")}) == _chunk_ids({**base, "data_dir": str(tmp_path / "sync")})
    batches = Catalog(tmp_path / "ray").run_batches(on_ray["run_id"])
    assert len(batches) == 10  # 30 paragraphs in batches of 3: ten Ray tasks
    workers = {b["worker"] for b in batches}
    assert all(not worker.endswith(f":{os.getpid()}") for worker in workers)  # each ran in a Ray worker process
    assert len(workers) == 2  # on the two workers asked for, not a new process (and model) whenever a task blocked
    assert {"fresh_embeddings", "written_chunk_ids"} <= set(on_ray["timings"])  # node times come back from the workers

    again = api.ingest({**base, "data_dir": str(tmp_path / "ray"), "executor": "ray"})
    assert again["counts"]["written"] == 0 and again["counts"]["skipped_unchanged"] == sync["counts"]["chunked"]
    assert {b["worker"] for b in Catalog(tmp_path / "ray").run_batches(again["run_id"])} <= workers  # kept between runs


@pytest.mark.timeout(300)  # the failure this guards against is a hang
def test_more_workers_than_ray_has_cpus_run_on_the_cpus_there_are(tmp_path, local_ray):
    config = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "index_name": "squad", "ingest_batch_documents": 10,
              "executor": "ray", "executor_workers": 4, "data_dir": str(tmp_path)}
    record = api.ingest(config)  # four one-CPU actors on two CPUs: two would wait for a CPU forever, and their batches
    assert record["status"] == "succeeded" and record["counts"]["written"] >= 30
    assert len({b["worker"] for b in Catalog(tmp_path).run_batches(record["run_id"])}) <= 2
