"""Compare: two indexes (or one index with two retrieval settings) side by side on the same question."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from ui.navigation import run_inside_app

run_inside_app()  # first: a page URL opened first on a fresh server goes through app.py

from ui.cards import result_card  # noqa: E402
from ui.errors import show_error  # noqa: E402
from ui.index_picker import config_for_index, data_dir, index_picker, indexes_or_stop, runs_or_stop  # noqa: E402
from ui.keys import api_keys  # noqa: E402
from ui.llm_picker import llm_settings  # noqa: E402
from ui.marking import mark_controls  # noqa: E402
from ui.paired_comparison import show_paired_comparison  # noqa: E402
from ui.retrieval_picker import retrieval_settings  # noqa: E402
from ui.scorecard import scorecard_comparison  # noqa: E402
from ui.tuning_panel import tune_panel  # noqa: E402
from ui.wording import plural, score_note  # noqa: E402
from workbench import api  # noqa: E402

st.title("Compare")
manifests = indexes_or_stop()
left, right = st.columns(2)
with left:
    manifest_a = index_picker(manifests, "Left index", key="compare_a", param="a")
    settings_a = retrieval_settings("compare_a", manifest=manifest_a) if manifest_a else {}
with right:
    manifest_b = index_picker(manifests, "Right index", key="compare_b", param="b", default_position=1)
    settings_b = retrieval_settings("compare_b", manifest=manifest_b) if manifest_b else {}
if manifest_a is None or manifest_b is None:
    st.stop()

config_a = {**config_for_index(manifest_a), **settings_a}
config_b = {**config_for_index(manifest_b), **settings_b}
with st.form("compare_form"):
    question = st.text_input("Question", key="compare_question", placeholder="The same question goes to both sides")
    top_k = st.slider("Top k", 1, 20, 5, key="compare_top_k")
    asked = st.form_submit_button("Search both", type="primary")


def _passage(hit: dict) -> tuple:
    return hit["document_id"], hit["char_start"], hit["char_end"]


shown_for = [manifest_a["index_key"], manifest_b["index_key"]]
if asked and not question.strip():
    st.warning("Type a question first.")
    st.session_state.pop("compare_result", None)
elif asked:
    results = []
    for config in (config_a, config_b):
        try:
            results.append(api.search(config, question, top_k=top_k, api_keys=api_keys()))
        except Exception as error:
            results.append(error)
    # kept for the reruns that marking a hit makes
    st.session_state["compare_result"] = {"for": shown_for, "question": question, "configs": [config_a, config_b],
                                          "results": results}
shown = st.session_state.get("compare_result")
if shown and shown["for"] == shown_for:
    results, question = shown["results"], shown["question"]
    ranks = [{_passage(h): rank for rank, h in enumerate(r["hits"], start=1)} if isinstance(r, dict) else {}
             for r in results]
    both = set(ranks[0]) & set(ranks[1])
    st.caption(f"{plural(len(both), 'passage')} found by both sides {'is' if len(both) == 1 else 'are'} marked ◆ with "
               "its rank on the other side. Marking a hit relevant adds the question to that index's marked question set.")
    for side, column, result, config, other in zip(("a", "b"), st.columns(2), results, shown["configs"], ("right", "left")):
        with column:
            if isinstance(result, Exception):
                show_error(result, "Search")
                continue
            st.metric("Latency", f"{result['latency_ms']['total']:.0f} ms",
                      help=f"embed {result['latency_ms']['embed']:.0f} ms, search {result['latency_ms']['search']:.0f} ms")
            st.caption(score_note(config.get("retrieval_mode", "dense"), config.get("reranker", "none")))
            controls = mark_controls(config, question, api.hit_marks(config, question), f"compare_{side}")
            for rank, hit in enumerate(result["hits"], start=1):
                other_rank = ranks[1 if side == "a" else 0].get(_passage(hit))
                result_card(rank, hit, question, marker=f"◆ #{other_rank} on the {other} · " if other_rank else "",
                            side=side, controls=controls, config=config)

st.divider()
st.subheader("Scorecard")
with st.expander("Chat cost for", icon=":material/payments:"):
    chat_settings = llm_settings("compare_card", help="The LLM whose answers the chat cost per 1,000 questions prices.")
try:
    cards = [api.scorecard(manifest, data_dir(), save=False, chat=chat_settings) for manifest in (manifest_a, manifest_b)]
except Exception as error:
    show_error(error, "The scorecards")
else:
    scorecard_comparison(*cards, f"left: {manifest_a['index_name']}", f"right: {manifest_b['index_name']}")

st.divider()
st.subheader("Benchmark on a question set")
squad_indexes = {run["index_key"] for run in runs_or_stop(limit=5000) if run["config"].get("source") == "squad"}
both_squad = all(m["index_key"] in squad_indexes for m in (manifest_a, manifest_b))
try:
    stored_sets = api.question_sets(data_dir())
except Exception as error:
    show_error(error, "Reading the question sets")
    stored_sets = []
set_names = (["squad"] if both_squad else []) + [record["name"] for record in stored_sets]
if not set_names:
    st.info("The benchmark needs questions with known answers: both sides ingested from SQuAD (its own questions), or a "
            "question set for your documents — import one with `python -m workbench questions import FILE` "
            "(CSV columns question, document, page, answer).")
    st.stop()
origins = {record["name"]: record["origin"] for record in stored_sets}
set_name = st.selectbox("Question set", set_names, key="compare_question_set",
                        format_func=lambda name: "SQuAD's own questions" if name == "squad" else
                        f"{name} ({'generated' if origins.get(name, {}).get('kind') == 'generated' else origins.get(name, {}).get('kind', '')})")
st.caption("Both sides answer the same seeded sample of the set's questions whose labels match chunks of the index; "
           "a hit is right when its chunk satisfies a label (the SQuAD set: the gold paragraph).")
if origins.get(set_name, {}).get("kind") == "generated":
    st.warning("These questions were generated by an LLM: the figures measure how well each stack finds the passages "
               "the questions were written from, not questions a person asked.")
sample = st.number_input("Questions to sample (fixed seed; 0 = all)", 0, 20_000, 200, 50, key="compare_sample")
score_answers = st.checkbox("Score the answers too", key="compare_answers",
                            help="Runs the answering step on each question with a reference answer: the share of answers "
                                 "that contain it, and SQuAD exact match / F1 when an LLM writes the answer.")
answer_config = {}
if score_answers:
    with st.container(border=True):
        answer_config = llm_settings("compare")
benchmarked = json.dumps([config_a, config_b, int(sample), set_name, answer_config], sort_keys=True, default=str)
if st.button("Run benchmark on both"):
    rows, records = [], []
    for label, config, manifest in (("left", config_a, manifest_a), ("right", config_b, manifest_b)):
        with st.spinner(f"Evaluating {manifest['index_name']} ({label})…"):
            try:
                evaluation = api.evaluate({**config, **answer_config}, sample_size=int(sample), seed=0, api_keys=api_keys(),
                                          questions=set_name, answers=score_answers)
            except Exception as error:
                show_error(error, f"Benchmark of the {label} index")
                continue
        records.append(evaluation)
        rows.append({"side": f"{label}: {manifest['index_name']} · {config.get('retrieval_mode', 'dense')}",
                     **evaluation["metrics"], **evaluation["latency_ms"], "questions": evaluation["questions"],
                     "labels not in the index": evaluation["labels"]["unresolved_labels"],
                     **{f"answers: {name}": value for name, value in (evaluation.get("answer_quality") or {}).items()
                        if name in ("answer_contains", "exact_match", "f1") and value is not None}})
    if rows:
        st.session_state["compare_benchmark"] = {"for": benchmarked, "rows": rows, "records": records}
benchmark = st.session_state.get("compare_benchmark", {})
if benchmark.get("for") == benchmarked:  # kept across reruns, shown only for the sides, set and sample it was run on
    table = pd.DataFrame(benchmark["rows"]).set_index("side")
    st.dataframe(table, width="stretch")
    quality, speed = st.columns(2)
    metric_columns = [c for c in table.columns if c.startswith(("recall@", "mrr@", "ndcg@", "answers: "))]
    quality.caption("Relevance (higher is better)")
    quality.bar_chart(table[metric_columns].T, stack=False, sort=False)
    latency_columns = [c for c in table.columns if c.endswith(("_p50", "_p95"))]
    speed.caption("Latency per question, ms (lower is better); embedding is batched, so its time is per batch ÷ questions")
    speed.bar_chart(table[latency_columns].T, stack=False, sort=False)
    if len(benchmark.get("records", [])) == 2:
        show_paired_comparison(*benchmark["records"], set_name)
with st.expander(f"Tune the left index ({manifest_a['index_name']}) on this question set"):
    tune_panel(config_a, manifest_a, set_name)
for manifest in {m["index_key"]: m for m in (manifest_a, manifest_b)}.values():
    history = api.evaluations(data_dir(), index_key=manifest["index_key"], limit=50)
    if history:
        st.caption(f"Past evaluations of {manifest['index_name']} ({manifest['vector_db']}, {manifest['model_name']})")
        st.dataframe(pd.DataFrame([{"when": h["started_at"], "questions": h["questions"],
                                    "mode": h["config"].get("retrieval_mode", "dense"),
                                    "reranker": h["config"].get("reranker", "none"), **h["metrics"]} for h in history]),
                     hide_index=True, width="stretch")
