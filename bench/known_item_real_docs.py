"""Two local models on the real documents with a thousand questions: known-item retrieval, paired question by question.

    python bench/known_item_real_docs.py [--questions 1200] [--seed 0] [--modes dense] [--data-dir DIR]
                                         [--model-name all-MiniLM-L6-v2] [--compare-model all-MiniLM-L6-v2-onnx-int8]

The real-document benchmark (bench/eval_real_docs.py) has 95 questions written by reading the PDFs: one question is
0.0105, so it cannot resolve a difference of 0.01 between two models. This one trades realism for numbers: it
ingests the same four PDFs with the product's defaults (row E) once per model, draws `--questions` stored chunks at
random (seeded), and makes one question of each, a sentence of the chunk's own text (8 to 40 words, drawn at
random), labelled with the chunk's document, page and that sentence (the product's label resolution: any chunk of
that page holding the sentence counts). Both models answer the same questions; it prints each model's figures and
the paired difference, second − first, with the 95% paired-bootstrap interval and the sign test (as
`eval_real_docs.py --compare-model`). The questions are copies of the text, so they are easier than a person's: read
the difference, not the level. The question set is written beside the data folder's indexes
(`known_item_questions.jsonl`) so a run can be repeated on it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_real_docs as real_docs  # noqa: E402
from fetch_real_docs import real_doc_paths  # noqa: E402

MIN_WORDS, MAX_WORDS = 8, 40
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _sentences(text: str) -> list[str]:
    """The sentences (or lines) of a chunk's text that are between MIN_WORDS and MAX_WORDS words long."""
    pieces = (" ".join(piece.split()) for piece in _SENTENCE_END.split(text))
    return [piece for piece in pieces if MIN_WORDS <= len(piece.split()) <= MAX_WORDS]


def known_item_questions(chunks: list[dict], count: int, seed: int) -> list[dict]:
    """Up to `count` questions, one per randomly drawn chunk that has a sentence of the right length."""
    rng = random.Random(seed)
    drawn = sorted(chunks, key=lambda chunk: chunk["chunk_id"])
    rng.shuffle(drawn)
    questions = []
    for chunk in drawn:
        sentences = _sentences(chunk["text"])
        if not sentences:
            continue
        sentence = rng.choice(sentences)
        questions.append({"id": f"ki-{len(questions) + 1:04d}", "question": sentence, "kind": "known-item",
                          "labels": [{"document": chunk["source_name"], "page": int(chunk["page"] or 1),
                                      "answer": sentence}]})
        if len(questions) == count:
            break
    return questions


def _positive(value: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=_positive, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="dense")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--model-name", default="all-MiniLM-L6-v2")
    parser.add_argument("--compare-model", default="all-MiniLM-L6-v2-onnx-int8")
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    print(f"load average before: {real_docs.load_average()}")
    real_docs.refuse_unloadable_models(parser, [args.model_name, args.compare_model])
    paths = real_doc_paths()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or scratch
        built = {}
        for model in (args.model_name, args.compare_model):
            settings = {**real_docs.ROWS["E"], "model_name": model}
            built[model] = {"E": real_docs.ingest(data_dir, f"known_item_{real_docs.model_slug(model)}_e", settings, paths)}
        chunks = real_docs.stored_chunks(built[args.model_name]["E"]["config"])
        questions = known_item_questions(chunks, args.questions, args.seed)
        question_file = Path(data_dir) / "known_item_questions.jsonl"
        question_file.write_text("".join(json.dumps(question) + "\n" for question in questions))
        question_set = real_docs.import_question_set(question_file, data_dir)
        for model, rows in built.items():
            rows["E"]["figures"] = real_docs.evaluate(rows["E"]["config"], question_set, modes)
            print(f"{model} evaluated ({', '.join(modes)}; load {real_docs.load_average()})")
    print("\n| model | mode | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | questions | labels not found |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, rows in built.items():
        for mode in modes:
            figures = rows["E"]["figures"][mode]
            print(f"| {model} | {mode} | " + " | ".join(f"{figures[m]:.3f}" for m in real_docs.METRICS)
                  + f" | {figures['questions']} | {figures['unresolved']} |")
    names = (args.model_name, args.compare_model)
    real_docs.paired_report(built[args.model_name], built[args.compare_model], modes, names)
    print(f"\nload average after: {real_docs.load_average()}")


if __name__ == "__main__":
    main()
