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


@pytest.mark.ray
def test_ray_tasks_report_their_nodes(files_config):
    ray = pytest.importorskip("ray", reason="the ray executor needs the ray package")
    if ray.is_initialized():
        ray.shutdown()
    try:
        record, events, _ = _ingest_watching({**files_config, "executor": "ray", "executor_workers": 2}, FILES)
    finally:
        ray.shutdown()
    assert record["counts"]["written"] == 3
    assert _batch_states(events, "fresh_embeddings") == {0: ["running", "done"], 1: ["running", "done"], 2: ["running", "done"]}


def test_the_picture_shows_a_running_node_ticking_and_batched_nodes_their_batches(data_dir):
    from workbench.visualize import STATUS_COLOURS, execution_graph, status_digraph

    graph = execution_graph(api.driver_for({"source": "files", "data_dir": str(data_dir)}), api.INGEST_TARGETS)
    live = api.LiveDag()
    live.progress("batches", 1, 3)
    for batch in (0, 1):
        live.node_event("parsed_files", "running", 0.0, "", batch)
        live.node_event("parsed_files", "done with errors" if batch else "done", 0.2, "", batch)
    live.node_event("fresh_embeddings", "running", 0.0, "", 0)
    live.progress("fresh_embeddings", 40, 120)
    started = live.status()["fresh_embeddings"]
    later = live.status(now=__import__("time").monotonic() + 5)
    assert started[0] == "running" and later["fresh_embeddings"][1] >= 5  # elapsed time counted at redraw
    assert later["parsed_files"] == ("done with errors", pytest.approx(0.4))
    assert "chunks" not in later  # not reached: pending
    details = live.details()
    assert details["parsed_files"] == "2/3 batches" and details["fresh_embeddings"] == "0/3 batches · 40 / 120 chunks"
    source = status_digraph(graph, later, details).source
    embed_line = next(line for line in source.splitlines() if line.strip().startswith("fresh_embeddings "))
    assert STATUS_COLOURS["running"][0] in embed_line and "penwidth=2.5" in embed_line and "running 5." in embed_line
    assert "40 / 120 chunks" in embed_line and live.has_errors


def test_a_failed_batch_marks_its_node_failed_even_while_another_batch_runs_it():
    live = api.LiveDag()
    live.node_event("chunks", "running", 0.0, "", 0)
    live.node_event("chunks", "running", 0.0, "", 1)
    live.node_event("chunks", "failed", 0.1, "boom", 0)
    assert live.status()["chunks"][0] == "failed" and not live.has_errors
