"""Tuning retrieval from labels: the grid is scored on one half of a question set, the best and the default on the
other half (stored, with the paired test), and the best is saved as a preset the index's searches can use.
Real model, real LanceDB; the Cohere reranker through its local fake."""

from __future__ import annotations

import pytest

from ragkit.errors import ConfigError
from ragkit.schema import InputFile
from tests.apptest import open_page
from tests.fakes.cohere_rerank_fake import FakeCohereRerank
from tests.small_corpora import VOLCANOES
from workbench import api, tuning
from workbench.tuning import retrieval_grid

DOCS = {
    **VOLCANOES,
    "rhine.txt": "The Rhine flows from the Swiss Alps to the North Sea through Germany.",
    "danube.txt": "The Danube passes through Vienna, Budapest and Belgrade on its way to the Black Sea.",
}
QUESTIONS = """question,document,page,answer
Which volcano is on the east coast of Sicily?,etna.txt,,
What destroyed Pompeii in 79?,vesuvius.txt,,
Which island volcano erupts every few minutes?,stromboli.txt,,
Where are glaciers and ski resorts?,alps.txt,,
What is the largest island of the Mediterranean?,sicily.txt,,
Which Roman town was buried by ash?,pompeii.txt,,
Which river flows to the North Sea?,rhine.txt,,
Which river passes through Vienna and Budapest?,danube.txt,,
"""


@pytest.fixture(scope="module")
def tuned_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tuning")
    config = {"source": "files", "data_dir": str(folder / "data"), "index_name": "places"}
    api.ingest(config, files=[InputFile(name, data=text.encode()) for name, text in DOCS.items()], api_keys={})
    (folder / "places.csv").write_text(QUESTIONS, encoding="utf-8")
    api.import_questions(str(folder / "places.csv"), data_dir=config["data_dir"])
    return {"data_dir": config["data_dir"], "index_name": "places"}


def test_tune_scores_the_grid_on_one_half_and_checks_the_best_on_the_other(tuned_index):
    result = api.tune_retrieval(tuned_index, "places", preset_name="best-mrr", seed=3, api_keys={})
    assert len(result["tuning"]) == len(retrieval_grid(tuned_index))
    assert result["split"]["tuning_questions"] == 4 and result["split"]["held_out_questions"] == 4
    scores = [row["metrics"]["mrr@10"] for row in result["tuning"]]
    assert scores[0] == max(scores)  # the preset is the best row on the tuning half
    assert result["label"] == result["tuning"][0]["label"]

    # the held-out questions are the other half, the same for the best and the default, and both records are stored
    best, default = result["held_out"]["best"], result["held_out"]["default"]
    assert best["sample"]["questions_digest"] == default["sample"]["questions_digest"]
    stored = {record["eval_id"] for record in api.evaluations(tuned_index["data_dir"])}
    assert {best["eval_id"], default["eval_id"]} <= stored and len(stored) == 2  # grid points are not stored
    assert result["comparison"]["questions"] == 4 and "sign_test" in result["comparison"]["tests"]["mrr@10"]

    (preset,) = api.retrieval_presets(tuned_index)
    assert preset["name"] == "best-mrr" and preset["settings"] == result["settings"]
    assert preset["tuned"]["held_out_metrics"] == best["metrics"]
    hits = api.search({**tuned_index, **api.retrieval_preset(tuned_index, "best-mrr")}, "Which river reaches Vienna?",
                      top_k=1, api_keys={})["hits"]
    assert hits[0]["source_name"] == "danube.txt"
    assert api.delete_retrieval_preset(tuned_index, "best-mrr") and api.retrieval_presets(tuned_index) == []


# Part numbers that are permutations of the same digits, on parts described in words no question uses: the questions
# ("What is KT-4471?") say nothing a sentence embedding can match beyond the code, whose word pieces every part
# shares, while BM25 matches the one exact number. By construction lexical finds every part first; dense does not.
PARTS = {
    "hinge.txt": "KT-4471: brass hinge, 40 mm, for oak cabinet doors.",
    "gasket.txt": "KT-4417: rubber gasket for the model 12 pump housing.",
    "bolt.txt": "KT-4741: stainless bolt, M8 by 60, hex head.",
    "fuse.txt": "KT-7441: glass fuse, 5 amperes, slow blow.",
    "valve.txt": "KT-1447: brass ball valve, half inch thread.",
    "spring.txt": "KT-1474: steel compression spring for garage doors.",
    "belt.txt": "KT-7144: drive belt for the 900 series lawn mower.",
    "filter.txt": "KT-4714: paper air filter for compact car engines.",
    "tags.txt": "Every component in our range carries an identifier printed on its tag.",
    "counter.txt": "Ask at the counter which product matches the reference you were given.",
}


