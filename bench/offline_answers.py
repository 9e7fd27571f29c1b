"""Offline (extractive) answers, the method before query-aware answers against the current one, on real documents and SQuAD.

    python bench/offline_answers.py [--data-dir DIR] [--real-docs-index real_docs] [--mode dense] [--top-k 5]
                                    [--squad-paragraphs 300] [--squad-questions 300] [--seed 0] [--skip-squad]
                                    [--skip-real-docs]

Ingests (or reuses, when the data folder already holds it) the four real PDFs (bench/fetch_real_docs.py) into
DIR/real, index --real-docs-index (so `--data-dir D --real-docs-index real_docs_e` reuses row E of
`python bench/eval_real_docs.py --data-dir D/real`), and the first SQuAD v1.1 dev paragraphs
(/work/shared/data/squad, or $WORKBENCH_SQUAD_PATH) with the default stack. For every question, retrieval runs
once and both methods answer from the same top chunks:

- before: the sentences sharing most terms with the question, IDF counted over the retrieved sentences only
  (the code of `supporting_sentences` before this change, kept below to compare with);
- now: `api.answer` in the offline mode (similarity under the index's own embedding model + IDF-weighted term
  overlap, IDF over the whole index), timed end to end (retrieval included) and without retrieval, on a copy of the
  data folder without its embedding cache (so each question's sentences are embedded by the model, as on a first
  answer), then the same question again (its sentences' vectors cached).

Prints, per corpus: the share of questions whose labelled answer string (whitespace collapsed, case folded)
appears in the answer and in its first sentence, the share whose answer is in the retrieved chunks at all (the
ceiling), ms per answer, the number of distinct answers, and the load average and the bare model's speed before and after.

On the real documents it also prints issue 12's target figure: of the questions whose relevant chunk is ranked
first, the share whose answer contains the labelled answer string (target >= 60%), with their count. Which
questions those are is decided by the evaluation itself (`api.evaluate` with the same mode on the same index,
labels resolved against the stored chunks by document, page and answer string, as every evaluation resolves them):
its per-question rank is 1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from eval_real_docs import QUESTIONS, REPO, _load  # with it: offline hub settings, the repository on the import path
from fetch_real_docs import real_doc_paths

from ragkit.schema import InputFile
from ragkit.squad import read_squad_file
from ragkit.text_splitting import sentence_spans
from workbench import api

SQUAD = Path(os.environ.get("WORKBENCH_SQUAD_PATH") or REPO.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz")
_SENTENCE = re.compile(r"\u201c(.+?)\u201d \[\d+\]", re.DOTALL)

# --- the method before this change (dataflows/llms/extractive.py at 440db21), kept to compare with ---------------
_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an and are as at be by did do does for from had has have how i in is it its of on or that the their this to"
    " was were what when where which who whom whose why will with you your".split()
)


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


def previous_supporting_sentences(question: str, context_chunks: list[dict], max_sentences: int = 3) -> list[tuple[str, int]]:
    """The sentences of the sources that share most (IDF-weighted over the retrieved sentences) terms with the question."""
    candidates: list[tuple[str, int]] = []
    for number, chunk in enumerate(context_chunks, start=1):
        text = chunk["text"]
        candidates.extend((text[s:e], number) for s, e in sentence_spans(text))
    if not candidates:
        return []
    document_frequency = Counter(term for sentence, _ in candidates for term in set(_terms(sentence)))
    wanted = set(_terms(question))
    scored = []
    for position, (sentence, number) in enumerate(candidates):
        terms = set(_terms(sentence))
        overlap = sum(math.log(1 + len(candidates) / document_frequency[t]) for t in terms & wanted)
        if overlap > 0:
            scored.append((overlap + 0.1 / number, -position, sentence, number))
    scored.sort(reverse=True)
    return [(sentence, number) for _, _, sentence, number in scored[:max_sentences]]


# --- scoring -------------------------------------------------------------------------------------------------


def normalised(text: str) -> str:
    """Whitespace collapsed, case folded (as question-set labels are matched)."""
    return " ".join(text.split()).casefold()


def _found(answers: list[str], text: str) -> bool:
    text = normalised(text)
    return any(normalised(answer) in text for answer in answers if answer.strip())


def _cold(config: dict, scratch: str) -> dict:
    """The config of a copy of the data folder without its embedding cache (the catalog and the LanceDB folder copied),
    so every sentence is embedded by the model, as on a first answer. The store is copied into the copy, not named by
    `vector_db_config` nor linked: the catalog keys an index by its place in the data folder ("$DATA_DIR/lancedb")."""
    # sqlite's backup, not a file copy: the catalog is in WAL mode, and what this process wrote (the question set) may
    # still be in its -wal file
    data_dir = Path(config["data_dir"])
    source, copy = sqlite3.connect(data_dir / "catalog.sqlite"), sqlite3.connect(Path(scratch) / "catalog.sqlite")
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    shutil.copytree(data_dir / "lancedb", Path(scratch) / "lancedb")
    return {**config, "data_dir": scratch}


def evaluate(config: dict, questions: list[tuple[str, list[str]]], top_k: int) -> dict:
    """Both methods on every question, from the same retrieved chunks; the figures of each (sentences embedded cold)."""
    with tempfile.TemporaryDirectory() as scratch:
        return _evaluate(_cold(config, scratch), questions, top_k)


def _evaluate(config: dict, questions: list[tuple[str, list[str]]], top_k: int) -> dict:
    api.answer(config, "warm up", top_k=top_k)  # the model, the index handles, the term figures: once per process
    rows = {"before": [], "now": []}
    for question, answers in questions:
        started = time.perf_counter()
        result = api.answer(config, question, top_k=top_k)
        text = "".join(result["stream"])
        total_ms = (time.perf_counter() - started) * 1000
        sentences = _SENTENCE.findall(text)
        chunks = result["context_chunks"]
        started = time.perf_counter()
        "".join(api.answer(config, question, top_k=top_k)["stream"])  # again: the sentences' vectors now cached
        rows["now"].append({"found": _found(answers, " ".join(sentences)), "first": bool(sentences) and _found(answers, sentences[0]),
                            "answer": tuple(sentences), "ms": total_ms, "answer_ms": total_ms - result["latency_ms"]["total"],
                            "again_ms": (time.perf_counter() - started) * 1000,
                            "ceiling": _found(answers, " ".join(chunk["text"] for chunk in chunks)),
                            "in_first_chunk": bool(chunks) and _found(answers, chunks[0]["text"])})
        started = time.perf_counter()
        before = [sentence for sentence, _ in previous_supporting_sentences(question, chunks)]
        rows["before"].append({"found": _found(answers, " ".join(before)), "first": bool(before) and _found(answers, before[0]),
                               "answer": tuple(before), "answer_ms": (time.perf_counter() - started) * 1000})
    return rows


def model_calibration() -> str:
    """How long the bare model takes now to embed 15 sentences (the median number an answer embeds on the real
    documents): the load on the machine moves every ms figure, and this says by how much."""
    from ragkit.local_models import load_sentence_transformer

    model = load_sentence_transformer("all-MiniLM-L6-v2")
    sentences = [f"Sentence {n} of the calibration batch says something about package maintenance in Debian." for n in range(15)]
    model.encode(sentences[:2])
    times = []
    for _ in range(5):
        started = time.perf_counter()
        model.encode(sentences, batch_size=16, normalize_embeddings=True)
        times.append((time.perf_counter() - started) * 1000)
    return f"bare all-MiniLM-L6-v2 encode of 15 sentences: {statistics.median(times):.0f} ms (median of 5)"


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def _summary(name: str, rows: dict, questions: int) -> None:
    print(f"\n{name}: {questions} questions, top {rows['top_k']} chunks, {rows['mode']} retrieval")
    print("| method | answer string in the answer | in its first sentence | distinct answers | no answer | mean answer length (chars) "
          "| ms per answer without retrieval, p50 | end to end p50 / p95 | same question again p50 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for method in ("before", "now"):
        found = rows[method]
        share = sum(r["found"] for r in found) / len(found)
        first = sum(r["first"] for r in found) / len(found)
        distinct = len({r["answer"] for r in found})
        empty = sum(not r["answer"] for r in found)
        length = statistics.mean(sum(map(len, r["answer"])) for r in found)
        answer_ms = statistics.median(r["answer_ms"] for r in found)
        total = f"{statistics.median(r['ms'] for r in found):.0f} / {_p95([r['ms'] for r in found]):.0f}" if method == "now" else "-"
        again = f"{statistics.median(r['again_ms'] for r in found):.0f}" if method == "now" else "-"
        print(f"| {method} | {share:.3f} | {first:.3f} | {distinct} | {empty} | {length:.0f} | {answer_ms:.1f} | {total} | {again} |")
    ceiling = sum(r["ceiling"] for r in rows["now"]) / len(rows["now"])
    print(f"answer string anywhere in the retrieved chunks (the ceiling of both): {ceiling:.3f}")


# --- corpora -------------------------------------------------------------------------------------------------


def _has_index(data_dir: str, index_name: str) -> bool:
    return any(m["index_name"] == index_name and m["chunk_count"] for m in api.indexes(data_dir))


def first_ranked(config: dict) -> dict[str, int]:
    """Each question's rank as the evaluation finds it (labels resolved against the index's stored chunks by document,
    page and answer string; 1: a relevant chunk is ranked first), by question id; not stored as an evaluation."""
    imported = api.import_questions(str(QUESTIONS), name=QUESTIONS.stem, data_dir=config["data_dir"])
    record = api.evaluate(config, sample_size=0, questions=imported["name"], save=False)
    return {row["id"]: row["rank"] for row in record["per_question"]}


def _ranked_first_summary(rows: dict, ids: list[str], ranks: dict[str, int]) -> None:
    """Issue 12's target: of the questions whose relevant chunk is ranked first, the share whose answer holds the answer string."""
    first = [position for position, question_id in enumerate(ids) if ranks.get(question_id) == 1]
    print(f"\nquestions whose relevant chunk is ranked first ({rows['mode']}, as the evaluation resolves the labels): "
          f"{len(first)} of {len(ids)} ({len(ranks)} with a label found in the index)")
    if not first:
        return
    print("| method | answer string in the answer | in its first sentence |")
    print("| --- | --- | --- |")
    for method in ("before", "now"):
        found = sum(rows[method][p]["found"] for p in first)
        in_first = sum(rows[method][p]["first"] for p in first)
        print(f"| {method} | {found / len(first):.3f} ({found} of {len(first)}) | {in_first / len(first):.3f} ({in_first}) |")
    share = sum(rows["now"][p]["found"] for p in first) / len(first)
    print(f"target (>= 0.60 of them, now): {'met' if share >= 0.60 else 'NOT met'} ({share:.3f})")
    apart = sum(not rows["now"][p]["in_first_chunk"] for p in first)
    if apart:
        print(f"({apart} of them: the answer's own first retrieved chunk lacks the answer string, its retrieval and the "
              "evaluation's differ there)")


