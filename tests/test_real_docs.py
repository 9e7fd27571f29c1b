"""A small real-PDF index, evaluated end to end against questions written by reading it.

The GNU Information for Maintainers (55 pages, from Debian's gnu-standards package, fetched by
bench/fetch_real_docs.py) is ingested with the default stack; the subset's questions about it are
scored, and its questions about the three documents not ingested are reported as unresolved labels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ragkit.questions import read_jsonl
from ragkit.schema import InputFile
from tests.conftest import REPO
from workbench import api

sys.path.insert(0, str(REPO / "bench"))
from fetch_real_docs import real_doc_paths  # noqa: E402

SUBSET = REPO / "bench" / "real_docs" / "questions_subset.jsonl"


@pytest.fixture(scope="module")
def maintainers_index(tmp_path_factory) -> dict:
    try:
        paths = real_doc_paths()
    except RuntimeError as error:  # no apt-get here: the benchmark's documents cannot be had
        pytest.skip(str(error))
    data_dir = tmp_path_factory.mktemp("real") / "data"
    config = {"source": "files", "data_dir": str(data_dir), "index_name": "maintain"}
    record = api.ingest(config, files=[InputFile("maintain.pdf", path=str(paths["maintain.pdf"]))])
    assert record["status"] == "succeeded" and record["counts"]["written"] > 50
    return config


def test_the_question_files_are_well_formed_and_name_the_four_documents():
    for path in (SUBSET, SUBSET.with_name("questions.jsonl")):
        result = read_jsonl(path.read_text(encoding="utf-8"))
        assert result.errors == () and all(q.labels and all(label.answer and label.page for label in q.labels)
                                           for q in result.questions)
        documents = {label.document for q in result.questions for label in q.labels}
        assert documents == {"debian-reference.en.pdf", "developers-reference.pdf", "standards.pdf", "maintain.pdf"}
    assert len(read_jsonl(SUBSET.with_name("questions.jsonl").read_text(encoding="utf-8")).questions) >= 80


def test_a_real_pdf_index_is_scored_on_its_own_questions(maintainers_index):
    api.import_questions(str(SUBSET), name="subset", data_dir=maintainers_index["data_dir"])
    record = api.evaluate({**maintainers_index, "retrieval_mode": "hybrid"}, questions="subset", sample_size=0)
    labels = record["labels"]
    elsewhere = [label for q in read_jsonl(SUBSET.read_text(encoding="utf-8")).questions for label in q.labels
                 if label.document != "maintain.pdf"]
    assert labels["questions"] == 12 and record["questions"] == 3  # the three about maintain.pdf
    assert labels["unresolved_labels"] == len(elsewhere) and labels["questions_without_a_resolved_label"] == 9  # not here
    assert record["metrics"]["recall@10"] > 0  # the answer's page is found for at least one of them
    assert len(record["per_question"]) == 3 and all(row["id"].startswith("mnt-") for row in record["per_question"])
    assert Path(record["question_set_info"]["origin"]["file"]) == SUBSET
