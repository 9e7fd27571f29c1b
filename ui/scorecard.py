"""The stack scorecard as widgets: one index's rows (Home), or two side by side with the better figure marked (Compare)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from workbench import api


def scorecard_table(card: dict[str, Any]) -> None:
    """One index's scorecard as a table of section, figure and value, with its licences and notes below."""
    st.dataframe(pd.DataFrame(api.scorecard_rows(card)), hide_index=True, width="stretch")
    parts = card["licences"]["store_packages"] + card["licences"]["embedding_packages"]
    st.caption("Licences: " + "; ".join(f"{p['package']} {p['version']}: {p['licence']}" for p in parts)
               + f". Prices as of {card['cost']['price_table_as_of']} (ragkit/prices.toml). Chat: {card['cost']['chat']['note']}"
               + ("; price another LLM on Compare or with `scorecard --llm openai`." if card["cost"]["chat"]["llm_service"] == "extractive" else "."))


def scorecard_comparison(a: dict[str, Any], b: dict[str, Any], label_a: str, label_b: str) -> None:
    """Two scorecards in two columns; ✓ marks the better figure of each row."""
    rows = [{"section": row["section"], "figure": row["label"],
             label_a: ("✓ " if row["better"] == "a" else "") + row["a"],
             label_b: ("✓ " if row["better"] == "b" else "") + row["b"]} for row in api.diff_scorecards(a, b)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("✓ marks the better figure of a row: lower cost, size and latency; higher relevance and speed. "
               f"Prices as of {a['cost']['price_table_as_of']} (ragkit/prices.toml).")
