"""How far int8 quantisation moves the local model's vectors from float32, per choice of MatMuls left in float32.

    python bench/quantisation_fidelity.py [--texts 600] [--seed 7] [--per-node]

Measured on SQuAD dev texts (half paragraphs, half questions, drawn at random), never on a benchmark's questions,
so that the choice it informs is not fitted to the benchmarks that judge it. Exports the packaged all-MiniLM-L6-v2
to float32 ONNX once (into a scratch folder), quantises it several ways (onnxruntime dynamic quantisation, per
channel, int8 MatMul weights, as `ragkit/onnx_embedder.py` does), embeds the same texts with each at the default
batch size, three rounds interleaved, and prints per variant: 1 - cosine to the float32 ONNX vectors (mean, p95,
max), the speed against float32 ONNX (best round) and the median time to embed one question alone (what a query
pays). Two variants start from the graph onnxruntime's transformer optimizer fuses (Attention, SkipLayerNormalization,
BiasGelu): float32, and int8 with every MatMul outside the fused attention quantised (the fused Attention op keeps
its query/key/value projection in float32). `--per-node` adds one variant per MatMul left in float32 alone (a
sensitivity map). The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from ragkit import onnx_embedder  # noqa: E402

SQUAD = Path(os.environ.get("WORKBENCH_SQUAD_PATH") or REPO.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz")


def _texts(count: int, seed: int) -> list[str]:
    """Half SQuAD dev paragraphs, half questions, drawn at random."""
    with gzip.open(SQUAD, "rt", encoding="utf-8") as file:
        articles = json.load(file)["data"]
    paragraphs = [p["context"] for a in articles for p in a["paragraphs"]]
    questions = [q["question"] for a in articles for p in a["paragraphs"] for q in p["qas"]]
    rng = random.Random(seed)
    return rng.sample(paragraphs, count // 2) + rng.sample(questions, count - count // 2)


def _variants(fp32: Path, per_node: bool) -> dict[str, list[str]]:
    """Variant name -> the MatMuls it leaves in float32."""
    import onnx

    weights = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "MatMul" and "/self/MatMul" not in n.name]
    ffn_output = [n for n in weights if re.search(r"/encoder/layer\.\d+/output/dense/MatMul$", n)]  # not attention/output
    variants = {
        "every MatMul int8 (the default's recipe)": [],
        "FFN output projections float32": ffn_output,
        "FFN output projections of layers 0-2 float32": [n for n in ffn_output if any(f"layer.{i}/" in n for i in range(3))],
        "attention output projections float32": [n for n in weights if "/attention/output/dense/" in n],
    }
    if per_node:
        variants.update({f"only {name.split('/encoder/')[-1]} float32": [name] for name in weights})
    return variants


def _fused(fp32: Path, folder: Path, model_dir: Path) -> Path:
    """The float32 graph with BERT's attention, layer norms and GELUs fused by onnxruntime's transformer optimizer."""
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((model_dir / "config.json").read_text())
    optimised = optimize_model(str(fp32), model_type="bert", num_heads=config["num_attention_heads"],
                               hidden_size=config["hidden_size"])
    target = folder / "fp32-fused.onnx"
    optimised.save_model_to_file(str(target))
    fused_ops = {n.op_type for n in onnx.load(str(target)).graph.node}
    if "Attention" not in fused_ops:
        raise SystemExit(f"the optimizer fused no attention ({sorted(fused_ops)}): this onnxruntime cannot make the fused variants")
    return target


def _one_at_a_time_ms(embedder: onnx_embedder.OnnxEmbedder, questions: list[str]) -> float:
    """Median milliseconds to embed one question alone (after one warm-up call), as a query does."""
    embedder.encode(questions[0])
    times = []
    for question in questions:
        started = time.perf_counter()
        embedder.encode(question, normalize_embeddings=True)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-node", action="store_true")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_dir = onnx_embedder._packaged_model_dir()
    texts = _texts(args.texts, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        onnx_embedder._export(model_dir, fp32)
        embedders = {"float32 ONNX": onnx_embedder.OnnxEmbedder(fp32, model_dir)}
        fused = _fused(fp32, Path(scratch), model_dir)
        embedders["float32 ONNX, attention fused"] = onnx_embedder.OnnxEmbedder(fused, model_dir)
        for number, (name, kept_float) in enumerate(_variants(fp32, args.per_node).items()):
            target = Path(scratch) / f"variant-{number}.onnx"
            quantize_dynamic(str(fp32), str(target), per_channel=True, op_types_to_quantize=["MatMul"],
                             weight_type=QuantType.QInt8, nodes_to_exclude=kept_float)
            embedders[name] = onnx_embedder.OnnxEmbedder(target, model_dir)
        fused_int8 = Path(scratch) / "fused-int8.onnx"
        quantize_dynamic(str(fused), str(fused_int8), per_channel=True, op_types_to_quantize=["MatMul"],
                         weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        embedders["attention fused float32, other MatMuls int8"] = onnx_embedder.OnnxEmbedder(fused_int8, model_dir)
        seconds: dict[str, list[float]] = {name: [] for name in embedders}
        vectors: dict[str, np.ndarray] = {}
        for _ in range(3):
            for name, embedder in embedders.items():
                started = time.perf_counter()
                vectors[name] = embedder.encode(texts, normalize_embeddings=True)
                seconds[name].append(time.perf_counter() - started)
        questions = texts[len(texts) // 2:][:100]
        one_question = {name: _one_at_a_time_ms(embedder, questions) for name, embedder in embedders.items()}
    reference, base = vectors["float32 ONNX"], min(seconds["float32 ONNX"])
    print(f"{len(texts)} SQuAD dev texts (seed {args.seed}), batch {onnx_embedder.BEST_BATCH_SIZE}; "
          "1 - cosine to float32 ONNX, speed against float32 ONNX (best of 3)")
    print("| variant | mean | p95 | max | speed | one question, p50 |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in embedders:
        error = 1 - (vectors[name] * reference).sum(axis=1)
        print(f"| {name} | {error.mean():.4f} | {np.quantile(error, 0.95):.4f} | {error.max():.4f} | "
              f"{base / min(seconds[name]):.2f}x | {one_question[name]:.2f} ms |")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
