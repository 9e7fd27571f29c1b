"""Benchmark: re-ingesting after one document of 2,067 changed, against the first run (issue 15, target 3: < 3%).

    python bench/reingest_one_change.py [--squad-path PATH] [--documents 2067]

The documents are SQuAD v1.1 dev's 2,067 paragraphs, each written as its own text file (a folder of a team's
own files; a file is known by its path, so a changed file replaces its own chunks). In one process, with the
model already loaded for every run (the app loads it once at server start), in a fresh data folder:
(a) the first ingestion; (b) the same files again (writes nothing); (c) one file's text changed, then ingested
with all the others. After (c) the index is checked: the chunk count is (a)'s minus the old file's chunks plus
its new ones, and a lexical search for the new text finds that file while one for the replaced text does not.
Prints the wall times, (b)/(a) and (c)/(a), each run's counts and the load average.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import load_text  # noqa: E402

from ragkit.errors import WorkbenchError  # noqa: E402
from ragkit.schema import InputFile  # noqa: E402
from ragkit.squad import read_squad_file  # noqa: E402
from workbench import api  # noqa: E402

DEFAULT_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
NEW_SENTENCE = "The lighthouse keeper Oriel Vantongeren logged forty-one storms in the winter ledger."


def _timed_ingest(config: dict, folder: Path) -> tuple[float, dict]:
    files = [InputFile(name=path.name, path=str(path)) for path in sorted(folder.iterdir())]
    started = time.perf_counter()
    record = api.ingest(config, files=files)
    return time.perf_counter() - started, record


def _chunks_of(config: dict, name: str) -> int:
    return next(row["chunks"] for row in api.documents(config) if row["source_name"].endswith(name))


def _found(config: dict, text: str, name: str) -> bool:
    hits = api.search({**config, "retrieval_mode": "lexical"}, text, top_k=3)["hits"]
    return any(hit["source_name"].endswith(name) and text in hit["text"] for hit in hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--documents", type=int, default=0, help="only the first N paragraphs (0: all 2,067)")
    args = parser.parse_args()
    if args.documents < 0 or args.documents == 1:
        parser.error("--documents must be 0 (all) or at least 2 (one of them is changed)")
    try:
        paragraphs = [p for p in read_squad_file(args.squad_path) if p.context.strip()]
    except WorkbenchError as error:
        parser.error(str(error))
    paragraphs = paragraphs[: args.documents or None]
    print(f"load average before: {load_text()}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "docs"
        folder.mkdir()
        for number, paragraph in enumerate(paragraphs):
            (folder / f"paragraph_{number:04d}.txt").write_text(paragraph.context, encoding="utf-8")
        config = {"source": "files", "data_dir": str(Path(scratch) / "data"), "index_name": "one_change",
                  "ingest_root": str(folder)}
        warm = Path(scratch) / "warm"
        warm.mkdir()
        (warm / "warm.txt").write_text(paragraphs[0].context, encoding="utf-8")
        _timed_ingest({**config, "index_name": "warm_up", "ingest_root": str(warm)}, warm)  # loads the model once

        first, record_a = _timed_ingest(config, folder)
        same, record_b = _timed_ingest(config, folder)
        changed = folder / f"paragraph_{min(7, len(paragraphs) - 1):04d}.txt"
        old_text = changed.read_text(encoding="utf-8")
        old_sentence = old_text.split(". ")[0]
        old_chunks = _chunks_of(config, changed.name)
        changed.write_text(NEW_SENTENCE + " " + old_text.split(". ", 1)[1], encoding="utf-8")
        one, record_c = _timed_ingest(config, folder)

        new_chunks = _chunks_of(config, changed.name)
        stored = api.index_manifest(config)["chunk_count"]
        expected = record_a["counts"]["written"] - old_chunks + new_chunks
        print(f"{len(paragraphs)} documents, {record_a['counts']['written']} chunks")
        print("| run | wall s | share of the first run | counts |")
        print("| --- | ---: | ---: | --- |")
        for label, seconds, record in (("(a) first ingestion", first, record_a), ("(b) nothing changed", same, record_b),
                                       ("(c) one document changed", one, record_c)):
            counts = ", ".join(f"{key} {value}" for key, value in record["counts"].items() if value)
            print(f"| {label} | {seconds:.2f} | {seconds / first:.2%} | {counts} |")
        print(f"after (c): {stored} chunks stored, {expected} expected "
              f"({'exact' if stored == expected else 'MISMATCH'}); new text found: {_found(config, NEW_SENTENCE, changed.name)}; "
              f"replaced text found: {_found(config, old_sentence, changed.name)}")
        slowest = sorted(record_c["timings"].items(), key=lambda item: -item[1])[:5]
        print("(c)'s slowest nodes: " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in slowest))
    print(f"load average after: {load_text()}")


if __name__ == "__main__":
    main()
