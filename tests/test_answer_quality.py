"""Answer quality in evaluations: SQuAD's exact match and F1 by hand, 'contains' for extracted answers, the scores
stored per question and compared with the paired tests; LLM answers through the real OpenAI client and its fake."""

from __future__ import annotations

import re

import pytest

from ragkit.answer_quality import answer_contains, exact_match, f1, squad_normalised
from ragkit.schema import InputFile
from tests.apptest import open_page
from tests.conftest import SQUAD_SAMPLE
from tests.fakes.chat_fakes import FakeOpenAIChat
from workbench import api

KEY = "sk-fake-answers-0123456789abcdefKEY"


def test_squad_measures_by_hand():
    assert squad_normalised("The  Denver Broncos!") == "denver broncos"
    assert exact_match("the Denver Broncos.", ["Denver Broncos", "Broncos"]) == 1.0
    assert exact_match("Denver", ["Denver Broncos"]) == 0.0
    # "denver" against "denver broncos": precision 1/1, recall 1/2 → F1 2/3; the best reference counts
    assert f1("Denver", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert f1("Denver", ["Denver Broncos", "Denver"]) == 1.0
    assert f1("Carolina Panthers", ["Denver Broncos"]) == 0.0 and f1("anything", []) == 0.0
    assert exact_match("Denver Broncos [1][2].", ["Denver Broncos"]) == 1.0  # citation markers are not answer tokens
    assert f1("Denver [3]", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert answer_contains("“They beat the  DENVER broncos in 2016.” [1]", ["Denver Broncos"])
    assert not answer_contains("They won.", ["Denver Broncos", ""])


@pytest.fixture
def guild(tmp_path):
    data_dir = str(tmp_path / "data")
    api.ingest({"source": "files", "data_dir": data_dir, "index_name": "guild"}, api_keys={}, files=[
        InputFile("keepers.txt", data=b"The guild was founded in 1884. Its first keeper was Ada Fenwick."),
        InputFile("emblem.txt", data=b"The guild's emblem is a silver gull holding a brass key."),
    ])
    (tmp_path / "q.csv").write_text("question,document,page,answer\nWho was the first keeper?,keepers.txt,,Ada Fenwick\n"
                                    "What is the emblem?,emblem.txt,,silver gull\nWhich year?,keepers.txt,,\n",
                                    encoding="utf-8")
    api.import_questions(str(tmp_path / "q.csv"), data_dir=data_dir)
    return {"data_dir": data_dir, "index_name": "guild"}


def test_offline_answers_are_scored_by_contains_only(guild):
    record = api.evaluate(guild, sample_size=0, questions="q", answers=True, api_keys={})
    quality = record["answer_quality"]
    assert quality["llm_service"] == "extractive" and quality["generated"] is False
    assert quality["questions"] == 2  # the question without an answer string is not scored
    assert quality["answer_contains"] == 1.0  # each extracted answer quotes the sentence holding the answer
    assert quality["exact_match"] is None and quality["f1"] is None
    stored = api.evaluation(record["eval_id"], guild["data_dir"])
    assert stored["answer_quality"] == quality
    assert sorted(row.get("answer_contains") for row in stored["per_question"] if "answer_contains" in row) == [1.0, 1.0]


def test_llm_answers_get_exact_match_and_f1_and_are_compared_between_stacks(guild):
    def reply(messages):
        question = re.search(r"<question>\n(.*)\n</question>", messages[-1]["content"], re.DOTALL).group(1)
        return "Ada Fenwick" if "keeper" in question else "A gull [1]."

    with FakeOpenAIChat(api_key=KEY) as fake:
        fake.reply_with(reply)
        config = {**guild, "llm_service": "openai", "llm_base_url": fake.base_url}
        record = api.evaluate(config, sample_size=0, questions="q", answers=True, api_keys={"openai_api_key": KEY})
        lexical = api.evaluate({**config, "retrieval_mode": "lexical"}, sample_size=0, questions="q", answers=True,
                               api_keys={"openai_api_key": KEY})
    quality = record["answer_quality"]
    # "Ada Fenwick" is exact; "A gull [1]." against "silver gull": article and citation dropped, precision 1,
    # recall 1/2 → F1 2/3
    assert quality["exact_match"] == 0.5 and quality["f1"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
    assert quality["answer_contains"] == 0.5 and quality["generated"] is True
    compared = api.compare_evaluations(record, lexical)
    assert {"answer_contains", "exact_match", "f1"} <= set(compared["tests"])
    assert compared["tests"]["f1"]["questions"] == 2 and compared["tests"]["f1"]["a"] == compared["tests"]["f1"]["b"]


def test_squad_questions_carry_their_answer_texts_as_references(tmp_path):
    from ragkit.squad import squad_question_set

    question_set = squad_question_set(str(SQUAD_SAMPLE))
    assert all(question.answers for question in question_set.questions)
    config = {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "limit": 3, "data_dir": str(tmp_path), "index_name": "sq"}
    api.ingest(config, api_keys={})
    record = api.evaluate(config, sample_size=4, answers=True, api_keys={})
    assert record["answer_quality"]["questions"] == 4


def test_the_cli_prints_answer_quality(guild, capsys):
    from workbench.cli import run

    assert run(["eval", "--questions", "q", "--answers", "--index", "guild", "--data-dir", guild["data_dir"]]) == 0
    assert "answers (extractive / , 2 questions with reference answers): answer_contains 1.000" in capsys.readouterr().out


def test_the_compare_benchmark_scores_the_answers_of_both_sides(guild, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", guild["data_dir"])
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "none.toml"))
    app = open_page("pages/compare.py")
    app.selectbox(key="compare_b_mode").set_value("lexical").run()
    app.checkbox(key="compare_answers").check().run()
    next(b for b in app.button if b.label == "Run benchmark on both").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    table = next(d.value for d in app.dataframe if "answers: answer_contains" in d.value.columns)
    assert list(table["answers: answer_contains"]) == [1.0, 1.0]
    paired = next(d.value for d in app.dataframe if "p (sign test)" in d.value.columns)
    assert "answer_contains" in list(paired["metric"])