def test_tuning_picks_the_setting_that_is_better_by_construction_and_it_wins_on_the_held_out_half(tmp_path, monkeypatch):
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "parts"}
    api.ingest(config, files=[InputFile(name, data=text.encode()) for name, text in PARTS.items()], api_keys={})
    questions = ["question,document,page,answer"] + [f"What is {text.split(':')[0]}?,{name},,"
                                                    for name, text in PARTS.items() if text.startswith("KT-")]
    (tmp_path / "parts.csv").write_text("\n".join(questions) + "\n", encoding="utf-8")
    api.import_questions(str(tmp_path / "parts.csv"), data_dir=config["data_dir"])
    small_grid = [{"retrieval_mode": "dense", "reranker": "none"}, {"retrieval_mode": "lexical", "reranker": "none"},
                  {"retrieval_mode": "hybrid", "hybrid_fusion": "rrf", "rrf_k": 60, "hybrid_alpha": 0.5,
                   "hybrid_candidates": 50, "reranker": "none"}]
    monkeypatch.setattr(tuning, "retrieval_grid", lambda config: small_grid)

    result = api.tune_retrieval(config, "parts", preset_name="codes", api_keys={})

    assert [row["settings"]["retrieval_mode"] for row in result["tuning"]][0] == "lexical"
    assert result["tuning"][0]["metrics"]["mrr@10"] == 1.0 > result["tuning"][1]["metrics"]["mrr@10"]
    (preset,) = api.retrieval_presets(config)
    assert preset["name"] == "codes" and preset["settings"]["retrieval_mode"] == "lexical"
    best, default = result["held_out"]["best"], result["held_out"]["default"]
    assert best["config"]["retrieval_mode"] == "lexical" and default["config"]["retrieval_mode"] == "dense"
    assert best["questions"] == default["questions"] == 4  # the other half, questions the preset was not chosen on
    assert best["metrics"]["mrr@10"] == 1.0 > default["metrics"]["mrr@10"]
    assert preset["tuned"]["held_out_metrics"]["mrr@10"] > preset["tuned"]["held_out_default_metrics"]["mrr@10"]


def test_a_configured_reranker_is_tried_on_the_best_first_stages(tuned_index):
    with FakeCohereRerank() as fake:
        config = {**tuned_index, "reranker": "cohere", "cohere_base_url": fake.base_url}
        result = api.tune_retrieval(config, "places", preset_name="with-rerank", api_keys={"cohere_api_key": fake.api_key})
    reranked = [row for row in result["tuning"] if row["settings"]["reranker"] == "cohere"]
    assert len(reranked) == 6 and {row["settings"]["rerank_top_n"] for row in reranked} == {20, 50}
    assert all("rerank_p50" in row["latency_ms"] for row in reranked)


def test_tuning_refuses_bad_requests_before_evaluating(tuned_index, tmp_path):
    with pytest.raises(ConfigError, match="Tune on one of"):
        api.tune_retrieval(tuned_index, "places", metric="accuracy")
    with pytest.raises(ConfigError, match="not 'custom'"):
        api.tune_retrieval(tuned_index, "places", preset_name="Custom")
    small = tmp_path / "two.csv"
    small.write_text("question,document,page,answer\nWhat is Etna?,etna.txt,,\nWhat is the Rhine?,rhine.txt,,\n",
                     encoding="utf-8")
    api.import_questions(str(small), data_dir=tuned_index["data_dir"])
    with pytest.raises(ConfigError, match="at least 4"):
        api.tune_retrieval(tuned_index, "two")
    with pytest.raises(ConfigError, match="No retrieval preset 'nope'"):
        api.retrieval_preset(tuned_index, "nope")


def test_tune_on_compare_saves_a_preset_that_retrieve_can_pick(tuned_index, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", tuned_index["data_dir"])
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "none.toml"))
    app = open_page("pages/compare.py")
    app.selectbox(key="compare_question_set").set_value("places").run()
    app.text_input(key="tune_preset_name").set_value("from-compare").run()
    next(b for b in app.button if b.key == "tune_run").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any("Saved preset 'from-compare'" in s.value for s in app.success)
    assert any("p (sign test)" in d.value.columns for d in app.dataframe)  # the held-out paired comparison
    preset = api.retrieval_presets(tuned_index)[0]
    assert preset["name"] == "from-compare"

    app.switch_page("pages/retrieve.py")
    app.run()
    key = api.index_key_for(tuned_index)
    app.selectbox(key=f"retrieve_preset_{key}").set_value("from-compare")
    app.text_input(key="retrieve_question").input("Which river passes through Vienna?")
    next(b for b in app.button if b.label == "Search").click().run()
    assert not app.exception and not app.error
    assert any(c.value.startswith(f"{preset['settings']['retrieval_mode']}, reranker none · tuned on places")
               for c in app.caption)
    assert any("danube.txt" in m.value for m in app.markdown)


def test_the_cli_tunes_and_query_uses_the_preset(tuned_index, capsys):
    from workbench.cli import run

    common = ["--index", "places", "--data-dir", tuned_index["data_dir"]]
    assert run(["tune", "--questions", "places", "--preset", "cli", "--metric", "recall@1", *common]) == 0
    out = capsys.readouterr().out
    assert "tuned on 4 questions of places, checked on the other 4 (seed 0), maximising recall@1" in out
    assert "held-out half: preset 'cli'" in out and "sign test p" in out
    assert run(["query", "Which river passes through Vienna?", "--preset", "cli", "--top-k", "1", *common]) == 0
    assert "danube.txt" in capsys.readouterr().out
    assert run(["query", "Vienna?", "--preset", "missing", *common]) == 2
    assert "No retrieval preset 'missing'" in capsys.readouterr().err
