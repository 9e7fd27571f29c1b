"""Relevance on real documents: four technical PDFs from Debian packages, questions written by reading them.

    python bench/eval_real_docs.py [--questions bench/real_docs/questions.jsonl] [--modes dense,lexical,hybrid]
                                   [--rows A,E] [--data-dir DIR] [--index-name NAME]
                                   [--chunk-size 800] [--chunk-overlap 100] [--pdf-parser pypdf|pypdfium2]
                                   [--[no-]clean-pdf-text] [--[no-]chunk-by-sections] [--[no-]keep-slides]
                                   [--[no-]contextual-headers] [--model-name NAME] [--compare-model NAME]

Rows (configurations), each ingested into its own index (NAME_a, NAME_e, NAME_custom) of one data folder:

- A, today's default before extraction, structure and headers: pdf_parser pypdf, clean_pdf_text off,
  chunk_by_sections off, contextual_headers off, 800-character chunks with 100 overlap (keep_slides as the
  product's default: it changes nothing on these PDFs, none is a slide deck);
- E, the product's defaults (workbench/config.py);
- custom: the product's defaults with the extraction and chunking flags above over them.

By default A and E are measured side by side in one run. Any extraction or chunking flag without --rows
measures that one custom configuration alone (as the script did before); `--rows A,custom` compares it with A.

Fetches the PDFs (bench/fetch_real_docs.py: apt-get download + dpkg-deb -x, cached), ingests them with the
default stack (all-MiniLM-L6-v2 as int8 ONNX, or `--model-name`; LanceDB) into a fresh data folder (or --data-dir, whose embedding cache is kept
between runs: chunks whose indexed text is unchanged are not embedded again), imports the question set, and
evaluates every retrieval mode on all its questions, for every row. Prints:

- per row and document, what the index stored: its title against the PDF's /Title metadata (counting file-stem
  titles where the PDF has a title) and the letter-spaced runs ("m y _ d a t a") left in the stored chunk texts;
- one table, per mode: each row's recall@1/5/10, MRR@10, nDCG@10 and label coverage (labels whose page and answer
  string match no chunk), and each row's difference from A in R@5 and MRR@10;
- the best setting measured (highest MRR@10, then R@5; every row is offline: a local model, no reranker) and
  whether it meets issue 12's targets: R@5 >= 0.85, MRR@10 >= 0.70, and R@5 at least 0.15 over A's dense row;
- the load average before, between the steps and after.

`--compare-model NAME` measures every row once more with that local model (its own indexes, NAME_<model>_e, in the
same data folder; the same question set) and prints, per row and mode, the paired difference NAME − the first model
on every question: each metric's mean difference with its 95% paired-bootstrap interval, and the sign test's count of
questions each model does better on, with its p-value (workbench.comparing.compare_evaluations, as the Evaluate
page's comparison). This is how int8 against float32 is judged: e.g. `--rows E --modes dense,hybrid --model-name
all-MiniLM-L6-v2 --compare-model all-MiniLM-L6-v2-onnx-int8`.
"""

from __future__ import annotations

import argparse
import os
import re
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

from ragkit.errors import WorkbenchError  # noqa: E402
from ragkit.local_models import DEFAULT_LOCAL_MODEL, load_sentence_transformer  # noqa: E402
from ragkit.parsers import PDF_PARSERS  # noqa: E402
from ragkit.pdf_text import letter_spaced_runs  # noqa: E402
from ragkit.schema import InputFile  # noqa: E402
from workbench import api  # noqa: E402
from workbench.config import DEFAULTS  # noqa: E402

QUESTIONS = REPO / "bench" / "real_docs" / "questions.jsonl"
SETTINGS = ("chunk_size", "chunk_overlap", "pdf_parser", "clean_pdf_text", "chunk_by_sections", "keep_slides",
            "contextual_headers")
ROWS = {
    "A": {"chunk_size": 800, "chunk_overlap": 100, "pdf_parser": "pypdf", "clean_pdf_text": False,
          "chunk_by_sections": False, "keep_slides": DEFAULTS["keep_slides"], "contextual_headers": False},
    "E": {name: DEFAULTS[name] for name in SETTINGS},
}
ROW_NAMES = {"A": "A: today's default (before)", "E": "E: the product's defaults", "custom": "custom (the flags)"}
TARGETS = {"recall@5": 0.85, "mrr@10": 0.70}
GAIN_OVER_A_DENSE = 0.15
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def load_average() -> str:
    """The three load averages, as printed beside every step."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


# --- extraction counts -----------------------------------------------------------------------------------


def pdf_metadata_title(path: Path) -> str:
    """The PDF's /Title (else its XMP dc:title), as the file states it ("" when it names none)."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    title = (reader.metadata.title if reader.metadata else "") or ""
    if not title.strip() and reader.xmp_metadata is not None:
        titles = reader.xmp_metadata.dc_title or {}
        title = next(iter(titles.values()), "") if isinstance(titles, dict) else ""
    return " ".join(str(title).split())


