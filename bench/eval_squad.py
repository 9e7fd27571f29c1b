"""Benchmark: retrieval quality and latency per retrieval mode on the full SQuAD v1.1 dev set (LanceDB, all-MiniLM-L6-v2).

Prints, through the same `api.evaluate` the CLI and the app use:

1. all questions, one row per mode: dense, lexical (BM25), hybrid (RRF, k 60, equal weights),
   and hybrid + cross-encoder rerank when `--cross-encoder PATH` is given (no package on the
   registries here ships cross-encoder weights, so there is no default);
2. a check of the dense figures against an independent exact search (numpy, all stored vectors);
3. fusion tuned on a random half of the questions (grid over fusion, alpha, rrf_k, scored
   offline with the product's own `ragkit.fusion.fuse` on candidate lists fetched once), then
   every mode evaluated on the other, held-out half;
4. lexical settings (stemming, stop words, tokeniser) on the held-out half;
5. the targets, met or not.

    python bench/eval_squad.py [--squad-path PATH] [--data-dir DIR] [--cross-encoder PATH] [--sample N]

The index is built in `--data-dir` (default: a temporary folder) unless it is already there.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from dataflows.stores import lancedb as lancedb_store  # noqa: E402
from ragkit.fusion import fuse  # noqa: E402
from ragkit.local_models import load_sentence_transformer  # noqa: E402
from ragkit.relevance import metrics_from_ranks  # noqa: E402
from ragkit.schema import Document  # noqa: E402
from ragkit.squad import read_squad_file  # noqa: E402
from workbench import api  # noqa: E402

DEFAULT_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
K_VALUES = (1, 5, 10, 20)
CANDIDATES = 50


def _row(label: str, record: dict) -> str:
    m, lat = record["metrics"], record["latency_ms"]
    rerank = f" {lat['rerank_p50']:7.1f} /{lat['rerank_p95']:6.1f}" if "rerank_p50" in lat else "          -    "
    return (f"| {label:<44} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | "
            f"{lat['embed_p50']:5.1f} / {lat['embed_p95']:5.1f} | {lat['search_p50']:5.1f} / {lat['search_p95']:5.1f} |"
            f"{rerank} | {record['duration_s']:6.1f} |")


def _table(title: str, rows: list[tuple[str, dict]]) -> None:
    print(f"\n{title}\n")
    print("| mode | R@1 | R@5 | R@10 | MRR@10 | embed p50 / p95 ms | search p50 / p95 ms | rerank p50 / p95 ms | eval s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, record in rows:
        print(_row(label, record))


def _squad_subset(path: str, keep: set[str], target: Path) -> str:
    """A copy of the SQuAD file holding only the questions in `keep` (paragraphs unchanged)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [qa for qa in paragraph["qas"] if qa["id"] in keep]
    target.write_text(json.dumps(data), encoding="utf-8")
    return str(target)


