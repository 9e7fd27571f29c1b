"""Question sets: questions with relevance labels, how labels resolve against stored chunks, and the file formats.

A label says which stored chunks answer a question, by any of: the document (its source name or document
id), the page, an answer string that must occur in the chunk's text (compared with whitespace collapsed
and case folded), or chunk ids. A chunk satisfies a label when it meets every criterion the label gives
(`ChunkIndex.resolve`).
Labels are graded: 2 relevant, 1 partly relevant.

Files (one question may have several labels):
- CSV with the header `question,document,page,answer` (optional columns `id`, `chunk_id`, `grade`); rows with
  the same `id` (or, without ids, the same question text) are one question with several labels;
- JSONL, one question per line: `{"id": ..., "question": ..., "labels": [{"document", "page", "answer",
  "chunk_ids", "grade"}]}`, or the flat CSV fields on each line;
- BEIR: `queries.jsonl` (`_id`, `text`) with `qrels.tsv` (`query-id`, `corpus-id`, `score`); a corpus id
  resolves against chunk ids, document ids and source names, and the score is the grade.
A bad row gets one error naming its line and the reason; the good rows are kept.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

RELEVANT, PARTLY = 2, 1
ORIGINS = ("imported", "marked", "generated", "squad")
_SPACE = re.compile(r"\s+")


def normalised(text: str) -> str:
    """Text with runs of whitespace collapsed to one space and case folded: how answer strings are compared."""
    return _SPACE.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Label:
    """Which chunks answer a question: every criterion given must hold (document, page, answer string, chunk ids)."""

    document: str = ""
    page: int = 0
    answer: str = ""
    chunk_ids: tuple[str, ...] = ()
    grade: int = RELEVANT

    def is_empty(self) -> bool:
        return not (self.document or self.page or self.answer or self.chunk_ids)


@dataclass(frozen=True)
class Question:
    """A question and its relevance labels; `origin` says where it came from where that differs from its set;
    `answers` are reference answers that score the answering step, beside the labels' answer strings (SQuAD's)."""

    question_id: str
    text: str
    labels: tuple[Label, ...]
    origin: str = ""
    answers: tuple[str, ...] = ()

    @property
    def reference_answers(self) -> tuple[str, ...]:
        """The answers an answer is scored against: the reference answers, else the labels' answer strings."""
        return self.answers or tuple(dict.fromkeys(label.answer for label in self.labels if label.answer))


@dataclass(frozen=True)
class QuestionSet:
    """A named set of labelled questions, made for an index (or none), with where it came from."""

    name: str
    questions: tuple[Question, ...]
    origin: dict[str, Any] = field(default_factory=dict)  # {"kind": one of ORIGINS, "file": ..., "model": ..., ...}
    index_key: str = ""

    @property
    def generated(self) -> bool:
        """Whether an LLM wrote these questions (every figure that uses them says so)."""
        return self.origin.get("kind") == "generated"

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"name": self.name, "index_key": self.index_key, "origin": self.origin,
                "questions": [_question_json(q) for q in self.questions]}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> QuestionSet:
        """The set from its stored form."""
        questions = tuple(
            Question(q["id"], q["question"], tuple(Label(**{**label, "chunk_ids": tuple(label.get("chunk_ids", ()))})
                                                   for label in q["labels"]), q.get("origin", ""),
                     tuple(q.get("answers", ())))
            for q in data["questions"]
        )
        return QuestionSet(data["name"], questions, dict(data.get("origin") or {}), data.get("index_key", ""))


def _question_json(question: Question) -> dict[str, Any]:
    labels = [{key: value for key, value in asdict(label).items() if value not in ("", 0, ())} | {"grade": label.grade}
              for label in question.labels]
    for label in labels:
        if "chunk_ids" in label:
            label["chunk_ids"] = list(label["chunk_ids"])
    row = {"id": question.question_id, "question": question.text, "labels": labels}
    return (row | ({"origin": question.origin} if question.origin else {})
            | ({"answers": list(question.answers)} if question.answers else {}))