def stored_chunks(config: dict) -> list[dict]:
    """Every chunk the index stores: the chunks of each of its ingestion runs that are still stored (a chunk belongs to
    the run that wrote it, so a data folder reused over runs gives each chunk once)."""
    key = api.index_key_for(config)
    run_ids = {run["run_id"] for run in api.runs(config["data_dir"], limit=100_000)
               if run["index_key"] == key and run["kind"] == "ingest"}
    manifest = next(m for m in api.indexes(config["data_dir"]) if m["index_key"] == key)
    limit = int(manifest["chunk_count"]) + 1
    return [chunk for run_id in sorted(run_ids) for chunk in api.run_chunks(config, run_id, limit=limit)]


def extraction_counts(config: dict, paths: dict[str, Path]) -> dict:
    """Per document of the index: the stored title, the PDF's metadata title, whether the stored title is the file
    stem while the PDF has a title, and the letter-spaced runs in its stored chunk texts; and their totals."""
    chunks = stored_chunks(config)
    rows = []
    for document in sorted(api.documents(config), key=lambda d: d["source_name"]):
        name = document["source_name"]
        metadata_title = pdf_metadata_title(paths[name]) if name in paths else ""
        texts = [chunk["text"] for chunk in chunks if chunk["document_id"] == document["document_id"]]
        rows.append({"document": name, "title": document["title"], "pdf_title": metadata_title,
                     "file_stem_title": bool(metadata_title) and document["title"] == Path(name).stem,
                     "chunks": len(texts), "letter_spaced_runs": sum(letter_spaced_runs(text) for text in texts)})
    return {"documents": rows, "file_stem_titles": sum(row["file_stem_title"] for row in rows),
            "pdfs_with_a_title": sum(bool(row["pdf_title"]) for row in rows),
            "letter_spaced_runs": sum(row["letter_spaced_runs"] for row in rows), "chunks": len(chunks)}


# --- ingestion and evaluation ------------------------------------------------------------------------------


def ingest(data_dir: str, index_name: str, settings: dict, paths: dict[str, Path]) -> dict:
    """Ingest the PDFs into one index of the data folder with these settings; its config and how the run went."""
    config = {"source": "files", "data_dir": data_dir, "index_name": index_name, **settings}
    started = time.perf_counter()
    record = api.ingest(config, files=[InputFile(name, path=str(path)) for name, path in sorted(paths.items())])
    seconds = time.perf_counter() - started
    chunks = next(m["chunk_count"] for m in api.indexes(data_dir) if m["index_key"] == api.index_key_for(config))
    print(f"{index_name}: ingested {len(paths)} PDFs, {record['counts']['written']} chunks written ({chunks} in the "
          f"index) in {seconds:.1f} s (load {load_average()})")
    return {"config": config, "seconds": seconds, "chunks": chunks}


def evaluate(config: dict, question_set: str, modes: list[str]) -> dict[str, dict]:
    """Each retrieval mode on all the set's questions: {mode: figures}."""
    figures = {}
    for mode in modes:
        evaluation = api.evaluate({**config, "retrieval_mode": mode}, sample_size=0, questions=question_set)
        figures[mode] = {**evaluation["metrics"], "questions": evaluation["questions"],
                         "unresolved": evaluation["labels"]["unresolved_labels"], "seconds": evaluation["duration_s"],
                         "record": evaluation}
    return figures


def import_question_set(questions: Path, data_dir: str) -> str:
    """Import the question set into the data folder once; its stored name."""
    imported = api.import_questions(str(questions), name=questions.stem, data_dir=data_dir)
    print(f"question set {imported['name']}: {imported['questions']} questions, {imported['labels']} labels"
          + (f", {len(imported['errors'])} rows skipped" if imported["errors"] else ""))
    return imported["name"]


