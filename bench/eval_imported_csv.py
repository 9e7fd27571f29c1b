"""A 1,000-question CSV evaluated on a 10,000-chunk index of plain text files, with no SQuAD file on the path.

    python bench/eval_imported_csv.py [--squad-path PATH] [--questions 1000] [--chunk-size 160] [--data-dir DIR]

Test data is made first, from SQuAD v1.1 dev (only to have real text and real questions): each article
becomes a `.txt` file, and 1,000 of its questions a CSV with the documented columns
(id, question, document, page, answer — the article's file name and one answer text). Then, with
$WORKBENCH_SQUAD_PATH removed from the environment, the files are ingested as uploads (small chunks, so
the index holds 10k+ chunks), the CSV is imported through `api.import_questions`, and the index is
evaluated against it in every retrieval mode. Prints the sizes, the time of each step, the figures
and the load average; the evaluation records show no SQuAD path.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ragkit.schema import InputFile, safe_name  # noqa: E402
from workbench import api  # noqa: E402

DEFAULT_SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def make_test_data(squad_path: Path, folder: Path, questions: int, seed: int = 0) -> tuple[list[Path], Path]:
    """One text file per SQuAD article, and a CSV of `questions` of their questions (document + answer labels)."""
    opener = gzip.open if squad_path.suffix == ".gz" else open
    with opener(squad_path, "rt", encoding="utf-8") as handle:
        articles = json.load(handle)["data"]
    files, rows = [], []
    for article in articles:
        name = f"{safe_name(article['title'])}.txt"
        path = folder / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(p["context"] for p in article["paragraphs"]), encoding="utf-8")
        files.append(path)
        rows += [(qa["id"], qa["question"], name, qa["answers"][0]["text"]) for p in article["paragraphs"] for qa in p["qas"]]
    picked = random.Random(seed).sample(rows, questions)
    csv_path = folder / "questions.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "document", "page", "answer"])
        writer.writerows((qid, question, document, "", answer) for qid, question, document, answer in picked)
    return files, csv_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad-path", type=Path, default=Path(os.environ.get("WORKBENCH_SQUAD_PATH", DEFAULT_SQUAD)))
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=160)
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    parser.add_argument("--data-dir", default="")
    args = parser.parse_args()
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as scratch:
        files, csv_path = make_test_data(args.squad_path, Path(scratch), args.questions)
        os.environ.pop("WORKBENCH_SQUAD_PATH", None)  # from here on, nothing can find a SQuAD file
        data_dir = args.data_dir or str(Path(scratch) / "data")
        config = {"source": "files", "data_dir": data_dir, "index_name": "csv_bench", "chunk_size": args.chunk_size,
                  "chunk_overlap": 0}
        started = time.perf_counter()
        record = api.ingest(config, files=[InputFile(path.name, path=str(path)) for path in files])
        ingested = time.perf_counter() - started
        chunks = record["counts"]["written"] + record["counts"].get("skipped_unchanged", 0)
        print(f"ingested {len(files)} text files: {chunks:,} chunks of {args.chunk_size} characters in {ingested:.1f} s")
        started = time.perf_counter()
        imported = api.import_questions(str(csv_path), name="csv_bench", data_dir=data_dir)
        print(f"imported {imported['questions']:,} questions ({imported['labels']:,} labels, {len(imported['errors'])} bad rows)"
              f" in {time.perf_counter() - started:.2f} s")
        print("\n| mode | questions | labels not in the index | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | search p50 ms | "
              "evaluation s | SQuAD path in the record |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for mode in args.modes.split(","):
            evaluation = api.evaluate({**config, "retrieval_mode": mode}, sample_size=0, questions="csv_bench")
            metrics = evaluation["metrics"]
            print(f"| {mode} | {evaluation['questions']:,} | {evaluation['labels']['unresolved_labels']} | "
                  f"{metrics['recall@1']:.3f} | {metrics['recall@5']:.3f} | {metrics['recall@10']:.3f} | "
                  f"{metrics['mrr@10']:.3f} | {metrics['ndcg@10']:.3f} | {evaluation['latency_ms']['search_p50']:.1f} | "
                  f"{evaluation['duration_s']:.1f} | {evaluation['sample']['squad_path'] or 'none'} |")
    print(f"\nload average after: {_load()}")


if __name__ == "__main__":
    main()
