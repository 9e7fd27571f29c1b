"""Benchmark: ingest all SQuAD v1.1 dev paragraphs with the default stack; compare with a bare torch encode loop.

Prints the bare `SentenceTransformer.encode` throughput of the float32 torch model over the texts the pipeline
embeds, at its best batch size (a sweep), measured in a child process of its own (torch's and ONNX Runtime's thread
pools slow each other in one process); then the default stack end to end in this process (warm model, fresh LanceDB and
fresh embedding cache, the product's default model and batch size), its time inside model inference (the
fresh_embeddings node), the ratio of the two throughputs (issue 15, target 2: >= 1.7), and a re-run's time.

    python bench/ingest_squad.py [--squad-path PATH] [--sweep-sample 400] [--batch-sizes 8,16,32,64,128]
                                 [--model-name NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ragkit.squad import read_squad_file  # noqa: E402

DEFAULT_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
TORCH_MODEL = "all-MiniLM-L6-v2"


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def bare_encode_seconds(model, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return time.perf_counter() - started


def bare_torch(texts_file: str, sweep_sample: int, batch_sizes: list[int]) -> dict:
    """The child process: the torch model's batch-size sweep, then one encode of every text at the best size."""
    from ragkit.local_models import load_sentence_transformer

    texts = json.loads(Path(texts_file).read_text())
    model = load_sentence_transformer(TORCH_MODEL)
    model.encode(texts[:64], batch_size=32)  # warm-up
    sweep = texts[:: max(1, len(texts) // sweep_sample)][:sweep_sample]
    rates = {size: len(sweep) / bare_encode_seconds(model, sweep, size) for size in batch_sizes}
    best = max(rates, key=rates.get)
    return {"rates": rates, "best": best, "seconds": bare_encode_seconds(model, texts, best), "sweep": len(sweep)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--sweep-sample", type=int, default=400, help="texts used to pick the bare loop's best batch size")
    parser.add_argument("--batch-sizes", default="8,16,32,64,128")
    parser.add_argument("--model-name", default="", help="the pipeline's local model (default: the product's)")
    parser.add_argument("--bare-torch", default="", help=argparse.SUPPRESS)  # the child process: a JSON file of texts
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.bare_torch:
        print(json.dumps(bare_torch(args.bare_torch, args.sweep_sample, batch_sizes)))
        return

    from workbench import api

    paragraphs = read_squad_file(args.squad_path)
    config = {"source": "squad", "squad_path": args.squad_path, "index_name": "bench", "model_name": args.model_name}
    with tempfile.TemporaryDirectory() as scratch:
        chunks, _ = api.preview_chunks({**config, "data_dir": scratch})
        texts = [chunk.indexed_text for chunk in chunks]  # what the pipeline embeds (within the model's 256-token input)
        texts_file = Path(scratch) / "texts.json"
        texts_file.write_text(json.dumps(texts))
        print(f"{len(paragraphs)} paragraphs -> {len(texts)} chunks; load {_load()}", flush=True)
        child = subprocess.run([sys.executable, __file__, "--bare-torch", str(texts_file), "--sweep-sample",
                                str(args.sweep_sample), "--batch-sizes", args.batch_sizes],
                               capture_output=True, text=True, check=True)
    bare = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"bare torch encode ({TORCH_MODEL}, float32), sweep over {bare['sweep']} chunks: "
          + ", ".join(f"batch {size} {rate:.1f}/s" for size, rate in bare["rates"].items()))
    bare_rate = len(paragraphs) / bare["seconds"]
    print(f"bare torch encode loop, {len(texts)} chunks, batch {bare['best']}: {bare['seconds']:.1f} s = "
          f"{len(texts) / bare['seconds']:.1f} chunks/s = {bare_rate:.1f} paragraphs/s; load {_load()}", flush=True)

    with tempfile.TemporaryDirectory() as data_dir:
        config = {**config, "data_dir": data_dir}
        api.ingest({**config, "index_name": "warm_up", "limit": 20})  # loads the model (the app does at server start)
        started = time.perf_counter()
        record = api.ingest(config)
        first = time.perf_counter() - started
        inference = record["timings"]["fresh_embeddings"]
        started = time.perf_counter()
        again = api.ingest(config)
        second = time.perf_counter() - started
        model = api.index_manifest(config)["model_name"]

    counts = record["counts"]
    rate = len(paragraphs) / first
    print(f"pipeline end to end ({model}, default batch size; warm model, fresh store and cache): {first:.1f} s = "
          f"{rate:.1f} paragraphs/s ({counts['chunked']} chunks, {counts['written']} written); load {_load()}")
    print(f"  inside model inference (fresh_embeddings): {inference:.1f} s; everything else: {first - inference:.1f} s")
    print(f"  end-to-end paragraphs/s / bare torch loop paragraphs/s: {rate / bare_rate:.3f} (target >= 1.7)")
    slowest = sorted(record["timings"].items(), key=lambda item: -item[1])[:5]
    print("  slowest nodes: " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in slowest))
    print(f"re-run (no-op, {again['counts']['skipped_unchanged']} chunks unchanged): {second:.2f} s = "
          f"{100 * second / first:.1f}% of the first run")


if __name__ == "__main__":
    main()