def run(question_set: str, modes: list[str], data_dir: str, index_name: str, rows: dict[str, dict]) -> dict[str, dict]:
    """Ingest every row's index into the data folder, then evaluate each mode on each row with the imported set."""
    paths = real_doc_paths()
    built = {row: ingest(data_dir, f"{index_name}_{row.lower()}", settings, paths) for row, settings in rows.items()}
    for row, result in built.items():
        result["extraction"] = extraction_counts(result["config"], paths)
        result["figures"] = evaluate(result["config"], question_set, modes)
        print(f"row {row} evaluated ({', '.join(modes)}; load {load_average()})")
    return built


def model_slug(model_name: str) -> str:
    """A model name as a part of an index name (letters, digits, dashes)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", model_name).strip("-").lower()[:40]


# --- report ------------------------------------------------------------------------------------------------


def best_setting(results: dict[str, dict]) -> tuple[str, str, dict]:
    """The (row, mode, figures) with the highest MRR@10, then R@5."""
    return max(((row, mode, figures) for row, result in results.items() for mode, figures in result["figures"].items()),
               key=lambda item: (item[2]["mrr@10"], item[2]["recall@5"]))


def target_lines(results: dict[str, dict]) -> list[str]:
    """The best setting and, for each of the issue's targets, whether it is met."""
    row, mode, best = best_setting(results)
    lines = [f"best offline setting (highest MRR@10, then R@5): row {row}, {mode}: R@5 {best['recall@5']:.3f}, "
             f"MRR@10 {best['mrr@10']:.3f}"]
    for metric, target in TARGETS.items():
        verdict = "met" if best[metric] >= target else "NOT met"
        lines.append(f"- {metric.replace('recall', 'R').replace('mrr', 'MRR')} >= {target:.2f}: {verdict} ({best[metric]:.3f})")
    baseline = results.get("A", {}).get("figures", {}).get("dense")
    if baseline is None:
        lines.append(f"- R@5 at least +{GAIN_OVER_A_DENSE:.2f} over A's dense row: not measured (run with row A and mode dense)")
    else:
        gain = best["recall@5"] - baseline["recall@5"]
        verdict = "met" if gain >= GAIN_OVER_A_DENSE - 1e-9 else "NOT met"
        lines.append(f"- R@5 at least +{GAIN_OVER_A_DENSE:.2f} over A's dense row ({baseline['recall@5']:.3f}): {verdict} "
                     f"({gain:+.3f})")
    return lines


