"""Benchmark: LanceDB search latency and ANN recall at 10k, 100k and 1M vectors (384-d, store only).

For each size: a fresh LanceDB table of unit vectors; exact search (no index) latency p50/p95;
then the ANN index the ingestion flow builds past `ann_index_threshold` (dataflows/stores/lancedb.py
`maintained_index`, same index config), its build time, latency p50/p95, and recall@10 against
exact top-10 (computed with numpy). The vectors are synthetic: `clustered` (default) draws them
around random centres, like real sentence embeddings, which have structure; `uniform` draws them
uniformly on the sphere, the worst case for any ANN index (nearest neighbours are barely nearer
than anything else). Queries are drawn from the same distribution, never from the table.

    python bench/query_scale.py [--sizes 10000,100000,1000000] [--data clustered|uniform]
           [--index-type ivf_hnsw_sq] [--queries 200] [--exact-queries 30] [--nprobes 0] [--ef 0,64,128] [--refine 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("LANCE_LOG", "error")
os.environ.setdefault("LANCEDB_LOG", "error")
import lancedb  # noqa: E402

from dataflows.stores.lancedb import _ann_config  # noqa: E402

DIMENSION = 384
WRITE_ROWS = 100_000


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def vectors(count: int, data: str, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """`count` unit vectors: uniform on the sphere, or a centre plus noise (cosine to the centre about 0.75)."""
    if data == "uniform":
        return _unit(rng.standard_normal((count, DIMENSION), dtype=np.float32))
    picks = rng.integers(0, len(centres), count)
    noise = rng.standard_normal((count, DIMENSION), dtype=np.float32) * (0.9 / np.sqrt(DIMENSION))
    return _unit(centres[picks] + noise)


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def timed_searches(table, queries: np.ndarray, **settings) -> tuple[list[float], list[list[int]]]:
    latencies, found = [], []
    for query in queries:
        search = table.search(query).distance_type("cosine").select(["id"]).limit(10)
        if settings.get("exact"):
            search = search.bypass_vector_index()
        else:
            if settings.get("nprobes"):
                search = search.nprobes(settings["nprobes"])
            if settings.get("ef"):
                search = search.ef(settings["ef"])
            if settings.get("refine"):
                search = search.refine_factor(settings["refine"])
        started = time.perf_counter()
        result = search.to_arrow()
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(result["id"].to_pylist())
    return latencies, found


def exact_top10(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    top = []
    for start in range(0, len(queries), 25):
        scores = queries[start : start + 25] @ data.T
        top.append(np.argsort(-scores, axis=1)[:, :10])
    return np.vstack(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--data", choices=["clustered", "uniform"], default="clustered")
    parser.add_argument("--index-type", default="ivf_hnsw_sq", choices=["ivf_pq", "ivf_hnsw_sq", "ivf_hnsw_pq"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=30)
    parser.add_argument("--nprobes", type=int, default=0, help="IVF partitions probed (0: LanceDB's default)")
    parser.add_argument("--ef", default="0", help="HNSW search breadths to try on the same index, comma-separated (0: LanceDB's default)")
    parser.add_argument("--refine", type=int, default=0, help="re-rank refine x 10 candidates with full vectors (0: off)")
    parser.add_argument("--folder", default="", help="where the tables go (default: a temporary folder)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    centres = _unit(rng.standard_normal((2000, DIMENSION), dtype=np.float32))
    print(f"load average: {os.getloadavg()[0]:.2f} (1 min)   data: {args.data}   index: {args.index_type}   "
          f"nprobes {args.nprobes or 'default'}, ef {args.ef}, refine {args.refine or 'off'}")
    rows = []
    with tempfile.TemporaryDirectory(dir=args.folder or None) as folder:
        db = lancedb.connect(folder)
        for size in [int(s) for s in args.sizes.split(",")]:
            data = np.empty((size, DIMENSION), dtype=np.float32)
            schema = pa.schema([pa.field("id", pa.int64()), pa.field("vector", pa.list_(pa.float32(), DIMENSION))])
            table = db.create_table(f"v{size}", schema=schema)
            for start in range(0, size, WRITE_ROWS):
                block = vectors(min(WRITE_ROWS, size - start), args.data, rng, centres)
                data[start : start + len(block)] = block
                table.add(pa.Table.from_pydict(
                    {"id": np.arange(start, start + len(block)),
                     "vector": pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), DIMENSION)}, schema=schema))
            table.optimize()
            queries = vectors(args.queries, args.data, rng, centres)
            truth = exact_top10(data, queries)
            exact_ms, _ = timed_searches(table, queries[: args.exact_queries], exact=True)
            started = time.perf_counter()
            table.create_index("vector", config=_ann_config(args.index_type, size, DIMENSION))
            build_s = time.perf_counter() - started
            for ef in [int(e) for e in args.ef.split(",")]:
                timed_searches(table, queries[:20], nprobes=args.nprobes, ef=ef, refine=args.refine)  # warm the index cache
                ann_ms, found = timed_searches(table, queries, nprobes=args.nprobes, ef=ef, refine=args.refine)
                recall = float(np.mean([len(set(f) & set(t.tolist())) / 10 for f, t in zip(found, truth)]))
                row = (size, *percentiles(exact_ms), build_s, ef, *percentiles(ann_ms), recall)
                rows.append(row)
                print(f"{size:>9,} vectors: exact p50 {row[1]:8.2f} ms p95 {row[2]:8.2f} ms | ANN built in {build_s:6.1f} s, "
                      f"ef {ef or 'default'}: p50 {row[5]:6.2f} ms p95 {row[6]:6.2f} ms, recall@10 {recall:.3f}   "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)
            db.drop_table(f"v{size}")
            del data
    print(f"\n| vectors | exact p50 ms | exact p95 ms | {args.index_type} build s | ef | ANN p50 ms | ANN p95 ms | ANN recall@10 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, e50, e95, build, ef, a50, a95, recall in rows:
        print(f"| {size:,} | {e50:.1f} | {e95:.1f} | {build:.1f} | {ef or 'default'} | {a50:.2f} | {a95:.2f} | {recall:.3f} |")


if __name__ == "__main__":
    main()
