"""The live DAG follows the run under every executor: node events from the batches' threads, processes and Ray
tasks reach the caller's listener (real model, real LanceDB, three small text files in batches of one)."""

from __future__ import annotations

import pytest

from ragkit.schema import InputFile
from workbench import api
from workbench.lifecycle import NodeStatusListener

FILES = [InputFile(f"note{i}.txt", data=f"Note {i}: owls hunt at night on silent feathers, number {i}.".encode())
         for i in range(3)]


def _ingest_watching(config: dict, files: list[InputFile]) -> tuple[dict, list[tuple], list[tuple]]:
    events: list[tuple] = []
    steps: list[tuple] = []
    listener = NodeStatusListener(lambda *event: None, on_batch_event=lambda *event: events.append(event))
    record = api.ingest({**config, "ingest_batch_documents": 1}, files=files, adapters=[listener],
                        progress=api.Progress(lambda *step: steps.append(step)))
    return record, events, steps


def _batch_states(events: list[tuple], node: str) -> dict[int | None, list[str]]:
    states: dict[int | None, list[str]] = {}
    for name, state, _elapsed, _error, batch in events:
        if name == node:
            states.setdefault(batch, []).append(state)
    return states


@pytest.mark.parametrize("executor", ["sync", "threads", "processes"])
def test_every_batch_reports_its_nodes_running_then_done(files_config, executor):
    record, events, steps = _ingest_watching({**files_config, "executor": executor, "executor_workers": 2}, FILES)
    assert record["counts"]["written"] == 3
    for node in ("parsed_files", "chunks", "fresh_embeddings", "written_chunk_ids"):
        assert _batch_states(events, node) == {0: ["running", "done"], 1: ["running", "done"], 2: ["running", "done"]}, node
    # the batches' own steps reach the caller too, added up over the batches
    embedded = [step for step in steps if step[0] == "fresh_embeddings"]
    assert embedded and embedded[-1] == ("fresh_embeddings", 3, 3)
    assert steps[-1][0] in ("batches", "written_chunk_ids") and ("batches", 3, 3) in steps


@pytest.mark.parametrize("executor", ["sync", "processes"])
def test_a_failed_file_draws_its_parse_node_done_with_errors(files_config, executor):
    broken = InputFile("broken.pdf", data=b"%PDF-1.4 this is not a PDF at all")
    record, events, _ = _ingest_watching({**files_config, "executor": executor, "executor_workers": 2}, [*FILES[:2], broken])
    assert [e["source_name"] for e in record["file_errors"]] == ["broken.pdf"]
    parsed = _batch_states(events, "parsed_files")
    assert sorted(parsed.values()) == [["running", "done"], ["running", "done"], ["running", "done with errors"]]


def test_ray_tasks_report_their_nodes(files_config):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    try:
        record, events, _ = _ingest_watching({**files_config, "executor": "ray", "executor_workers": 2}, FILES)
    finally:
        ray.shutdown()
    assert record["counts"]["written"] == 3
    assert _batch_states(events, "fresh_embeddings") == {0: ["running", "done"], 1: ["running", "done"], 2: ["running", "done"]}
