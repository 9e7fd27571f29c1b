"""Relevance marks: on Retrieve and Compare a person marks a hit relevant or not relevant for the question asked.

The marks of an index are kept one per (question, chunk) and can be undone. After every mark or undo, the
index's *marked* question set (`marked-<index name>`, origin kind "marked") is rewritten from them: each
question with at least one hit marked relevant, labelled with those chunks' ids. Hits marked not relevant
are kept as judgements (counted in the set's origin) but label nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ragkit.errors import ConfigError
from ragkit.questions import RELEVANT, Label, Question, QuestionSet, normalised
from workbench.catalog import Catalog
from workbench.config import resolve_config
from workbench.indexes import index_key_for


def marked_set_name(index_name: str) -> str:
    """The name of the question set an index's marks make."""
    return f"marked-{index_name}"


def _question_key(question: str) -> str:
    text = normalised(question)
    if not text:
        raise ConfigError("The question is empty; marks are made for the question that was searched.")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _index(config: Mapping[str, Any]) -> tuple[Catalog, str, str]:
    config = resolve_config(config)
    return Catalog(config["data_dir"]), index_key_for(config), config["index_name"]


def _rebuild(catalog: Catalog, key: str, index_name: str) -> dict[str, Any]:
    """Rewrite the marked question set of an index from its marks; a summary of it."""
    marks = catalog.marks(key)
    by_question: dict[str, dict[str, Any]] = {}
    for mark in marks:
        entry = by_question.setdefault(mark["question_key"], {"text": mark["question"], "relevant": []})
        entry["text"] = mark["question"]  # the latest wording of the same (normalised) question
        if mark["relevant"]:
            entry["relevant"].append(mark["chunk_id"])
    questions = tuple(
        Question(f"m{question_key}", entry["text"], tuple(Label(chunk_ids=(chunk_id,), grade=RELEVANT)
                                                          for chunk_id in entry["relevant"]), "marked")
        for question_key, entry in by_question.items() if entry["relevant"]
    )
    relevant = sum(mark["relevant"] for mark in marks)
    name = marked_set_name(index_name)
    origin = {"kind": "marked", "index_name": index_name, "relevant_marks": relevant,
              "not_relevant_marks": len(marks) - relevant}
    if questions:
        catalog.save_question_set(QuestionSet(name, questions, origin, key).to_json())
    else:
        catalog.delete_question_set(name)
    return {"name": name, "questions": len(questions), **{k: v for k, v in origin.items() if k.endswith("_marks")}}


def mark_hit(config: Mapping[str, Any], question: str, hit: Mapping[str, Any], relevant: bool) -> dict[str, Any]:
    """Mark one hit of a search on the index a config points at as relevant (or not) for the question; the marked
    question set of the index is rewritten. Returns {"name", "questions", "relevant_marks", "not_relevant_marks"}."""
    catalog, key, index_name = _index(config)
    existing = catalog.question_set(marked_set_name(index_name))
    if existing and (existing.get("index_key") != key or existing["origin"].get("kind") != "marked"):
        raise ConfigError(f"Question set {marked_set_name(index_name)!r} exists and is not this index's marks; "
                          "rename or delete it (`questions delete`) to mark hits here.")
    catalog.save_mark(key, _question_key(question), question.strip(), str(hit["chunk_id"]), bool(relevant),
                      str(hit.get("source_name") or ""), int(hit.get("page") or 0))
    return _rebuild(catalog, key, index_name)


def unmark_hit(config: Mapping[str, Any], question: str, chunk_id: str) -> dict[str, Any]:
    """Undo the mark of one hit for a question; the marked question set is rewritten (dropped when no mark is left)."""
    catalog, key, index_name = _index(config)
    catalog.delete_mark(key, _question_key(question), str(chunk_id))
    return _rebuild(catalog, key, index_name)


def hit_marks(config: Mapping[str, Any], question: str) -> dict[str, bool]:
    """The marks made for a question on an index: chunk id → relevant (True) or not relevant (False)."""
    if not normalised(question):
        return {}
    catalog, key, _ = _index(config)
    wanted = _question_key(question)
    return {mark["chunk_id"]: mark["relevant"] for mark in catalog.marks(key) if mark["question_key"] == wanted}


def marks(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every mark made on an index, oldest first: question, chunk id, relevant, document, page, when."""
    catalog, key, _ = _index(config)
    return [{name: mark[name] for name in ("question", "chunk_id", "relevant", "document", "page", "marked_at")}
            for mark in catalog.marks(key)]