@dataclass(frozen=True)
class ResolvedQuestion:
    """A question and, for each of its labels, the ids of the index's chunks that satisfy it."""

    question: Question
    label_chunks: tuple[frozenset[str], ...]

    @property
    def answerable(self) -> bool:
        """Whether at least one label matches a chunk of the index."""
        return any(self.label_chunks)


@dataclass(frozen=True)
class ImportResult:
    """The questions read from a file, and one message per row that could not be read."""

    questions: tuple[Question, ...]
    errors: tuple[str, ...]


def _grade(value: Any) -> int:
    if value in (None, ""):
        return RELEVANT
    if isinstance(value, str) and value.strip().lower() in ("relevant", "partly", "partial"):
        return RELEVANT if value.strip().lower() == "relevant" else PARTLY
    grade = int(float(value))
    if grade < 1:
        raise ValueError(f"grade {value!r} means not relevant; leave such rows out")
    return min(grade, RELEVANT)


def _page(value: Any) -> int:
    if value in (None, ""):
        return 0
    page = int(float(value))
    if page < 1:
        raise ValueError(f"page {value!r} must be 1 or more (1 = the file's first page)")
    return page


def _label(row: Mapping[str, Any]) -> Label:
    chunk_ids = row.get("chunk_ids") or ([row["chunk_id"]] if row.get("chunk_id") else [])
    if isinstance(chunk_ids, str):
        chunk_ids = [part for part in chunk_ids.split("|") if part]
    label = Label(str(row.get("document") or "").strip(), _page(row.get("page")), str(row.get("answer") or "").strip(),
                  tuple(str(c) for c in chunk_ids), _grade(row.get("grade")))
    if label.is_empty():
        raise ValueError("no label: give at least one of document, page, answer, chunk_id")
    return label


def _grouped(rows: Iterable[tuple[int, Mapping[str, Any]]], errors: list[str]) -> tuple[Question, ...]:
    """Rows (line number, fields) grouped into questions by id, or by question text where there is no id."""
    order: dict[str, tuple[str, list[Label]]] = {}
    for line, row in rows:
        try:
            text = str(row.get("question") or "").strip()
            if not text:
                raise ValueError("the question is empty")
            labels = [_label(label) for label in row["labels"]] if isinstance(row.get("labels"), list) else [_label(row)]
            if not labels:
                raise ValueError("no label: 'labels' is an empty list")
        except (ValueError, TypeError, KeyError) as error:
            errors.append(f"line {line}: {error}")
            continue
        key = str(row.get("id") or "").strip() or f"q:{normalised(text)}"
        if key in order and order[key][0] != text:
            errors.append(f"line {line}: id {key!r} is used by another question ({order[key][0][:60]!r})")
            continue
        order.setdefault(key, (text, []))[1].extend(labels)
    return tuple(Question(key if not key.startswith("q:") else f"q{number:05d}", text, tuple(dict.fromkeys(labels)))
                 for number, (key, (text, labels)) in enumerate(order.items(), start=1))


