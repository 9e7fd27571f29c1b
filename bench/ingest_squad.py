"""Benchmark: ingest all SQuAD v1.1 dev paragraphs with the default stack; compare with a bare encode loop.

Prints paragraphs/s end to end (warm model, fresh LanceDB and fresh embedding cache), the time
inside model inference (the fresh_embeddings node), the bare `SentenceTransformer.encode`
throughput over the same texts at its best batch size, and a re-run's time.

    python bench/ingest_squad.py [--squad-path PATH] [--sweep-sample 400]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ragkit.local_models import load_sentence_transformer  # noqa: E402
from ragkit.squad import read_squad_file  # noqa: E402
from workbench import api  # noqa: E402

DEFAULT_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"


def bare_encode_seconds(model, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--sweep-sample", type=int, default=400, help="texts used to pick the best batch size")
    parser.add_argument("--batch-sizes", default="16,32,64,128")
    args = parser.parse_args()

    paragraphs = read_squad_file(args.squad_path)
    with tempfile.TemporaryDirectory() as scratch:
        chunks, _ = api.preview_chunks({"source": "squad", "squad_path": args.squad_path, "data_dir": scratch})
    # The same texts the pipeline embeds: paragraphs, split where longer than the model's 256-token input.
    texts = [chunk.text for chunk in chunks]
    print(f"{len(paragraphs)} paragraphs -> {len(texts)} chunks within the model's input limit")
    model = load_sentence_transformer("all-MiniLM-L6-v2")
    model.encode(texts[:64], batch_size=32)  # warm-up

    sweep = texts[:: max(1, len(texts) // args.sweep_sample)][: args.sweep_sample]
    print(f"batch-size sweep over {len(sweep)} chunks (bare encode):")
    rates = {}
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        rates[batch_size] = len(sweep) / bare_encode_seconds(model, sweep, batch_size)
        print(f"  batch {batch_size:>4}: {rates[batch_size]:7.1f} chunks/s")
    best = max(rates, key=rates.get)

    bare = bare_encode_seconds(model, texts, best)
    print(f"\nbare encode loop, {len(texts)} chunks, batch {best}: {bare:.1f} s = {len(texts) / bare:.1f} chunks/s "
          f"= {len(paragraphs) / bare:.1f} paragraphs/s")

    with tempfile.TemporaryDirectory() as data_dir:
        config = {"source": "squad", "squad_path": args.squad_path, "data_dir": data_dir, "index_name": "bench",
                  "embedding_batch_size": best}
        started = time.perf_counter()
        record = api.ingest(config)
        first = time.perf_counter() - started
        inference = record["timings"]["fresh_embeddings"]
        started = time.perf_counter()
        again = api.ingest(config)
        second = time.perf_counter() - started

    counts = record["counts"]
    print(f"pipeline end to end (warm model, fresh store and cache): {first:.1f} s = {len(paragraphs) / first:.1f} paragraphs/s "
          f"({counts['chunked']} chunks written {counts['written']})")
    print(f"  inside model inference (fresh_embeddings): {inference:.1f} s; everything else: {first - inference:.1f} s")
    print(f"  end-to-end throughput / bare encode throughput: {bare / first:.3f}")
    slowest = sorted(record["timings"].items(), key=lambda item: -item[1])[:5]
    print("  slowest nodes: " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in slowest))
    print(f"re-run (no-op, {again['counts']['skipped_unchanged']} chunks unchanged): {second:.2f} s = "
          f"{100 * second / first:.1f}% of the first run")


if __name__ == "__main__":
    main()
