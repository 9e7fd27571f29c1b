"""Benchmark: streaming ingestion at growing corpus sizes — chunks/s and peak RSS per size and executor.

Each case runs in a fresh Python process: the executor is warmed up on a few other documents
(model loaded, Ray workers started), then one timed `api.ingest` writes the corpus into a fresh
data folder (empty embedding cache, empty LanceDB). Peak RSS is the driver process's high-water
mark (VmHWM), and for Ray and processes also each worker's.

Corpora: `squad` is the SQuAD v1.1 dev paragraphs (the first N); `synthetic` is N text files of
paragraphs with the dev set's length distribution, words drawn from its vocabulary (one chunk per
paragraph, as with SQuAD); `manuals` is N Markdown files of 10 headed sections, each such a paragraph
(one chunk per section: about 10 chunks a file, for the 1M-chunk case). Embedders: `torch` (all-MiniLM-L6-v2, float32), `onnx`
(all-MiniLM-L6-v2-onnx-int8), `standin` — NOT a model: hash-seeded random unit vectors with the
real tokenizer, to measure the rest of the pipeline (chunking, cache, store, memory) at sizes the
real model takes hours for on 2 cores. Every printed row names its embedder.

    python bench/ingest_scale.py --case squad:1000:torch:sync --case squad:1000:torch:ray:2 \\
        --case synthetic:10000:torch:sync --case synthetic:100000:standin:sync [--plot docs/ingest_scale.png]
    case = corpus:documents:embedder:executor[:workers]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
MODELS = {"torch": "all-MiniLM-L6-v2", "onnx": "all-MiniLM-L6-v2-onnx-int8", "standin": "all-MiniLM-L6-v2"}


def _peak_rss_mb(pid: int | str = "self") -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024


SECTIONS_PER_MANUAL = 10
CORPUS_FILES = {"synthetic": ("synthetic", 0), "manuals": ("manuals", SECTIONS_PER_MANUAL)}  # corpus: folder, sections


def synthetic_corpus(folder: Path, count: int, squad_path: str, seed: int = 0, sections: int = 0) -> list[Path]:
    """`count` text files of a paragraph with the SQuAD dev length distribution, or with `sections` > 0, Markdown files of
    that many headed sections of one such paragraph each (cached in `folder`)."""
    import numpy as np

    from ragkit.squad import read_squad_file

    folder.mkdir(parents=True, exist_ok=True)
    digits, suffix = max(6, len(str(count - 1))), ".md" if sections else ".txt"
    paths = [folder / f"doc{i:0{digits}d}{suffix}" for i in range(count)]
    if all(p.exists() for p in paths[-1:]) and len(list(folder.glob(f"doc*{suffix}"))) >= count:
        return paths
    paragraphs = [p.context for p in read_squad_file(squad_path)]
    lengths = np.array([len(p) for p in paragraphs])
    words = Counter(w for p in paragraphs for w in re.findall(r"[A-Za-z][A-Za-z'-]*|\d+", p))
    vocabulary, weights = zip(*words.items())
    weights = np.array(weights, dtype=np.float64) / sum(weights)
    rng = np.random.default_rng(seed)
    pool = rng.choice(len(vocabulary), size=2_000_000, p=weights)
    cursor = 0

    def paragraph(target: int) -> str:
        nonlocal cursor
        parts, size = [], 0
        while size < target:
            sentence_words = int(rng.integers(12, 28))
            take = pool[cursor % len(pool) : cursor % len(pool) + sentence_words]
            cursor += sentence_words + int(rng.integers(0, 1000))
            sentence = " ".join(vocabulary[i] for i in take).capitalize() + "."
            parts.append(sentence)
            size += len(sentence) + 1
        return " ".join(parts)[: int(target)].rsplit(" ", 1)[0] + "."

    for number, path in enumerate(paths):
        if sections:
            body = "\n\n".join(f"## Section {k + 1}\n\n{paragraph(rng.choice(lengths))}" for k in range(sections))
            path.write_text(f"# Manual {number}\n\n{body}\n", encoding="utf-8")
        else:
            path.write_text(paragraph(rng.choice(lengths)), encoding="utf-8")
    return paths


class _StandIn:
    """Not a model: the real tokenizer and limits, with hash-seeded random unit vectors (labelled 'standin')."""

    def __init__(self, model) -> None:
        self._model = model
        self.tokenizer, self.max_seq_length = model.tokenizer, model.max_seq_length

    def get_embedding_dimension(self) -> int:
        return 384

    def encode(self, texts, **_):
        import hashlib

        import numpy as np

        rows = [np.random.default_rng(int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little"))
                .standard_normal(384).astype(np.float32) for t in texts]
        matrix = np.stack(rows) if rows else np.zeros((0, 384), np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def install_standin() -> None:
    """Make this process's sentence-transformers loader wrap the model in `_StandIn` (once)."""
    from dataflows.embedders import sentence_transformers as local_embedder

    real = local_embedder.load_sentence_transformer
    if getattr(real, "standin", False):
        return

    def load(name: str) -> _StandIn:
        return _StandIn(real(name))

    load.standin = True
    local_embedder.load_sentence_transformer = load