def real_docs(data_dir: str, mode: str, top_k: int, index_name: str = "real_docs") -> None:
    config = {"source": "files", "data_dir": data_dir, "index_name": index_name, "retrieval_mode": mode}
    if not _has_index(data_dir, index_name):
        paths = real_doc_paths()
        started = time.perf_counter()
        record = api.ingest(config, files=[InputFile(name, path=str(path)) for name, path in sorted(paths.items())])
        print(f"ingested {len(paths)} PDFs: {record['counts']['written']} chunks in {time.perf_counter() - started:.1f} s")
    ids, questions = [], []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            ids.append(item["id"])
            questions.append((item["question"], [label["answer"] for label in item["labels"] if label.get("answer")]))
    ranks = first_ranked(config)
    rows = evaluate(config, questions, top_k)
    _summary(f"real documents (4 PDFs, bench/real_docs/questions.jsonl; index {index_name})",
             {**rows, "top_k": top_k, "mode": mode}, len(questions))
    _ranked_first_summary({**rows, "mode": mode}, ids, ranks)


def squad(data_dir: str, mode: str, top_k: int, paragraphs: int, sample: int, seed: int) -> None:
    config = {"source": "squad", "squad_path": str(SQUAD), "limit": paragraphs, "data_dir": data_dir, "index_name": "squad",
              "retrieval_mode": mode}
    if not _has_index(data_dir, "squad"):
        record = api.ingest(config)
        print(f"ingested {paragraphs} SQuAD paragraphs: {record['counts']['written']} chunks")
    with gzip.open(SQUAD, "rt", encoding="utf-8") if SQUAD.suffix == ".gz" else open(SQUAD, encoding="utf-8") as handle:
        answers = {qa["id"]: [a["text"] for a in qa["answers"]]
                   for article in json.load(handle)["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    pool = [(text, answers[qid]) for paragraph in read_squad_file(SQUAD, paragraphs) for qid, text in paragraph.questions]
    questions = random.Random(seed).sample(pool, min(sample, len(pool))) if sample else pool
    rows = evaluate(config, questions, top_k)
    _summary(f"SQuAD v1.1 dev (first {paragraphs} paragraphs; {len(questions)} of their {len(pool)} questions, seed {seed})",
             {**rows, "top_k": top_k, "mode": mode}, len(questions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="", help="reuse the indexes in this folder (default: a fresh temporary one)")
    parser.add_argument("--real-docs-index", default="real_docs", help="the real documents' index in DIR/real")
    parser.add_argument("--mode", default="dense", help="retrieval mode (default dense, the Chat page's default)")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--squad-paragraphs", type=int, default=300)
    parser.add_argument("--squad-questions", type=int, default=300, help="questions sampled from those paragraphs (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-real-docs", action="store_true")
    parser.add_argument("--skip-squad", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {_load()}; {model_calibration()}")
    with tempfile.TemporaryDirectory() as scratch:
        root = args.data_dir or scratch
        if not args.skip_real_docs:
            real_docs(str(Path(root) / "real"), args.mode, args.top_k, args.real_docs_index)
            print(f"load average: {_load()}")
        if not args.skip_squad:
            squad(str(Path(root) / "squad"), args.mode, args.top_k, args.squad_paragraphs, args.squad_questions, args.seed)
    print(f"\nload average after: {_load()}; {model_calibration()}")


if __name__ == "__main__":
    main()