def report(results: dict[str, dict], modes: list[str]) -> None:
    print("\nRows (all-MiniLM-L6-v2, LanceDB):")
    for row, result in results.items():
        settings = ", ".join(f"{name} {result['config'][name]}" for name in SETTINGS)
        print(f"- {ROW_NAMES[row]}: {settings}; {result['chunks']} chunks, ingested in {result['seconds']:.1f} s")

    print("\nExtraction, per document of each row's index (stored title against the PDF's /Title; letter-spaced runs "
          "in the stored chunk texts):\n")
    print("| row | document | stored title | PDF /Title | file-stem title where the PDF has a title | chunks | letter-spaced runs |")
    print("| --- | --- | --- | --- | --- | ---: | ---: |")
    for row, result in results.items():
        for document in result["extraction"]["documents"]:
            print(f"| {row} | {document['document']} | {document['title']} | {document['pdf_title'] or '(none)'} | "
                  f"{'yes' if document['file_stem_title'] else 'no'} | {document['chunks']} | {document['letter_spaced_runs']} |")
    for row, result in results.items():
        counts = result["extraction"]
        print(f"row {row}: {counts['file_stem_titles']} file-stem titles where the PDF has a title "
              f"({counts['pdfs_with_a_title']} of {len(counts['documents'])} PDFs have one); "
              f"{counts['letter_spaced_runs']} letter-spaced runs in {counts['chunks']} stored chunks")

    print("\n| mode | row | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | questions | labels not found in the index |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode in modes:
        for row, result in results.items():
            figures = result["figures"][mode]
            print(f"| {mode} | {row} | " + " | ".join(f"{figures[m]:.3f}" for m in METRICS)
                  + f" | {figures['questions']} | {figures['unresolved']} |")
        if "A" in results:
            baseline = results["A"]["figures"][mode]
            for row, result in results.items():
                if row != "A":
                    figures = result["figures"][mode]
                    print(f"| {mode} | {row} − A |  | {figures['recall@5'] - baseline['recall@5']:+.3f} |  | "
                          f"{figures['mrr@10'] - baseline['mrr@10']:+.3f} |  |  |  |")
    print()
    print("\n".join(target_lines(results)))


def refuse_unloadable_models(parser: argparse.ArgumentParser, model_names: list[str]) -> None:
    """Load every named local model before any work (each loads once per process, so none is loaded twice); a model
    that cannot load ends the run with one line (exit 2), not after another model's ingestion."""
    for name in model_names:
        try:
            load_sentence_transformer(name)
        except WorkbenchError as error:
            parser.error(" ".join(str(error).split()))


def paired_report(first: dict[str, dict], second: dict[str, dict], modes: list[str], names: tuple[str, str]) -> None:
    """Per row and mode: second − first on the same questions, each metric's paired interval and sign test."""
    from workbench.comparing import compare_evaluations

    print(f"\nPaired, {names[1]} − {names[0]}, the same questions (95% paired-bootstrap interval of the mean "
          "difference; sign test: questions each does better on, two-sided p):\n")
    print("| row | mode | metric | first | second | difference | 95% interval | second better / first better | p |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- | --- | ---: |")
    for row in first:
        for mode in modes:
            compared = compare_evaluations(first[row]["figures"][mode]["record"], second[row]["figures"][mode]["record"],
                                           metrics=METRICS, k=10)
            for metric, test in compared["tests"].items():
                boot, sign = test["bootstrap"], test["sign_test"]
                print(f"| {row} | {mode} | {metric} | {test['a']:.3f} | {test['b']:.3f} | {boot['mean_diff']:+.4f} | "
                      f"[{boot['ci_low']:+.4f}, {boot['ci_high']:+.4f}] | {sign['b_better']} / {sign['a_better']} | "
                      f"{sign['p_value']:.3f} |")
            print(f"| {row} | {mode} | questions: {compared['questions']}; found within 10 by the first only: "
                  f"{len(compared['found_by_a_only'])}, by the second only: {len(compared['found_by_b_only'])}; "
                  f"rank changed: {len(compared['rank_changes'])} |  |  |  |  |  |  |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    parser.add_argument("--rows", default="", help="A, E and/or custom, comma-separated (default A,E; custom alone "
                                                   "when an extraction or chunking flag is given)")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--index-name", default="real_docs", help="the rows' indexes are NAME_a, NAME_e, NAME_custom")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--chunk-overlap", type=int, default=None)
    parser.add_argument("--pdf-parser", choices=PDF_PARSERS, default=None)
    parser.add_argument("--model-name", default="", help="the local model of every row (default: the product's, "
                        "all-MiniLM-L6-v2-onnx-int8; all-MiniLM-L6-v2 is the float32 torch model)")
    parser.add_argument("--compare-model", default="", help="measure every row again with this local model and "
                        "print the paired differences from the first model, question by question")
    for name in SETTINGS[3:]:
        parser.add_argument(f"--{name.replace('_', '-')}", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()
    flags = {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    wanted = [row.strip() for row in (args.rows or ("custom" if flags else "A,E")).split(",") if row.strip()]
    unknown = [row for row in wanted if row not in ROW_NAMES]
    if unknown:
        parser.error(f"unknown rows {', '.join(unknown)}: choose from {', '.join(ROW_NAMES)}")
    if flags and "custom" not in wanted:
        parser.error("extraction and chunking flags describe the custom row: add it to --rows (e.g. --rows A,custom)")
    rows = {row: ROWS[row] if row != "custom" else {**ROWS["E"], **flags} for row in wanted}
    if args.model_name:
        rows = {row: {**settings, "model_name": args.model_name} for row, settings in rows.items()}
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    print(f"load average before: {load_average()}")
    refuse_unloadable_models(parser, [args.model_name or DEFAULT_LOCAL_MODEL, *filter(None, [args.compare_model])])
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or scratch
        question_set = import_question_set(args.questions, data_dir)
        results = run(question_set, modes, data_dir, args.index_name, rows)
        if args.compare_model:
            others = {row: {**settings, "model_name": args.compare_model} for row, settings in rows.items()}
            compared = run(question_set, modes, data_dir, f"{args.index_name}_{model_slug(args.compare_model)}", others)
    names = (args.model_name or DEFAULT_LOCAL_MODEL, args.compare_model)
    print(f"\n## {names[0]}")
    report(results, modes)
    if args.compare_model:
        print(f"\n## {names[1]}")
        report(compared, modes)
        paired_report(results, compared, modes, names)
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
