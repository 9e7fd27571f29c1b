"""Benchmark: LanceDB search latency and ANN recall at 10k, 100k and 1M vectors (384-d, store only).

For each size: a fresh LanceDB table of unit vectors; exact search (no index) latency p50/p95;
then the ANN index the ingestion flow builds past `ann_index_threshold` (dataflows/stores/lancedb.py
`maintained_index`, same index config), its build time, latency p50/p95, and recall@10 against
exact top-10 (computed with numpy). The vectors are synthetic: `clustered` (default) draws them
around random centres, like real sentence embeddings, which have structure; `uniform` draws them
uniformly on the sphere, the worst case for any ANN index (nearest neighbours are barely nearer
than anything else). Queries are drawn from the same distribution, never from the table.

    python bench/query_scale.py [--sizes 10000,100000,1000000] [--data clustered|uniform]
           [--index-type ivf_hnsw_sq] [--queries 200] [--exact-queries 30] [--nprobes 0] [--ef 0,64,128] [--refine 0,2]
           [--results rows.jsonl] [--from-results rows.jsonl ...] [--plot docs/query_scale.png]

Every combination of --nprobes, --ef and --refine is measured on the same index; `--results` saves the
rows so runs at different sizes can be printed and plotted together (`--sizes "" --from-results ...`).
"""

from __future__ import annotations

import argparse
import itertools
import json
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


def timed_searches(table, queries: np.ndarray, **settings: int) -> tuple[list[float], list[list[int]]]:
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


def plot(rows: list[dict], path: str) -> None:
    """Latency p50 (exact and each ANN setting) and ANN recall@10 against the number of vectors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (latency, recall) = plt.subplots(1, 2, figsize=(11, 4))
    exact = sorted({(r["vectors"], r["exact_p50"]) for r in rows})
    latency.plot([v for v, _ in exact], [p for _, p in exact], marker="s", color="black", label="exact (no index)")
    for label in dict.fromkeys(_setting(r) for r in rows):
        points = sorted((r for r in rows if _setting(r) == label), key=lambda r: r["vectors"])
        sizes = [r["vectors"] for r in points]
        latency.plot(sizes, [r["ann_p50"] for r in points], marker="o", label=label)
        recall.plot(sizes, [r["recall"] for r in points], marker="o", label=label)
    latency.axhline(10, color="red", linestyle=":", linewidth=1, label="10 ms target")
    recall.axhline(0.95, color="red", linestyle=":", linewidth=1, label="0.95 target")
    for axis, title in ((latency, "search latency p50 (ms), top 10"), (recall, "ANN recall@10 against exact")):
        axis.set_xscale("log")
        axis.set_xlabel("vectors in the table (384-d)")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    latency.set_yscale("log")
    figure.suptitle("LanceDB search on 2 cores: exact vs ANN (synthetic clustered unit vectors)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot written to {path}")


def _setting(row: dict) -> str:
    parts = [row["index_type"]]
    if row.get("nprobes"):
        parts.append(f"nprobes {row['nprobes']}")
    parts.append(f"ef {row['ef'] or 'default'}")
    if row.get("refine"):
        parts.append(f"refine {row['refine']}")
    return ", ".join(parts)


def _numbers(text: str) -> list[int]:
    return [int(value) for value in text.split(",") if value.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--data", choices=["clustered", "uniform"], default="clustered")
    parser.add_argument("--index-type", default="ivf_hnsw_sq", choices=["ivf_pq", "ivf_hnsw_sq", "ivf_hnsw_pq"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=30)
    parser.add_argument("--nprobes", default="0", help="IVF partitions probed, comma-separated (0: LanceDB's default)")
    parser.add_argument("--ef", default="0", help="HNSW search breadths to try on the same index, comma-separated (0: LanceDB's default)")
    parser.add_argument("--refine", default="0", help="re-rank refine x 10 candidates with full vectors, comma-separated (0: off)")
    parser.add_argument("--folder", default="", help="where the tables go (default: a temporary folder)")
    parser.add_argument("--results", default="", help="append each row as a JSON line to this file")
    parser.add_argument("--from-results", nargs="*", default=[], help="also print (and plot) rows saved by earlier runs")
    parser.add_argument("--plot", default="", help="write a PNG of latency and recall against the number of vectors")
    args = parser.parse_args()

    rows = [json.loads(line) for path in args.from_results for line in Path(path).read_text().splitlines() if line.strip()]
    rng = np.random.default_rng(0)
    centres = _unit(rng.standard_normal((2000, DIMENSION), dtype=np.float32))
    sizes = _numbers(args.sizes) if args.sizes else []
    if sizes:
        print(f"load average: {os.getloadavg()[0]:.2f} (1 min)   data: {args.data}   index: {args.index_type}   "
              f"nprobes {args.nprobes}, ef {args.ef}, refine {args.refine} (0: default / off)")
    with tempfile.TemporaryDirectory(dir=args.folder or None) as folder:
        db = lancedb.connect(folder)
        for size in sizes:
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
            exact_load = os.getloadavg()[0]
            exact_ms, _ = timed_searches(table, queries[: args.exact_queries], exact=True)
            started = time.perf_counter()
            table.create_index("vector", config=_ann_config(args.index_type, size, DIMENSION))
            build_s = time.perf_counter() - started
            for nprobes, ef, refine in itertools.product(_numbers(args.nprobes), _numbers(args.ef), _numbers(args.refine)):
                settings = {"nprobes": nprobes, "ef": ef, "refine": refine}
                timed_searches(table, queries[:20], **settings)  # warm the index cache
                load = os.getloadavg()[0]
                ann_ms, found = timed_searches(table, queries, **settings)
                recall = float(np.mean([len(set(f) & set(t.tolist())) / 10 for f, t in zip(found, truth)]))
                exact_p50, exact_p95 = percentiles(exact_ms)
                ann_p50, ann_p95 = percentiles(ann_ms)
                row = {"vectors": size, "data": args.data, "index_type": args.index_type, **settings,
                       "exact_p50": round(exact_p50, 2), "exact_p95": round(exact_p95, 2), "build_s": round(build_s, 1),
                       "ann_p50": round(ann_p50, 2), "ann_p95": round(ann_p95, 2), "recall": round(recall, 3),
                       "load_exact": round(exact_load, 2), "load_ann": round(load, 2)}
                rows.append(row)
                if args.results:
                    with open(args.results, "a") as handle:
                        handle.write(json.dumps(row) + "\n")
                print(f"{size:>9,} vectors: exact p50 {exact_p50:8.2f} ms p95 {exact_p95:8.2f} ms | {_setting(row)}: built in "
                      f"{build_s:6.1f} s, p50 {ann_p50:6.2f} ms p95 {ann_p95:6.2f} ms, recall@10 {recall:.3f}   (load {load:.2f})",
                      flush=True)
            db.drop_table(f"v{size}")
            del data
    print("\n| vectors | exact p50 ms | exact p95 ms | ANN index, query settings | build s | ANN p50 ms | ANN p95 ms "
          "| ANN recall@10 | load 1-min (exact / ANN) |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['vectors']:,} | {r['exact_p50']:.1f} | {r['exact_p95']:.1f} | {_setting(r)} | {r['build_s']:.1f} | "
              f"{r['ann_p50']:.2f} | {r['ann_p95']:.2f} | {r['recall']:.3f} | {r['load_exact']} / {r['load_ann']} |")
    if args.plot and rows:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
