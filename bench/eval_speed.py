"""Evaluation speed against its model: all SQuAD v1.1 dev questions, dense, the default stack (int8 ONNX all-MiniLM-L6-v2, LanceDB).

Prints, all in one process: the bare encode time of the same questions with the index's model (`encode`, the
evaluation's batch size), the evaluation time (inside `api.evaluate`, batched search), the ratio, and recall@5 /
MRR@10 of the batched and the one-search-per-question path (`--skip-one-by-one` leaves the slow one out), with
the 1-minute load average. Builds the index (default model, or `--model-name`) in a temp folder first unless
`--data-dir` holds one named `squad` (then its own model is used).

    python bench/eval_speed.py [--squad-path PATH] [--data-dir DIR] [--skip-one-by-one] [--model-name NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ragkit.local_models import load_sentence_transformer  # noqa: E402
from workbench import api  # noqa: E402
from workbench.evaluating import LOCAL_QUESTION_BATCH_SIZE, question_set_for  # noqa: E402

DEFAULT_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--skip-one-by-one", action="store_true")
    parser.add_argument("--model-name", default="", help="the local model of a new index (default: the product's)")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="eval-speed-")
    config = {"data_dir": data_dir, "index_name": "squad"}
    if not (Path(data_dir) / "lancedb" / "squad.lance").exists():
        started = time.perf_counter()
        api.ingest({**config, "source": "squad", "squad_path": args.squad_path, "model_name": args.model_name})
        print(f"index built in {time.perf_counter() - started:.1f} s ({data_dir})", flush=True)
    print(f"load average before: {_load()}", flush=True)
    questions = [question.text.strip() for question in question_set_for(config, squad_path=args.squad_path).questions]
    model_name = api.index_manifest(config)["model_name"]
    print(f"model: {model_name}", flush=True)
    model = load_sentence_transformer(model_name)
    model.encode(questions[:256], batch_size=LOCAL_QUESTION_BATCH_SIZE, normalize_embeddings=True)  # warm-up
    api.evaluate(config, sample_size=50, squad_path=args.squad_path, save=False)  # warm-up: drivers, table, model

    started = time.perf_counter()
    model.encode(questions, batch_size=LOCAL_QUESTION_BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True)
    bare_s = time.perf_counter() - started
    print(f"bare encode of {len(questions)} questions (batch {LOCAL_QUESTION_BATCH_SIZE}): {bare_s:.1f} s   load {_load()}",
          flush=True)

    started = time.perf_counter()
    batched = api.evaluate(config, sample_size=0, squad_path=args.squad_path, save=False)
    eval_s = time.perf_counter() - started
    print(f"evaluation, batched search ({batched['questions']} questions): {eval_s:.1f} s   load {_load()}", flush=True)
    print(f"ratio evaluation / bare encode: {eval_s / bare_s:.2f}x", flush=True)
    latency = batched["latency_ms"]
    print(f"  per question (amortised over batches): embed {latency['embed_p50']:.2f} ms, search {latency['search_p50']:.3f} ms")
    print(f"  batched:     recall@5 {batched['metrics']['recall@5']:.4f}  MRR@10 {batched['metrics']['mrr@10']:.4f}"
          f"  recall@10 {batched['metrics']['recall@10']:.4f}  nDCG@10 {batched['metrics']['ndcg@10']:.4f}", flush=True)
    if not args.skip_one_by_one:
        started = time.perf_counter()
        single = api.evaluate({**config, "batched_search": False}, sample_size=0, squad_path=args.squad_path, save=False)
        single_s = time.perf_counter() - started
        same = sum(a["label_ranks"] == b["label_ranks"] for a, b in zip(batched["per_question"], single["per_question"]))
        print(f"  one by one:  recall@5 {single['metrics']['recall@5']:.4f}  MRR@10 {single['metrics']['mrr@10']:.4f}"
              f"  recall@10 {single['metrics']['recall@10']:.4f}  nDCG@10 {single['metrics']['ndcg@10']:.4f}"
              f"   {single_s:.1f} s ({single_s / bare_s:.2f}x), search p50/p95 {single['latency_ms']['search_p50']:.2f} / "
              f"{single['latency_ms']['search_p95']:.2f} ms")
        print(f"  identical ranks: {same} of {len(batched['per_question'])} questions")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
