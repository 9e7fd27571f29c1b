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
    if file.stat().st_size > _MAX_FILE_MB * 2**20:  # refused before it is read
        raise ConfigError(f"{path}: over {_MAX_FILE_MB} MB; split the question file.")
    return _decoded(path, file.read_bytes())


def _decoded(name: str, data: bytes) -> str:
    if len(data) > _MAX_FILE_MB * 2**20:
        raise ConfigError(f"{name}: over {_MAX_FILE_MB} MB; split the question file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{name}: not UTF-8 text ({error.reason} at byte {error.start}).") from None


def _parsed_questions(file_name: str, text: str, qrels_text: str | None) -> ImportResult:
    if qrels_text is not None:
        return read_beir(text, qrels_text)
    if Path(file_name).suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return read_jsonl(text)
    return read_csv(text)


def read_question_file(path: str, qrels: str = "") -> ImportResult:
    """The questions of a CSV or JSONL file, or of BEIR's queries.jsonl with its qrels.tsv, with one error per bad row."""
    return _parsed_questions(path, _read_text(path), _read_text(qrels) if qrels else None)


def _store_imported(result: ImportResult, source: str, name: str, origin: dict[str, Any], index_key: str,
                    data_dir: str) -> dict[str, Any]:
    if not result.questions:
        details = "; ".join(result.errors[:5]) or "the file holds no rows"
        raise ConfigError(f"{source}: no question could be read ({details}).")
    name = valid_set_name(name or Path(source).stem)
    _catalog(data_dir).save_question_set(QuestionSet(name, result.questions, origin, index_key).to_json())
    return {"name": name, "questions": len(result.questions), "labels": sum(len(q.labels) for q in result.questions),
            "errors": list(result.errors)}


def valid_set_name(name: str) -> str:
    """The name stripped; ConfigError when it is empty, over 200 characters, or holds a slash."""
    name = name.strip()
    if not name or len(name) > 200 or any(ch in name for ch in "/\\\x00") or name in (".", ".."):
        raise ConfigError(f"Question set name {name!r} is not usable: 1 to 200 characters, no slashes.")
    return name


def import_questions(path: str, name: str = "", index_key: str = "", qrels: str = "", data_dir: str = "") -> dict[str, Any]:
    """Read a question file and store it as a question set (replacing one of that name); the good rows land,
    each bad row is reported. Returns {"name", "questions", "labels", "errors"}."""
    result = read_question_file(path, qrels)
    origin = {"kind": "imported", "file": str(Path(path).expanduser().resolve())}
    if qrels:
        origin.update(format="beir", qrels=str(Path(qrels).expanduser().resolve()))
    return _store_imported(result, path, name, origin, index_key, data_dir)


def import_question_upload(file_name: str, data: bytes, name: str = "", qrels: bytes | None = None, index_key: str = "",
                           data_dir: str = "") -> dict[str, Any]:
    """`import_questions` for a file's bytes (an upload): CSV or JSONL by its name, BEIR when `qrels` is given."""
    text = _decoded(file_name, data)
    result = _parsed_questions(file_name, text, None if qrels is None else _decoded("qrels.tsv", qrels))
    origin = {"kind": "imported", "file": Path(file_name).name, **({"format": "beir"} if qrels is not None else {})}
    return _store_imported(result, file_name, name, origin, index_key, data_dir)


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
    _catalog(data_dir).save_question_set(QuestionSet(valid_set_name(question_set.name), question_set.questions,
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
