"""Benchmark: the local embedders — torch float32 vs int8 ONNX all-MiniLM-L6-v2 — speed and SQuAD dev recall@10.

Each backend is measured in its own fresh process (two inference runtimes in one process slow each
other down), then recall is computed here from the vectors they return.

1. Batch-size sweep of each backend over a sample of SQuAD dev chunks (the texts ingestion embeds),
   each in length-sorted batches as the `fresh_embeddings` node does; the best size is the backend's
   default (`DEFAULT_BATCH_SIZES` / `OnnxEmbedder.best_batch_size`).
2. Throughput of each at its best batch size over all dev chunks, and the ratio.
3. Retrieval quality: every dev question against every dev chunk by cosine (exact); recall@10 is the
   share of questions whose gold paragraph has a chunk in the top 10.

    python bench/embedder_backends.py [--squad-path PATH] [--sweep-sample 512] [--batch-sizes 8,16,32,64,128]
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

import numpy as np  # noqa: E402

from ragkit.local_models import load_sentence_transformer  # noqa: E402
from ragkit.squad import read_squad_file  # noqa: E402
from workbench import api  # noqa: E402

DEFAULT_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
BACKENDS = {"torch float32": "all-MiniLM-L6-v2", "onnx int8": "all-MiniLM-L6-v2-onnx-int8"}


def rate(model, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - started)


def measure(model_name: str, squad_path: str, sweep_sample: int, batch_sizes: str, out: str) -> None:
    """In a fresh process: sweep batch sizes, time all dev chunks at the best one, save chunk and question vectors."""
    texts, _, questions, _ = corpus(squad_path)
    model = load_sentence_transformer(model_name)
    sweep = texts[:: max(1, len(texts) // sweep_sample)][:sweep_sample]
    model.encode(sweep[:64], batch_size=32)  # warm-up
    rates = {size: rate(model, sweep, size) for size in [int(b) for b in batch_sizes.split(",")]}
    best = max(rates, key=rates.get)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    chunk_vectors = model.encode(texts, batch_size=best, normalize_embeddings=True, convert_to_numpy=True)
    throughput = len(texts) / (time.perf_counter() - started)
    question_vectors = model.encode(questions, batch_size=best, normalize_embeddings=True, convert_to_numpy=True)
    np.savez(out, chunks=chunk_vectors, questions=question_vectors)
    print("RESULT " + json.dumps({"rates": rates, "best": best, "throughput": throughput, "load": [load, os.getloadavg()[0]]}))


def corpus(squad_path: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """Dev chunks (as ingestion makes them), their paragraph ids, and (question, gold paragraph id) pairs."""
    from ragkit.schema import Document

    with tempfile.TemporaryDirectory() as scratch:
        chunks, _ = api.preview_chunks({"source": "squad", "squad_path": squad_path, "data_dir": scratch})
    paragraphs = read_squad_file(squad_path)
    gold = [(question, Document.id_for("squad", p.context)) for p in paragraphs for _, question in p.questions]
    return [c.text for c in chunks], [c.document_id for c in chunks], [q for q, _ in gold], [g for _, g in gold]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--sweep-sample", type=int, default=512)
    parser.add_argument("--batch-sizes", default="8,16,32,64,128")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.squad_path, args.sweep_sample, args.batch_sizes, args.out)
        return

    texts, chunk_documents, questions, gold = corpus(args.squad_path)
    print(f"{len(texts)} dev chunks, {len(questions)} questions; load average {os.getloadavg()[0]:.2f}")
    results, recall = {}, {}
    chunk_document = np.array(chunk_documents)
    with tempfile.TemporaryDirectory() as scratch:
        for name, model_name in BACKENDS.items():
            out = f"{scratch}/{model_name}.npz"
            done = subprocess.run([sys.executable, __file__, "--measure", model_name, "--out", out, "--squad-path", args.squad_path,
                                   "--sweep-sample", str(args.sweep_sample), "--batch-sizes", args.batch_sizes],
                                  capture_output=True, text=True, check=True)
            results[name] = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
            vectors = np.load(out)
            hits = 0
            for start in range(0, len(questions), 512):
                top = np.argsort(-(vectors["questions"][start : start + 512] @ vectors["chunks"].T), axis=1)[:, :10]
                hits += sum(document_id in set(chunk_document[row]) for row, document_id in zip(top, gold[start : start + 512]))
            recall[name] = hits / len(questions)
            r = results[name]
            print(f"{name:>14} sweep: " + ", ".join(f"batch {s} {v:.1f}/s" for s, v in r["rates"].items())
                  + f" -> best {r['best']}; all chunks {r['throughput']:.1f}/s; load {r['load'][0]:.2f} -> {r['load'][1]:.2f}", flush=True)
    torch_name, onnx_name = list(BACKENDS)
    print("\n| backend | best batch | chunks/s (all dev chunks) | speed-up | SQuAD dev recall@10 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in BACKENDS:
        r = results[name]
        print(f"| {name} | {r['best']} | {r['throughput']:.1f} | {r['throughput'] / results[torch_name]['throughput']:.2f}x | {recall[name]:.4f} |")
    print(f"\nrecall@10 difference (onnx - torch): {recall[onnx_name] - recall[torch_name]:+.4f}")


if __name__ == "__main__":
    main()
