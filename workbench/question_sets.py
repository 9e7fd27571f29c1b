"""Question sets in the catalog: import from files, list, show, export, delete, and the SQuAD set of an index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError
from ragkit.questions import ImportResult, QuestionSet, read_beir, read_csv, read_jsonl, to_csv, to_jsonl
from workbench.catalog import Catalog
from workbench.config import resolve_config

_MAX_FILE_MB = 200


def _catalog(data_dir: str) -> Catalog:
    return Catalog(resolve_config({"data_dir": data_dir})["data_dir"])


def _read_text(path: str) -> str:
    file = Path(path).expanduser()
    if not file.exists():
        raise ConfigError(f"{path}: no such file (a CSV, JSONL or BEIR queries.jsonl is expected).")
    if not file.is_file():  # a folder, FIFO, socket or device is never opened (a FIFO would block)
        raise ConfigError(f"{path}: not a regular file (a CSV, JSONL or BEIR queries.jsonl is expected).")
    if file.stat().st_size > _MAX_FILE_MB * 2**20:
        raise ConfigError(f"{path}: over {_MAX_FILE_MB} MB; split the question file.")
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}).") from None


def read_question_file(path: str, qrels: str = "") -> ImportResult:
    """The questions of a CSV or JSONL file, or of BEIR's queries.jsonl with its qrels.tsv, with one error per bad row."""
    text = _read_text(path)
    if qrels:
        return read_beir(text, _read_text(qrels))
    if Path(path).suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return read_jsonl(text)
    return read_csv(text)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(ch in name for ch in "/\\\x00") or name in (".", ".."):
        raise ConfigError(f"Question set name {name!r} is not usable: 1 to 200 characters, no slashes.")
    return name


def import_questions(path: str, name: str = "", index_key: str = "", qrels: str = "", data_dir: str = "") -> dict[str, Any]:
    """Read a question file and store it as a question set (replacing one of that name); the good rows land,
    each bad row is reported. Returns {"name", "questions", "labels", "errors"}."""
    result = read_question_file(path, qrels)
    if not result.questions:
        details = "; ".join(result.errors[:5]) or "the file holds no rows"
        raise ConfigError(f"{path}: no question could be read ({details}).")
    name = _valid_name(name or Path(path).stem)
    origin = {"kind": "imported", "file": str(Path(path).expanduser().resolve())}
    if qrels:
        origin.update(format="beir", qrels=str(Path(qrels).expanduser().resolve()))
    question_set = QuestionSet(name, result.questions, origin, index_key)
    _catalog(data_dir).save_question_set(question_set.to_json())
    return {"name": name, "questions": len(result.questions), "labels": sum(len(q.labels) for q in result.questions),
            "errors": list(result.errors)}


def question_set(name: str, data_dir: str = "") -> QuestionSet:
    """A stored question set; ConfigError naming the stored ones when there is none of that name."""
    stored = _catalog(data_dir).question_set(name)
    if stored is None:
        names = [record["name"] for record in _catalog(data_dir).question_sets()]
        raise ConfigError(f"No question set {name!r}; stored: {', '.join(names) or 'none'} (import one with `questions import`).")
    return QuestionSet.from_json(stored)


def question_sets(data_dir: str = "") -> list[dict[str, Any]]:
    """Every stored question set: name, index, origin, question count, when made."""
    return _catalog(data_dir).question_sets()


def save_question_set(question_set: QuestionSet, data_dir: str = "") -> None:
    """Store a question set made in Python (replacing one of that name)."""
    _catalog(data_dir).save_question_set(QuestionSet(_valid_name(question_set.name), question_set.questions,
                                                     question_set.origin, question_set.index_key).to_json())


def export_questions(name: str, file_format: str = "jsonl", data_dir: str = "") -> str:
    """A stored question set as JSONL or CSV text (the formats `import_questions` reads)."""
    found = question_set(name, data_dir)
    if file_format not in ("jsonl", "csv"):
        raise ConfigError(f"Export format must be jsonl or csv, not {file_format!r}.")
    return to_jsonl(found) if file_format == "jsonl" else to_csv(found)


def delete_question_set(name: str, data_dir: str = "") -> bool:
    """Forget a stored question set (its evaluation records stay); False when there was none."""
    return _catalog(data_dir).delete_question_set(name)