def _exact_recall_at_10(config: dict, questions: list[tuple[str, str, str]]) -> float:
    """recall@10 of a brute-force cosine search over every stored vector (independent of LanceDB's search)."""
    resolved = api.resolve_config(config)
    table = lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])
    rows = table.to_arrow()
    matrix = np.stack(rows["vector"].to_numpy(zero_copy_only=False)).astype(np.float32)
    documents = np.array(rows["document_id"].to_pylist())
    model = load_sentence_transformer("all-MiniLM-L6-v2")
    vectors = model.encode([text for _, text, _ in questions], batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    found = 0
    for start in range(0, len(questions), 1024):
        scores = vectors[start : start + 1024] @ matrix.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        for offset, row in enumerate(top):
            found += questions[start + offset][2] in set(documents[row])
    return found / len(questions)


def _candidate_lists(config: dict, questions: list[tuple[str, str, str]]) -> list[tuple[list, list, str, dict]]:
    """Per question: the dense and the lexical top-CANDIDATES (chunk id, score), through the store's own nodes."""
    resolved, _ = api.query_config(config)
    table = lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])
    text_index = lancedb_store.text_index(table)
    model = load_sentence_transformer(resolved["model_name"])
    vectors = model.encode([text for _, text, _ in questions], batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    lists = []
    for (_, text, gold), vector in zip(questions, vectors):
        dense = lancedb_store.dense_hits(table, vector, CANDIDATES)
        lexical = lancedb_store.lexical_hits(text_index, text, CANDIDATES)
        document_of = {hit["chunk_id"]: hit["document_id"] for hit in dense + lexical}
        lists.append(([(h["chunk_id"], h["score"]) for h in dense], [(h["chunk_id"], h["score"]) for h in lexical],
                      gold, document_of))
    return lists


def _tune(lists: list) -> tuple[dict, dict]:
    """The fusion settings with the best MRR@10 on these questions, scored offline with ragkit.fusion.fuse (prints the best per fusion)."""
    grid = [("rrf", alpha, k) for alpha, k in itertools.product((0.2, 0.3, 0.4, 0.5, 0.6), (1, 2, 5, 10, 20, 60))]
    grid += [("linear", alpha, 60) for alpha in (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)]
    best: tuple[dict, dict] | None = None
    best_per_fusion: dict[str, tuple[dict, dict]] = {}
    for fusion, alpha, k in grid:
        ranks = []
        for dense, lexical, gold, document_of in lists:
            fused = fuse(dense, lexical, fusion, alpha, k)[:20]
            ranks.append(next((r for r, (chunk, _) in enumerate(fused, 1) if document_of[chunk] == gold), 0))
        metrics = metrics_from_ranks(ranks, K_VALUES)
        settings = {"hybrid_fusion": fusion, "hybrid_alpha": alpha, "rrf_k": k}
        if fusion not in best_per_fusion or metrics["mrr@10"] > best_per_fusion[fusion][1]["mrr@10"]:
            best_per_fusion[fusion] = (settings, metrics)
        if best is None or (metrics["mrr@10"], metrics["recall@1"]) > (best[1]["mrr@10"], best[1]["recall@1"]):
            best = (settings, metrics)
    for fusion, (settings, metrics) in best_per_fusion.items():
        print(f"  best {fusion} on the tuning half: {settings}: R@1 {metrics['recall@1']:.3f}, R@5 {metrics['recall@5']:.3f}, "
              f"MRR@10 {metrics['mrr@10']:.3f}")
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--data-dir", default="", help="where the index is (built there if missing); default a temp folder")
    parser.add_argument("--cross-encoder", default="", help="a local sentence-transformers CrossEncoder folder for the rerank row")
    parser.add_argument("--sample", type=int, default=0, help="questions for the all-questions table (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tuning / held-out split")
    args = parser.parse_args()

    squad_path = str(Path(args.squad_path).resolve())
    work = Path(tempfile.mkdtemp(prefix="eval-squad-"))
    data_dir = args.data_dir or str(work / "data")
    config = {"source": "squad", "squad_path": squad_path, "data_dir": data_dir, "index_name": "squad_dev"}
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")

    started = time.perf_counter()
    record = api.ingest(config)
    print(f"index: {record['counts']['chunked']} chunks of {record['counts']['read']} paragraphs in LanceDB "
          f"({time.perf_counter() - started:.0f} s, {record['counts']['written']} written now)")

    paragraphs = read_squad_file(squad_path)
    questions = [(qid, text, Document.id_for("squad", p.context)) for p in paragraphs for qid, text in p.questions]
    print(f"questions: {len(questions)}")

    # tune fusion on a random half A of the questions (offline, with the product's own fuse)
    shuffled = sorted(questions)
    random.Random(args.seed).shuffle(shuffled)
    half = len(shuffled) // 2
    tune_half, held_out = shuffled[:half], shuffled[half:]
    started = time.perf_counter()
    print(f"\ntuning fusion on {len(tune_half)} questions (grid over fusion, alpha, rrf_k; MRR@10):")
    best, tuned_metrics = _tune(_candidate_lists(config, tune_half))
    print(f"  chosen: {best} ({time.perf_counter() - started:.0f} s)")
    tuned_label = (f"hybrid tuned ({best['hybrid_fusion']}, alpha {best['hybrid_alpha']}"
                   f"{', k ' + str(best['rrf_k']) if best['hybrid_fusion'] == 'rrf' else ''})")

    # 1. every mode on all questions
    modes = [("dense", {"retrieval_mode": "dense"}),
             ("lexical (BM25, stemmed, stop words removed)", {"retrieval_mode": "lexical"}),
             ("hybrid (RRF k 60, alpha 0.5: the defaults)", {"retrieval_mode": "hybrid"}),
             (tuned_label + " *", {"retrieval_mode": "hybrid", **best})]
    if args.cross_encoder:
        modes.append(("hybrid tuned + cross-encoder rerank (top 20)",
                      {"retrieval_mode": "hybrid", **best, "reranker": "cross_encoder", "reranker_model": args.cross_encoder}))
    everything = [(label, api.evaluate({**config, **settings}, sample_size=args.sample)) for label, settings in modes]
    _table(f"All {everything[0][1]['questions']} questions (* weights tuned on half of them)", everything)
    if not args.cross_encoder:
        print("| hybrid + rerank | not run: no cross-encoder weights are installable here; pass --cross-encoder PATH |")

    # 2. dense against an independent exact search
    dense_all = everything[0][1]
    evaluated = questions if not args.sample else None
    if evaluated is not None:
        exact = _exact_recall_at_10(config, evaluated)
        print(f"\nexact search (numpy, all {len(evaluated)} questions): recall@10 {exact:.4f}; "
              f"LanceDB dense {dense_all['metrics']['recall@10']:.4f} = {dense_all['metrics']['recall@10'] / exact:.4f} of exact")

    # 3. every mode on the held-out half B
    held_path = _squad_subset(squad_path, {qid for qid, _, _ in held_out}, work / "held_out.json")
    held_modes = [("dense", {"retrieval_mode": "dense"}), ("lexical", {"retrieval_mode": "lexical"}),
                  ("hybrid (RRF k 60, alpha 0.5)", {"retrieval_mode": "hybrid"}),
                  (tuned_label, {"retrieval_mode": "hybrid", **best})]
    if args.cross_encoder:
        held_modes.append(("hybrid tuned + cross-encoder rerank", {"retrieval_mode": "hybrid", **best,
                                                                  "reranker": "cross_encoder", "reranker_model": args.cross_encoder}))
    held = [(label, api.evaluate({**config, **settings}, sample_size=0, squad_path=held_path)) for label, settings in held_modes]
    _table(f"Held-out half: {held[0][1]['questions']} questions (fusion tuned on the other half)", held)

    # 4. lexical settings on the held-out half
    variants = [("stemmed, stop words removed (default)", {}), ("no stemming", {"lexical_stem": False}),
                ("stop words kept", {"lexical_stop_words": False}), ("whitespace tokeniser", {"lexical_tokenizer": "whitespace"})]
    lexical = [(label, api.evaluate({**config, "retrieval_mode": "lexical", **settings}, sample_size=0, squad_path=held_path))
               for label, settings in variants]
    _table("Lexical settings, held-out half", lexical)

    # 5. targets
    def metric(rows, label_start, name):
        return next(r for label, r in rows if label.startswith(label_start))["metrics"][name]

    best_row = max(held, key=lambda pair: pair[1]["metrics"]["mrr@10"])
    print("\ntargets:")
    if evaluated is not None:
        print(f"  dense >= 99% of exact-search recall@10: {dense_all['metrics']['recall@10'] / exact:.4f} "
              f"-> {'met' if dense_all['metrics']['recall@10'] >= 0.99 * exact else 'MISSED'}")
    for rows, name, where in ((everything, "hybrid (RRF", "all questions"), (held, "hybrid tuned", "held-out half")):
        for k in (5, 10):
            h, d, lx = (metric(rows, start, f"recall@{k}") for start in (name, "dense", "lexical"))
            print(f"  {name.replace('(', '').strip()} beats dense and lexical at recall@{k} ({where}): {h:.3f} vs "
                  f"{d:.3f} / {lx:.3f} -> {'met' if h > max(d, lx) else 'MISSED'}")
    m = best_row[1]["metrics"]
    print(f"  best mode on the held-out half ({best_row[0]}): recall@1 {m['recall@1']:.3f} (>= 0.80 "
          f"{'met' if m['recall@1'] >= 0.80 else 'MISSED'}), MRR@10 {m['mrr@10']:.3f} (>= 0.85 {'met' if m['mrr@10'] >= 0.85 else 'MISSED'})")
    print(f"  evaluating {dense_all['questions']} questions with the default stack (dense): {dense_all['duration_s']:.0f} s "
          f"(< 120 s {'met' if dense_all['duration_s'] < 120 else 'MISSED'})")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
