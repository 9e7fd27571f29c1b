"""SQuAD v1.1: paragraphs with their questions, from a local JSON file (plain or .gz) or the Hugging Face hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragkit.errors import FileParseError, SourceUnavailableError
from ragkit.questions import Label, Question, QuestionSet
from ragkit.schema import Document, SquadParagraph
from ragkit.user_files import read_text_file

SQUAD_HUB_NAME = "rajpurkar/squad"
_MAX_SQUAD_BYTES = 2 * 2**30  # SQuAD v1.1 train is 30 MB (8 MB gzipped); a FIFO or /dev/zero is refused before reading


def paragraphs_from_rows(rows: list[tuple[str, str, str, str]], limit: int) -> list[SquadParagraph]:
    """Group (title, context, question id, question) rows by context, keeping first-seen order.

    A blank context (one row per blank paragraph) is kept as a paragraph of its own with no questions, so that
    ingestion can skip it and count it.
    """
    grouped: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    blank: list[SquadParagraph] = []
    for title, context, question_id, question in rows:
        if not context.strip():
            if not limit or len(grouped) + len(blank) < limit:
                blank.append(SquadParagraph(title, "", ()))
            continue
        if context not in grouped:
            if limit and len(grouped) + len(blank) >= limit:
                continue
            grouped[context] = (title, [])
        grouped[context][1].append((question_id, question))
    return [SquadParagraph(title, context, tuple(questions)) for context, (title, questions) in grouped.items()] + blank


_SHAPE = ('SQuAD v1.1 JSON is {"data": [{"title": ..., "paragraphs": [{"context": "...", "qas": [{"id": ..., '
          '"question": ...}]}]}]}')


def _rows(dataset: object, path: Path) -> list[tuple[str, str, str, str]]:
    """(title, context, question id, question) for every question; SourceUnavailableError naming the first thing out of shape."""
    def wrong(what: str) -> SourceUnavailableError:
        return SourceUnavailableError(f"The SQuAD file {path} is not SQuAD v1.1: {what}. {_SHAPE}.")

    if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
        raise wrong("its top level is not an object with a \"data\" list" if not isinstance(dataset, dict)
                    else "it has no \"data\" list")
    rows = []
    for a, article in enumerate(dataset["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise wrong(f"article {a} has no \"paragraphs\" list")
        if not isinstance(article.get("title", ""), str):
            raise wrong(f"the title of article {a} is not text")
        title = str(article.get("title") or f"article {a}").replace("_", " ")
        for p, paragraph in enumerate(article["paragraphs"]):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str):
                raise wrong(f"paragraph {p} of article {a} ({title!r}) has no \"context\" text")
            if not context.strip():
                rows.append((title, "", "", ""))  # one row per blank paragraph, its questions left out
                continue
            questions = paragraph.get("qas")
            if not isinstance(questions, list):
                raise wrong(f"paragraph {p} of article {a} ({title!r}) has no \"qas\" list")
            for q, qa in enumerate(questions):
                if not isinstance(qa, dict) or not isinstance(qa.get("question"), str) or not isinstance(qa.get("id"), (str, int)):
                    raise wrong(f"question {q} of paragraph {p} of article {a} has no \"id\" and \"question\" text")
                answers = qa.get("answers", [])
                if not isinstance(answers, list) or not all(isinstance(answer, dict) and isinstance(answer.get("text"), str)
                                                           for answer in answers):
                    raise wrong(f"the \"answers\" of question {q} of paragraph {p} of article {a} are not a list of "
                                "objects with a \"text\"")
                rows.append((title, context, str(qa["id"]), qa["question"]))
    return rows


def read_squad_file(path: str | Path, limit: int = 0) -> list[SquadParagraph]:
    """Paragraphs of a local SQuAD v1.1 JSON file (plain or .gz), duplicate contexts merged, blank ones kept apart."""
    path = Path(path).expanduser()
    return paragraphs_from_rows(_rows(_squad_json(path), path), limit)


def _squad_json(path: Path) -> Any:
    """The JSON of a SQuAD file (plain or .gz): a regular file of at most 2 GB, read and decoded; SourceUnavailableError
    naming the file otherwise (a FIFO or device is refused before it is opened)."""
    try:
        return json.loads(read_text_file(path, _MAX_SQUAD_BYTES, "a SQuAD file is at most 2 GB", gzipped=path.suffix == ".gz"))
    except (OSError, EOFError, UnicodeDecodeError, FileParseError, ValueError) as error:
        raise SourceUnavailableError(f"Cannot read the SQuAD file {path}: {error}.") from None
    except RecursionError:
        raise SourceUnavailableError(f"Cannot read the SQuAD file {path}: its JSON is nested too deeply (thousands of "
                                     "levels); a SQuAD v1.1 file has five.") from None


def squad_from_hub(split: str, limit: int) -> list[SquadParagraph]:
    import datasets

    table = datasets.load_dataset(SQUAD_HUB_NAME, split=split)
    rows = zip(table["title"], table["context"], table["id"], table["question"])
    return paragraphs_from_rows([(t.replace("_", " "), c, i, q) for t, c, i, q in rows], limit)


def load_squad(split: str = "validation", path: str = "", limit: int = 0) -> list[SquadParagraph]:
    """The paragraphs of a local file when `path` is set (read whole), else of the hub's `split`; SourceUnavailableError offline."""
    if path:
        return read_squad_file(path, limit)
    try:
        return squad_from_hub(split, limit)
    except Exception as error:  # the datasets library raises many types when offline
        raise SourceUnavailableError(
            f"Could not load {SQUAD_HUB_NAME} (split {split!r}) from the Hugging Face hub: "
            f"{type(error).__name__}: {str(error)[:200]}. Point the setting squad_path (CLI --squad-path, "
            "environment WORKBENCH_SQUAD_PATH) at a local SQuAD v1.1 JSON file such as dev-v1.1.json.gz."
        ) from error


def squad_answers(path: str, split: str = "validation") -> dict[str, tuple[str, ...]]:
    """The answer texts of every SQuAD question, by question id (a local file, else the hub's split)."""
    if not path:
        import datasets

        table = datasets.load_dataset(SQUAD_HUB_NAME, split=split)
        return {qid: tuple(dict.fromkeys(answers["text"])) for qid, answers in zip(table["id"], table["answers"])}
    dataset = _squad_json(Path(path).expanduser())
    _rows(dataset, Path(path))  # its shape checked: one line naming what is wrong, never a KeyError
    return {qa["id"]: tuple(dict.fromkeys(answer["text"] for answer in qa.get("answers", ())))
            for article in dataset["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]}


def squad_question_set(path: str, split: str = "validation") -> QuestionSet:
    """SQuAD as a question set: every question, labelled with its gold paragraph's document id, with its answer texts
    as reference answers (kept out of the labels: the paragraph is what retrieval must find)."""
    paragraphs = load_squad(split, path)
    answers = squad_answers(path, split)
    questions = tuple(
        Question(question_id, text, (Label(document=Document.id_for("squad", paragraph.context)),),
                 answers=answers.get(question_id, ()))
        for paragraph in paragraphs if paragraph.context.strip()
        for question_id, text in paragraph.questions
    )
    return QuestionSet("squad", questions, {"kind": "squad", "file": path or f"hub: {SQUAD_HUB_NAME} ({split})"})