def _start_ray_with_standin(workers: int) -> None:
    """A local Ray instance whose worker processes install the stand-in at start (the executor then uses it as it is):
    without this a 'standin' Ray case embedded with the real model in its workers."""
    import ray

    python_path = os.pathsep.join([str(REPO), str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": python_path, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
                          "worker_process_setup_hook": "ingest_scale.install_standin"})


def run_case(case: dict) -> dict:
    """One measurement, in this (fresh) process."""
    from ragkit.schema import InputFile, Progress
    from workbench import api
    from workbench.catalog import Catalog

    if case["embedder"] == "standin":
        install_standin()
        if case["executor"] == "ray":  # Ray's workers are other processes: each installs it as it starts
            _start_ray_with_standin(case["workers"])
    config = {"index_name": "bench", "model_name": MODELS[case["embedder"]], "executor": case["executor"],
              "executor_workers": case["workers"], "ingest_batch_documents": case["batch"]}
    if case.get("ann_index_threshold") is not None:
        config["ann_index_threshold"] = case["ann_index_threshold"]
    if case["corpus"] == "squad":
        config.update(source="squad", squad_path=case["squad_path"], limit=case["documents"])
        files, warm_files = None, None
        warm = {**config, "limit": 2 * max(1, case["workers"]), "ingest_batch_documents": 1}
    else:
        config.update(source="files", chunk_size=4000, chunk_overlap=0)
        # Names from scandir, not Path objects: 100k Paths held through the run are 44 MB of the bench's own, not the pipeline's.
        names = sorted(entry.name for entry in os.scandir(case["folder"]) if entry.name.startswith("doc"))[: case["documents"]]
        files = [InputFile(name, path=os.path.join(case["folder"], name)) for name in names]
        del names
        warm_files = [InputFile(f"warm{i}.txt", data=f"Warm-up document {i}.".encode()) for i in range(2 * max(1, case["workers"]))]
        warm = {**config, "ingest_batch_documents": 1}
    with tempfile.TemporaryDirectory(dir=case.get("scratch") or None) as scratch:
        api.ingest({**warm, "data_dir": f"{scratch}/warm"}, files=warm_files)  # model loaded, workers started
        streaming: dict[str, float] = {}

        def on_progress(step: str, done: int, total: int) -> None:
            if step == "batches" and total and done == total:  # the last batch is in: index upkeep comes next
                streaming["rss_mb"] = _peak_rss_mb()

        load = os.getloadavg()[0]
        started = time.perf_counter()
        record = api.ingest({**config, "data_dir": f"{scratch}/run"}, files=files, progress=Progress(on_progress))
        seconds = time.perf_counter() - started
        workers = sorted({b["worker"].rsplit(":", 1)[1] for b in Catalog(f"{scratch}/run").run_batches(record["run_id"])})
    worker_rss = [_peak_rss_mb(pid) for pid in workers if pid != str(os.getpid())]
    return {**case, "chunks": record["counts"]["written"], "seconds": round(seconds, 1),
            "chunks_per_s": round(record["counts"]["written"] / seconds, 1), "driver_rss_mb": round(_peak_rss_mb(), 0),
            "streaming_rss_mb": round(streaming.get("rss_mb", float("nan")), 0),
            "upkeep_s": round(record["timings"].get("maintained_index", 0.0), 1),
            "worker_rss_mb": [round(r, 0) for r in worker_rss], "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2), "embedding_s": record["timings"].get("fresh_embeddings", 0)}


def parse_case(text: str, args: argparse.Namespace) -> dict:
    corpus, documents, embedder, executor, *rest = text.split(":")
    return {"corpus": corpus, "documents": int(documents), "embedder": embedder, "executor": executor,
            "workers": int(rest[0]) if rest else 0, "batch": args.batch_documents, "squad_path": args.squad_path,
            "folder": str(Path(args.workdir) / CORPUS_FILES.get(corpus, ("synthetic",))[0]), "scratch": args.workdir,
            "ann_index_threshold": args.ann_index_threshold}


def _mb(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.0f}"


def plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rate, memory) = plt.subplots(1, 2, figsize=(11, 4))
    def label_of(r: dict) -> str:
        return f"{r['corpus']}, {r['executor']}{':' + str(r['workers']) if r['workers'] else ''} / {r['embedder']}"

    for label in dict.fromkeys(label_of(r) for r in results):
        points = sorted((r for r in results if label_of(r) == label), key=lambda r: r["chunks"])
        sizes = [r["chunks"] for r in points]
        rate.plot(sizes, [r["chunks_per_s"] for r in points], marker="o", label=label)
        line, = memory.plot(sizes, [r["driver_rss_mb"] + sum(r["worker_rss_mb"]) for r in points], marker="x", linestyle="--",
                            label=f"{label}: whole run")
        streamed = [r for r in points if r.get("streaming_rss_mb") == r.get("streaming_rss_mb", float("nan"))]
        if streamed:  # the peak before index upkeep, where the bench recorded it
            memory.plot([r["chunks"] for r in streamed], [r["streaming_rss_mb"] + sum(r["worker_rss_mb"]) for r in streamed],
                        marker="o", color=line.get_color(), label=f"{label}: streaming only")
    for axis, title in ((rate, "throughput (chunks/s)"), (memory, "peak RSS, driver + workers (MB)")):
        axis.set_xscale("log")
        axis.set_xlabel("chunks ingested")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    rate.set_yscale("log")
    memory.set_ylim(bottom=0)
    figure.suptitle("Streaming ingestion on 2 cores ('standin' = random vectors, not a model)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", action="append", default=[], help="corpus:documents:embedder:executor[:workers]")
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--batch-documents", type=int, default=256)
    parser.add_argument("--ann-index-threshold", type=int, default=None,
                        help="the store's ann_index_threshold (0: no ANN index is built after the run)")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "ingest_scale"))
    parser.add_argument("--plot", default="", help="write a PNG of throughput and peak RSS against size")
    parser.add_argument("--results", default="", help="append each result as a JSON line to this file")
    parser.add_argument("--from-results", nargs="*", default=[], help="only print the table (and plot) of saved JSON lines")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_case:
        print("RESULT " + json.dumps(run_case(json.loads(args.run_case))), flush=True)
        return

    cases = [parse_case(text, args) for text in args.case]
    results = [json.loads(line) for path in args.from_results for line in Path(path).read_text().splitlines() if line.strip()]
    for corpus, (folder, sections) in CORPUS_FILES.items():
        largest = max((c["documents"] for c in cases if c["corpus"] == corpus), default=0)
        if largest:
            synthetic_corpus(Path(args.workdir) / folder, largest, args.squad_path, sections=sections)
    for case in cases:
        output = subprocess.run([sys.executable, __file__, "--run-case", json.dumps(case)], cwd=REPO,
                                capture_output=True, text=True)
        line = next((line for line in output.stdout.splitlines() if line.startswith("RESULT ")), None)
        if line is None:
            print(f"case {case} failed:\n{output.stderr[-3000:]}", file=sys.stderr)
            continue
        result = json.loads(line[len("RESULT "):])
        results.append(result)
        if args.results:
            with open(args.results, "a") as handle:
                handle.write(json.dumps(result) + "\n")
        print(f"{result['corpus']:>9} {result['chunks']:>7} chunks  {result['embedder']:>7}  {result['executor']}"
              f"{':' + str(result['workers']) if result['workers'] else '':<3} {result['seconds']:>8.1f} s  "
              f"{result['chunks_per_s']:>7.1f} chunks/s  driver peak {_mb(result.get('streaming_rss_mb'))} MB streaming, "
              f"{result['driver_rss_mb']:.0f} MB with index upkeep ({result.get('upkeep_s', '-')} s)  "
              f"workers {result['worker_rss_mb']}  load {result['load_before']}->{result['load_after']}", flush=True)
    print("\n| corpus | chunks | embedder | executor | seconds | chunks/s | index upkeep (s) | peak RSS driver, streaming (MB) "
          "| peak RSS driver, with index upkeep (MB) | peak RSS workers (MB) | load 1-min before → after |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in results:
        executor = r["executor"] + (f" ({r['workers']} workers)" if r["workers"] else "")
        workers = ", ".join(f"{w:.0f}" for w in r["worker_rss_mb"]) or "-"
        print(f"| {r['corpus']} | {r['chunks']:,} | {r['embedder']} | {executor} | {r['seconds']:.1f} | {r['chunks_per_s']:.1f} | "
              f"{r.get('upkeep_s', '-')} | {_mb(r.get('streaming_rss_mb'))} | {r['driver_rss_mb']:.0f} | {workers} | "
              f"{r['load_before']} → {r['load_after']} |")
    if args.plot and results:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
