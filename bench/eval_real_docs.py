"""Relevance on real documents: four technical PDFs from Debian packages, questions written by reading them.

    python bench/eval_real_docs.py [--questions bench/real_docs/questions.jsonl] [--modes dense,lexical,hybrid]
                                   [--chunk-size 800] [--chunk-overlap 100] [--data-dir DIR] [--index-name NAME]
                                   [--pdf-parser pypdf|pypdfium2] [--[no-]clean-pdf-text] [--[no-]chunk-by-sections]
                                   [--[no-]keep-slides] [--[no-]contextual-headers]

The extraction and chunking flags default to the product's defaults (workbench/config.py). With --data-dir the
embedding cache is kept between runs (chunks whose indexed text is unchanged are not embedded again).

Fetches the PDFs (bench/fetch_real_docs.py: apt-get download + dpkg-deb -x, cached), ingests them with the
default stack (all-MiniLM-L6-v2, LanceDB) into a fresh data folder, imports the question set, and
evaluates every retrieval mode on all its questions. Prints recall@1/5/10, MRR@10 and nDCG@10 per mode,
the label coverage (labels whose page and answer string match no chunk), and the load average.
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
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from fetch_real_docs import real_doc_paths  # noqa: E402

from ragkit.parsers import PDF_PARSERS  # noqa: E402
from ragkit.schema import InputFile  # noqa: E402
from workbench import api  # noqa: E402
from workbench.config import DEFAULTS  # noqa: E402

QUESTIONS = REPO / "bench" / "real_docs" / "questions.jsonl"


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


SETTINGS = ("pdf_parser", "clean_pdf_text", "chunk_by_sections", "keep_slides", "contextual_headers")


def run(questions: Path, modes: list[str], chunk_size: int, chunk_overlap: int, data_dir: str, index_name: str = "real_docs",
        settings: dict | None = None) -> list[dict]:
    """Ingest the PDFs, import the set, evaluate each mode; one row of figures per mode."""
    paths = real_doc_paths()
    config = {"source": "files", "data_dir": data_dir, "index_name": index_name, "chunk_size": chunk_size,
              "chunk_overlap": chunk_overlap, **(settings or {})}
    started = time.perf_counter()
    record = api.ingest(config, files=[InputFile(name, path=str(path)) for name, path in sorted(paths.items())])
    print(f"ingested {len(paths)} PDFs: {record['counts']['written']} chunks written in {time.perf_counter() - started:.1f} s "
          f"(load {_load()})")
    imported = api.import_questions(str(questions), name=questions.stem, data_dir=data_dir)
    print(f"question set {imported['name']}: {imported['questions']} questions, {imported['labels']} labels"
          + (f", {len(imported['errors'])} rows skipped" if imported["errors"] else ""))
    rows = []
    for mode in modes:
        evaluation = api.evaluate({**config, "retrieval_mode": mode}, sample_size=0, questions=imported["name"])
        rows.append({"mode": mode, **evaluation["metrics"], "questions": evaluation["questions"],
                     "unresolved": evaluation["labels"]["unresolved_labels"], "seconds": evaluation["duration_s"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    parser.add_argument("--chunk-size", type=int, default=800)
    parser.add_argument("--chunk-overlap", type=int, default=100)
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--index-name", default="real_docs")
    parser.add_argument("--pdf-parser", choices=PDF_PARSERS, default=DEFAULTS["pdf_parser"])
    for name in SETTINGS[1:]:
        parser.add_argument(f"--{name.replace('_', '-')}", action=argparse.BooleanOptionalAction, default=DEFAULTS[name])
    args = parser.parse_args()
    settings = {name: getattr(args, name) for name in SETTINGS}
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as scratch:
        rows = run(args.questions, args.modes.split(","), args.chunk_size, args.chunk_overlap, args.data_dir or scratch,
                   args.index_name, settings)
    described = ", ".join(f"{name} {value}" for name, value in settings.items())
    print(f"\nchunks of {args.chunk_size} characters (overlap {args.chunk_overlap}), {described}, all-MiniLM-L6-v2, LanceDB\n")
    print("| mode | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | questions | labels not found in the index |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['mode']} | {row['recall@1']:.3f} | {row['recall@5']:.3f} | {row['recall@10']:.3f} | "
              f"{row['mrr@10']:.3f} | {row['ndcg@10']:.3f} | {row['questions']} | {row['unresolved']} |")
    print(f"\nload average after: {_load()}")


if __name__ == "__main__":
    main()
