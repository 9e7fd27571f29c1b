"""Benchmark: query latency, embed + search, on the default stack at 100k chunks with the ANN index built (issue 15, target 4).

    python bench/query_latency.py [--data-dir DIR] [--chunks 100000] [--queries 300] [--squad-path PATH] [--seed 0]

Builds (once, kept in --data-dir) an index of all 2,067 SQuAD dev paragraphs with the default stack, then pads its
LanceDB table to --chunks rows with filler chunks: copies of the real rows with their own ids and their vectors moved
away from the originals by Gaussian noise (cosine about 0.7 to the chunk they came from), so the ANN index has the
real vectors' structure. They are added 2,000 rows at a time, the store's own write size, so the table has the
fragments an ingestion of that size leaves. The store's own upkeep (`maintained_index`) then builds the ANN and full-text indexes, and
`repair` sets the manifest's count from what is stored. Then, in this process, with the model warmed up, each of
--queries SQuAD dev questions (in --seed's order, skipping any whose vector the embedding cache holds from an earlier
run, so the model embeds every one) goes through `api.search` (top 5, dense), which reports its embed and search
milliseconds; printed are p50 / p95 of embed, search, embed + search, and of the whole call (manifest read, flow,
hits), the share of questions whose gold paragraph is in the top 5, the index state, the peak RSS with the size of
LanceDB's read caches, and the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("LANCE_LOG", "error")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from dataflows.stores import lancedb as lancedb_store  # noqa: E402
from ragkit.schema import Document  # noqa: E402
from ragkit.squad import read_squad_file  # noqa: E402
from workbench import api  # noqa: E402
from workbench.indexes import query_config  # noqa: E402
from workbench.keys import resolve_api_keys  # noqa: E402
from workbench.querying import open_query_flow  # noqa: E402

DEFAULT_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
INDEX = "latency"
NOISE = 0.04  # per dimension, on unit 384-d vectors: |noise| ~ 0.78, cosine to the source row ~ 0.79


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {ordered[len(ordered) // 2]:.2f} ms, p95 {ordered[int(len(ordered) * 0.95)]:.2f} ms"


def _not_cached(config: dict, questions: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """The first `count` distinct questions whose vectors the embedding cache does not hold (the flow's own look-up),
    so every measured query runs the model, whatever earlier runs asked on this data folder."""
    resolved, manifest = query_config(config)
    dr, inputs, handles = open_query_flow(resolved, manifest, resolve_api_keys(None), 5)
    chosen: list[tuple[str, str]] = []
    seen: set[str] = set()
    for question, document_id in questions:
        if len(chosen) == count:
            break
        if question in seen:
            continue
        seen.add(question)
        missing = dr.execute(["texts_missing_from_cache"], inputs={**inputs, "question": question}, overrides=handles)
        if missing["texts_missing_from_cache"]:
            chosen.append((question, document_id))
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} of the questions are not in the embedding cache yet; use a new --data-dir "
                         f"or delete {Path(config['data_dir']) / 'embedding_cache.sqlite'}")
    return chosen


def _table(config: dict):
    resolved = api.resolve_config(config)
    return lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])


def _pad(config: dict, chunks: int) -> None:
    """Add filler rows (copies of the real ones, new ids, noisy vectors) until the table holds `chunks` rows."""
    table = _table(config)
    real = table.to_arrow().filter(pa.compute.invert(pa.compute.starts_with(table.to_arrow()["chunk_id"], "filler-")))
    have = table.count_rows()
    rng = np.random.default_rng(0)
    vectors = np.stack(real["vector"].to_numpy(zero_copy_only=False)).astype(np.float32)
    while have < chunks:
        size = min(2_000, chunks - have)  # the store's own write size (`written_chunk_ids`), so upkeep sees the same fragments
        rows = rng.integers(0, real.num_rows, size)
        batch = real.take(pa.array(rows))
        moved = vectors[rows] + rng.normal(0, NOISE, (size, vectors.shape[1])).astype(np.float32)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        ids = [f"filler-{have + i}" for i in range(size)]
        columns = {name: batch[name] for name in batch.column_names}
        columns["chunk_id"] = pa.array(ids)
        columns["document_id"] = pa.array([f"filler-doc-{(have + i) // 10}" for i in range(size)])
        columns["run_id"] = pa.array(["filler"] * size)
        if "hit_json" in columns:  # the packed copy of each row's fields follows its new ids
            fields = pa.table({name: column for name, column in columns.items() if name in lancedb_store._PACKED_FIELDS})
            columns["hit_json"] = pa.array([lancedb_store._hit_json(row) for row in fields.to_pylist()])
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(moved.ravel()), vectors.shape[1])
        table.add(pa.table(columns).cast(batch.schema))
        have += size
        if have % 20_000 == 0 or have >= chunks:
            print(f"  padded to {have:,} rows", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="/tmp/query-latency")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--seed", type=int, default=0, help="the order the questions are taken in (those already "
                        "in the embedding cache are skipped)")
    args = parser.parse_args()
    config = {"data_dir": args.data_dir, "index_name": INDEX}
    print(f"load average before: {_load()}", flush=True)
    if not any(m["index_name"] == INDEX for m in api.indexes(args.data_dir)):
        started = time.perf_counter()
        api.ingest({**config, "source": "squad", "squad_path": args.squad_path})
        print(f"index of SQuAD dev built in {time.perf_counter() - started:.1f} s", flush=True)
    if _table(config).count_rows() < args.chunks:
        _pad(config, args.chunks)
        started = time.perf_counter()
        resolved = api.resolve_config(config)
        done = lancedb_store.maintained_index(lancedb_store.store_client(resolved["vector_db_config"]), INDEX, {"written": 1})
        print(f"index upkeep {time.perf_counter() - started:.1f} s: {done}", flush=True)
        api.repair(config)
    state = api.index_state(config)
    manifest = api.index_manifest(config)
    print(f"index: {state}; manifest: {manifest['model_name']}, {manifest['chunk_count']:,} chunks", flush=True)

    paragraphs = read_squad_file(args.squad_path)
    questions = [(text, Document.id_for("squad", paragraph.context)) for paragraph in paragraphs
                 for _, text in paragraph.questions]
    random.Random(args.seed).shuffle(questions)
    fresh = _not_cached(config, questions, 30 + args.queries)
    warm, measured = fresh[:30], fresh[30:]
    for question, _ in warm:
        api.search(config, question, top_k=5)
    embed, search, both, wall, found = [], [], [], [], 0
    print(f"load average at the start of the queries: {_load()}", flush=True)
    for question, document_id in measured:
        started = time.perf_counter()
        result = api.search(config, question, top_k=5)
        wall.append((time.perf_counter() - started) * 1000)
        latency = result["latency_ms"]
        embed.append(latency["embed"])
        search.append(latency["search"])
        both.append(latency["embed"] + latency["search"])
        found += any(hit["document_id"] == document_id for hit in result["hits"])
    print(f"{len(measured)} queries, top 5, dense, {manifest['chunk_count']:,} chunks:")
    print(f"  embed          {_percentiles(embed)}")
    print(f"  search         {_percentiles(search)}")
    print(f"  embed + search {_percentiles(both)}   (target: p50 <= 10 ms)")
    print(f"  whole api.search call {_percentiles(wall)}")
    print(f"  gold paragraph in the top 5: {found / len(measured):.3f}")
    session = lancedb_store._SESSION
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; LanceDB read session "
          f"{session.size_bytes / 2**20:.0f} MB in {session.approx_num_items} cached items")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
