"""Question sets: labels resolved against chunks by hand-computed cases, file import with per-row errors, graded
nDCG and the paired tests by hand, and any index evaluated against an imported set, from Python and the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit.errors import ConfigError
from ragkit.questions import ChunkIndex, Label, QuestionSet, read_beir, read_csv, read_jsonl, to_csv, to_jsonl
from ragkit.relevance import label_ranks, ndcg, paired_bootstrap, question_scores, sign_test
from ragkit.schema import InputFile
from tests.conftest import REPO
from workbench import api

ROWS = [
    {"chunk_id": "a1", "document_id": "da", "source_name": "guide.pdf", "page": 1, "text": "Install the  package with\napt."},
    {"chunk_id": "a2", "document_id": "da", "source_name": "guide.pdf", "page": 2, "text": "Remove it with APT purge."},
    {"chunk_id": "a3", "document_id": "da", "source_name": "guide.pdf", "page": 2, "text": "Logs live in /var/log."},
    {"chunk_id": "b1", "document_id": "db", "source_name": "notes.md", "page": 0, "text": "Install Python with pyenv."},
]


# --- label resolution --------------------------------------------------------------------------


@pytest.mark.parametrize("label, expected", [
    (Label(document="guide.pdf"), {"a1", "a2", "a3"}),
    (Label(document="da"), {"a1", "a2", "a3"}),  # the document id works as well as the source name
    (Label(document="guide.pdf", page=2), {"a2", "a3"}),
    (Label(answer="install THE package   with apt"), {"a1"}),  # whitespace collapsed, case folded
    (Label(answer="install"), {"a1", "b1"}),  # an answer string alone: any document
    (Label(document="notes.md", answer="install"), {"b1"}),
    (Label(document="guide.pdf", page=2, answer="purge"), {"a2"}),
    (Label(chunk_ids=("a3", "zz")), {"a3"}),
    (Label(chunk_ids=("db",)), {"b1"}),  # a BEIR corpus id that is a document id
    (Label(document="missing.pdf"), set()),
    (Label(document="guide.pdf", page=9), set()),
])
def test_a_label_resolves_to_the_chunks_meeting_every_criterion(label, expected):
    assert ChunkIndex(ROWS).resolve(label) == expected


def test_graded_ndcg_and_ranks_by_hand():
    resolved = [{"a2"}, {"b1"}]  # two labels: relevant (grade 2), partly (grade 1)
    ranks = label_ranks(["x", "a2", "y", "b1"], resolved)
    assert ranks == [2, 4]
    ideal = 3 / math.log2(2) + 1 / math.log2(3)
    assert ndcg(ranks, [2, 1]) == pytest.approx((3 / math.log2(3) + 1 / math.log2(5)) / ideal)
    scores = question_scores(ranks, [2, 1], [1, 5])
    assert scores == {"recall@1": 0.0, "recall@5": 1.0, "mrr@10": 0.5, "ndcg@10": pytest.approx(ndcg(ranks, [2, 1]))}
    assert question_scores([0, 0], [2, 1], [1])["mrr@10"] == 0.0


def test_the_paired_tests_by_hand():
    a = [0, 0, 0, 0, 0, 1, 1]
    b = [1, 1, 1, 1, 1, 0, 1]  # b wins 5, loses 1, ties 1
    assert sign_test(a, b) == {"b_better": 5, "a_better": 1, "p_value": round(2 * (1 + 6) / 64, 6)}  # 2·P(X ≤ 1), X~B(6, ½)
    boot = paired_bootstrap(a, b, resamples=2000)
    assert boot["mean_diff"] == round(4 / 7, 4) and boot["ci_low"] < boot["mean_diff"] < boot["ci_high"]
    assert boot["p_value"] > 0.05  # seven questions: not enough to tell
    clear = paired_bootstrap([0] * 30, [1] * 25 + [0] * 5, resamples=2000)
    assert clear["mean_diff"] == round(25 / 30, 4) and clear["ci_low"] > 0 and clear["p_value"] < 0.01
    same = paired_bootstrap(a, a)
    assert same["mean_diff"] == 0.0 and same["p_value"] == 1.0
    assert sign_test(a, a)["p_value"] == 1.0


# --- files ----------------------------------------------------------------------------------------


def test_csv_rows_group_into_questions_and_bad_rows_are_reported_alone():
    text = ("id,question,document,page,answer,grade\n"
            "q1,How do I install it?,guide.pdf,1,with apt,\n"
            "q1,How do I install it?,notes.md,,,partly\n"  # a second label of q1
            "q2,,guide.pdf,1,,\n"  # no question
            "q3,Where are the logs?,guide.pdf,zero,,\n"  # bad page
            "q4,What is it?,,,,\n"  # no label at all
            "q5,Where are the logs?,guide.pdf,2,/var/log,2\n")
    result = read_csv(text)
    assert [q.question_id for q in result.questions] == ["q1", "q5"]
    assert result.questions[0].labels == (Label("guide.pdf", 1, "with apt"), Label("notes.md", grade=1))
    assert len(result.errors) == 3
    assert result.errors[0].startswith("line 4: the question is empty")
    assert result.errors[1].startswith("line 5:") and "zero" in result.errors[1]
    assert result.errors[2].startswith("line 6: no label")


def test_jsonl_and_beir_files():
    jsonl = ('{"id": "q1", "question": "Remove it?", "labels": [{"document": "guide.pdf", "page": 2, "answer": "purge"}]}\n'
             "not json\n"
             '{"question": "Logs?", "document": "guide.pdf", "answer": "/var/log"}\n'
             '["a list"]\n')
    result = read_jsonl(jsonl)
    assert [q.text for q in result.questions] == ["Remove it?", "Logs?"]
    assert [e.split(":")[0] for e in result.errors] == ["line 2", "line 4"]
    beir = read_beir('{"_id": "1", "text": "Install?"}\n{"_id": "2", "text": "Logs?"}\n',
                     "query-id\tcorpus-id\tscore\n1\tdb\t1\n1\ta1\t2\n2\ta3\t0\n3\ta1\t1\n")
    assert [(q.question_id, [label.chunk_ids for label in q.labels]) for q in beir.questions] == [("1", [("db",), ("a1",)])]
    assert beir.errors == ("qrels line 5: query '3' is not in queries.jsonl",)  # a 0 score (not relevant) is no label


def test_export_reads_back_the_same_set():
    questions = read_csv("id,question,document,page,answer\nq1,Install?,guide.pdf,1,apt\nq1,Install?,notes.md,,\n").questions
    original = QuestionSet("s", questions, {"kind": "imported"})
    assert read_jsonl(to_jsonl(original)).questions == questions
    assert read_csv(to_csv(original)).questions == questions
    assert QuestionSet.from_json(json.loads(json.dumps(original.to_json()))) == original


# --- any index against an imported set ---------------------------------------------------------


DOCS = {
    "lighthouse.txt": b"The Marrowick lighthouse was built in 1884 by the keepers guild. Its first keeper was Ada Fenwick.",
    "bakery.txt": b"The old bakery on Quay Street sells rye bread every morning. It opens at six.",
    "ferry.txt": b"The ferry to the island leaves twice a day from pier four, at nine and at five.",
}
QUESTIONS_CSV = ("question,document,page,answer\n"
                 "Who was the first keeper of the lighthouse?,lighthouse.txt,,Ada Fenwick\n"
                 "When does the bakery open?,bakery.txt,,opens at six\n"
                 "Where does the ferry leave from?,ferry.txt,,pier four\n"
                 "What does the museum show?,museum.txt,,old maps\n")  # a document never ingested


@pytest.fixture(scope="module")
def docs_index(tmp_path_factory) -> dict:
    data_dir = tmp_path_factory.mktemp("questions") / "data"
    config = {"source": "files", "data_dir": str(data_dir), "index_name": "town"}
    api.ingest(config, files=[InputFile(name, data) for name, data in DOCS.items()])
    return config


def test_an_imported_set_scores_any_index_and_counts_labels_it_cannot_resolve(docs_index, tmp_path):
    path = tmp_path / "town.csv"
    path.write_text(QUESTIONS_CSV, encoding="utf-8")
    imported = api.import_questions(str(path), data_dir=docs_index["data_dir"])
    assert imported == {"name": "town", "questions": 4, "labels": 4, "errors": []}
    dense = api.evaluate(docs_index, questions="town", sample_size=0)
    assert dense["question_set"] == "town" and dense["questions"] == 3
    assert dense["labels"] == {"labels": 4, "unresolved_labels": 1, "questions": 4, "questions_without_a_resolved_label": 1}
    assert dense["metrics"]["recall@1"] == 1.0  # three distinct documents, one chunk each
    assert [row["rank"] for row in dense["per_question"]] == [1, 1, 1]
    lexical = api.evaluate({**docs_index, "retrieval_mode": "lexical"}, questions="town", sample_size=0)
    compared = api.compare_evaluations(dense, lexical)
    assert compared["questions"] == 3 and set(compared["tests"]) == {"recall@5", "mrr@10", "ndcg@10"}
    assert compared["tests"]["recall@5"]["sign_test"]["p_value"] <= 1.0
    history = api.evaluations(docs_index["data_dir"], question_set="town")
    assert [record["eval_id"] for record in history] == [lexical["eval_id"], dense["eval_id"]]
    assert api.evaluation(dense["eval_id"], docs_index["data_dir"])["per_question"] == dense["per_question"]


def test_a_set_that_names_no_document_of_the_index_is_refused_in_one_sentence(docs_index, tmp_path):
    path = tmp_path / "elsewhere.jsonl"
    path.write_text('{"question": "Anything?", "document": "other.pdf"}\n', encoding="utf-8")
    api.import_questions(str(path), data_dir=docs_index["data_dir"])
    with pytest.raises(ConfigError, match="none resolved"):
        api.evaluate(docs_index, questions="elsewhere")
    with pytest.raises(ConfigError, match="No question set 'nope'"):
        api.evaluate(docs_index, questions="nope")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_questions_commands_round_trip(tmp_path: Path):
    data = str(tmp_path / "data")
    path = tmp_path / "mine.csv"
    path.write_text(QUESTIONS_CSV + ",guide.pdf,1,\n", encoding="utf-8")  # a bad row: the good ones land, exit 3
    imported = _cli("questions", "import", str(path), "--name", "mine", "--data-dir", data)
    assert imported.returncode == 3 and "4 questions" in imported.stdout and "line 6: the question is empty" in imported.stdout
    listed = json.loads(_cli("questions", "list", "--data-dir", data, "--json").stdout)
    assert [(s["name"], s["question_count"], s["origin"]["kind"]) for s in listed] == [("mine", 4, "imported")]
    shown = _cli("questions", "show", "mine", "--data-dir", data)
    assert "Ada Fenwick" in shown.stdout and "relevant" in shown.stdout
    exported = _cli("questions", "export", "mine", "--format", "csv", "--data-dir", data)
    assert read_csv(exported.stdout).questions == read_csv(QUESTIONS_CSV).questions
    assert _cli("questions", "delete", "mine", "--data-dir", data).returncode == 0
    missing = _cli("questions", "show", "mine", "--data-dir", data)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "No question set 'mine'" in missing.stderr