def read_csv(text: str) -> ImportResult:
    """Questions from CSV (header `question,document,page,answer`, optional `id`, `chunk_id`, `grade`)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"question"} - set(reader.fieldnames or ())
    if missing:
        return ImportResult((), ("line 1: the header must name the column 'question' (and document, page, answer)",))
    errors: list[str] = []
    rows = ((line, {k.strip(): (v or "").strip() for k, v in row.items() if k}) for line, row in enumerate(reader, start=2))
    return ImportResult(_grouped(rows, errors), tuple(errors))


def read_jsonl(text: str) -> ImportResult:
    """Questions from JSON Lines: one question per line, with a `labels` list or the flat CSV fields."""
    errors: list[str] = []

    def rows() -> Iterable[tuple[int, Mapping[str, Any]]]:
        for line, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as error:
                errors.append(f"line {line}: not JSON ({error.msg})")
                continue
            if not isinstance(value, dict):
                errors.append(f"line {line}: not a JSON object")
                continue
            yield line, value

    questions = _grouped(rows(), errors)
    return ImportResult(questions, tuple(errors))


def read_beir(queries_jsonl: str, qrels_tsv: str) -> ImportResult:
    """Questions from BEIR's `queries.jsonl` and `qrels.tsv` (query-id, corpus-id, score; a header line is optional)."""
    errors: list[str] = []
    texts: dict[str, str] = {}
    for line, raw in enumerate(queries_jsonl.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
            texts[str(value["_id"])] = str(value["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            errors.append(f"queries line {line}: needs a JSON object with _id and text ({type(error).__name__})")
    labels: dict[str, list[Label]] = {}
    for line, raw in enumerate(qrels_tsv.splitlines(), start=1):
        parts = raw.strip().split("\t")
        if not raw.strip() or (line == 1 and parts[0].lower() in ("query-id", "query_id", "qid")):
            continue
        try:
            query_id, corpus_id, score = parts[0], parts[1], parts[2] if len(parts) > 2 else "1"
            if int(float(score)) < 1:
                continue  # BEIR's 0 means "judged, not relevant"
            if query_id not in texts:
                raise ValueError(f"query {query_id!r} is not in queries.jsonl")
            labels.setdefault(query_id, []).append(Label(chunk_ids=(corpus_id,), grade=_grade(score)))
        except (IndexError, ValueError) as error:
            errors.append(f"qrels line {line}: {error if isinstance(error, ValueError) else 'needs query-id, corpus-id, score'}")
    questions = tuple(Question(query_id, texts[query_id], tuple(found)) for query_id, found in labels.items())
    return ImportResult(questions, tuple(errors))


class ChunkIndex:
    """The stored chunks of an index, looked up by document, page and chunk id, for resolving labels quickly."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.rows = [dict(row) for row in rows]
        self._by_id = {str(row["chunk_id"]): row for row in self.rows}
        self._by_document: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            for name in {row.get("document_id"), row.get("source_name")} - {None, ""}:
                self._by_document.setdefault(str(name), []).append(row)
        self._texts: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def _text(self, row: Mapping[str, Any]) -> str:
        chunk_id = str(row["chunk_id"])
        if chunk_id not in self._texts:
            self._texts[chunk_id] = normalised(str(row.get("text", "")))
        return self._texts[chunk_id]

    def resolve(self, label: Label) -> set[str]:
        """The ids of the stored chunks that satisfy a label. A chunk id that is no stored chunk's id is taken as a
        corpus id (BEIR) and matches the chunks of that document id or source name."""
        if label.chunk_ids:
            candidates = [self._by_id[c] for c in label.chunk_ids if c in self._by_id]
            candidates += [row for c in label.chunk_ids if c not in self._by_id for row in self._by_document.get(c, ())]
        elif label.document:
            candidates = self._by_document.get(label.document, [])
        else:
            candidates = self.rows
        if label.document:
            candidates = [row for row in candidates if label.document in (row.get("document_id"), row.get("source_name"))]
        if label.page:
            candidates = [row for row in candidates if int(row.get("page") or 0) == label.page]
        if label.answer:
            wanted = normalised(label.answer)
            candidates = [row for row in candidates if wanted in self._text(row)]
        return {str(row["chunk_id"]) for row in candidates}


def to_csv(question_set: QuestionSet) -> str:
    """The set as CSV, one row per label (the format `read_csv` reads)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "question", "document", "page", "answer", "chunk_id", "grade"])
    for question in question_set.questions:
        for label in question.labels:
            writer.writerow([question.question_id, question.text, label.document, label.page or "", label.answer,
                             "|".join(label.chunk_ids), label.grade])
    return out.getvalue()


def to_jsonl(question_set: QuestionSet) -> str:
    """The set as JSON Lines (the format `read_jsonl` reads)."""
    return "".join(json.dumps(_question_json(q), ensure_ascii=False) + "\n" for q in question_set.questions)
