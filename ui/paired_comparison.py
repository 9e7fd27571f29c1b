"""Two evaluations on the same questions: the paired tests per metric, and the questions one side finds and the other misses."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.errors import show_error
from ui.index_picker import data_dir
from ui.wording import plural
from workbench import api


def _question_texts(set_name: str) -> dict[str, str]:
    if set_name == "squad":
        return {}
    try:
        return {q.question_id: q.text for q in api.question_set(set_name, data_dir()).questions}
    except Exception:  # the set may have been deleted since: ids are shown instead
        return {}


def show_paired_comparison(left: dict[str, Any], right: dict[str, Any], set_name: str, k: int = 5) -> None:
    """Each metric's difference (right − left) with its 95% interval and p-values, then the questions whose outcome differs."""
    try:
        compared = api.compare_evaluations(left, right, k=k)
    except Exception as error:
        show_error(error, "Comparing the two sides question by question")
        return
    st.markdown(f"**Right − left, paired over the {plural(compared['questions'], 'question')} both answered**")
    st.dataframe(pd.DataFrame([
        {"metric": metric, "left": test["a"], "right": test["b"], "difference": test["bootstrap"]["mean_diff"],
         "95% interval": f"{test['bootstrap']['ci_low']:+.3f} … {test['bootstrap']['ci_high']:+.3f}",
         "p (paired bootstrap)": test["bootstrap"]["p_value"], "p (sign test)": test["sign_test"]["p_value"],
         "right better / worse": f"{test['sign_test']['b_better']} / {test['sign_test']['a_better']}"}
        for metric, test in compared["tests"].items()
    ]), hide_index=True, width="stretch")
    st.caption("A difference whose interval spans 0, or whose p is above 0.05, may be noise: more questions would tell.")
    texts = _question_texts(set_name)
    ranks = compared["rank_changes"]
    differing = [(question_id, side) for side in ("a", "b") for question_id in compared[f"found_by_{side}_only"]]
    with st.expander(f"Questions found within {k} hits by one side only ({len(differing)}), and every rank that moved "
                     f"({len(ranks)})"):
        rows = [{"question": texts.get(question_id, question_id),
                 "found by": "left only" if side == "a" else "right only" if side == "b" else "both / neither",
                 "left rank": ranks.get(question_id, (0, 0))[0] or "not found",
                 "right rank": ranks.get(question_id, (0, 0))[1] or "not found"}
                for question_id, side in differing + [(q, "") for q in ranks if q not in dict(differing)]]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                     column_config={"question": st.column_config.TextColumn("question", width="large")})
