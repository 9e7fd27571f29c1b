"""Marking hits relevant or not: marks persist per (question, chunk), can be undone, and make the index's marked
question set, which evaluates the index like any other set. Real model, real LanceDB; the pages through AppTest."""

from __future__ import annotations

import pytest

from ragkit.errors import ConfigError
from ragkit.schema import InputFile
from tests.apptest import open_page
from workbench import api

DOCS = {
    "keepers.txt": "The Marrowick lighthouse keepers guild was founded in 1884. Its first keeper was Ada Fenwick.",
    "emblem.txt": "The guild's emblem is a silver gull holding a brass key.",
    "harbour.txt": "The harbour of Marrowick freezes in January, when the ferries stop running.",
}


@pytest.fixture
def index_config(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "none.toml"))
    config = {"source": "files", "data_dir": str(data_dir), "index_name": "guild"}
    api.ingest(config, files=[InputFile(name=n, data=t.encode()) for n, t in DOCS.items()], api_keys={})
    return {"data_dir": str(data_dir), "index_name": "guild"}


def _hits(config, question):
    return api.search(config, question, top_k=3, api_keys={})["hits"]


def test_marks_make_the_marked_question_set_and_undo_removes_them(index_config):
    question = "Who was the first keeper?"
    hits = _hits(index_config, question)
    keeper = next(h for h in hits if h["source_name"] == "keepers.txt")
    other = next(h for h in hits if h["source_name"] != "keepers.txt")

    summary = api.mark_hit(index_config, question, keeper, relevant=True)
    assert summary == {"name": "marked-guild", "questions": 1, "relevant_marks": 1, "not_relevant_marks": 0}
    api.mark_hit(index_config, "  who WAS the first   keeper? ", other, relevant=False)  # the same question, normalised
    stored = api.question_set("marked-guild", index_config["data_dir"])
    assert stored.origin["kind"] == "marked" and stored.index_key == api.index_key_for(index_config)
    (marked,) = stored.questions
    assert [label.chunk_ids for label in marked.labels] == [(keeper["chunk_id"],)]
    assert api.hit_marks(index_config, question) == {keeper["chunk_id"]: True, other["chunk_id"]: False}

    # marking the same hit again changes the verdict, it adds no second mark
    api.mark_hit(index_config, question, other, relevant=True)
    assert len(api.marks(index_config)) == 2
    assert {label.chunk_ids[0] for label in api.question_set("marked-guild", index_config["data_dir"]).questions[0].labels} \
        == {keeper["chunk_id"], other["chunk_id"]}

    api.unmark_hit(index_config, question, other["chunk_id"])
    api.unmark_hit(index_config, question, keeper["chunk_id"])
    assert api.hit_marks(index_config, question) == {}
    assert "marked-guild" not in [s["name"] for s in api.question_sets(index_config["data_dir"])]


def test_the_marked_set_evaluates_the_index(index_config):
    for question, source in (("Who was the first keeper?", "keepers.txt"), ("What is the emblem?", "emblem.txt"),
                             ("When does the harbour freeze?", "harbour.txt")):
        hit = next(h for h in _hits(index_config, question) if h["source_name"] == source)
        api.mark_hit(index_config, question, hit, relevant=True)
    record = api.evaluate(index_config, sample_size=0, api_keys={}, questions="marked-guild")
    assert record["questions"] == 3 and record["question_set_info"]["origin"]["kind"] == "marked"
    assert record["metrics"]["recall@5"] == 1.0  # three chunks: every marked chunk is in the top 5
    assert record["labels"]["unresolved_labels"] == 0


def test_a_set_of_that_name_that_is_not_the_marks_is_never_overwritten(index_config, tmp_path):
    questions = tmp_path / "marked-guild.csv"
    questions.write_text("question,document,page,answer\nWho?,keepers.txt,,Ada\n", encoding="utf-8")
    api.import_questions(str(questions), data_dir=index_config["data_dir"])
    hit = _hits(index_config, "Who?")[0]
    with pytest.raises(ConfigError, match="not this index's marks"):
        api.mark_hit(index_config, "Who?", hit, relevant=True)
    assert api.question_set("marked-guild", index_config["data_dir"]).origin["kind"] == "imported"


def test_an_empty_question_cannot_be_marked(index_config):
    hit = _hits(index_config, "keeper")[0]
    with pytest.raises(ConfigError, match="question is empty"):
        api.mark_hit(index_config, "   ", hit, relevant=True)


def _button(app, label: str, nth: int = 0):
    return [b for b in app.button if b.label == label][nth]


def test_marking_on_retrieve_persists_across_reruns_and_undo_takes_it_back(index_config):
    app = open_page("pages/retrieve.py")
    question = "Who was the first keeper?"
    app.text_input(key="retrieve_question").input(question)
    _button(app, "Search").click().run()
    first_hit = _hits(index_config, question)[0]
    _button(app, "✓ Relevant").click().run()
    assert not app.exception and not app.error
    assert api.hit_marks(index_config, question) == {first_hit["chunk_id"]: True}
    assert any("marked relevant" in c.value for c in app.caption)  # the results stay, with the mark shown
    _button(app, "✗ Not relevant").click().run()  # the second hit (the first shows Undo now)
    assert list(api.hit_marks(index_config, question).values()) == [True, False]

    fresh = open_page("pages/retrieve.py")  # a new session: the marks come from the catalog
    fresh.text_input(key="retrieve_question").input(question)
    _button(fresh, "Search").click().run()
    assert len([c for c in fresh.caption if "marked" in c.value and c.value.startswith(("✓", "✗"))]) == 2
    _button(fresh, "Undo").click().run()
    assert list(api.hit_marks(index_config, question).values()) == [False]
    assert "marked-guild" not in [s["name"] for s in api.question_sets(index_config["data_dir"])]


def test_marking_on_compare_goes_to_the_side_marked(index_config, tmp_path):
    other = {"source": "files", "data_dir": index_config["data_dir"], "index_name": "other"}
    api.ingest(other, files=[InputFile(name="gulls.txt", data=b"Gulls nest on the cliffs above the harbour.")], api_keys={})
    app = open_page("pages/compare.py")
    keys = {m["index_name"]: m["index_key"] for m in api.indexes(index_config["data_dir"])}
    app.selectbox(key="compare_a").set_value(keys["guild"]).run()
    app.selectbox(key="compare_b").set_value(keys["other"]).run()
    app.text_input(key="compare_question").input("Where do gulls nest?")
    _button(app, "Search both").click().run()
    right_first = next(b for b in app.button if b.key and b.key.startswith("compare_b_yes_"))
    right_first.click().run()
    assert not app.exception and not app.error
    assert api.question_set("marked-other", index_config["data_dir"]).questions[0].text == "Where do gulls nest?"
    assert "marked-guild" not in [s["name"] for s in api.question_sets(index_config["data_dir"])]
