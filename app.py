"""The workbench's entry script: page titles and navigation first (they paint at once), then the sidebar's API-key
fields and the embedded model's warm-up in the background, then the page picked."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# "Try it" and SQuAD ingestion use the local copy beside the repo when no other is configured.
_LOCAL_SQUAD = Path(__file__).resolve().parent.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
if _LOCAL_SQUAD.exists():
    os.environ.setdefault("WORKBENCH_SQUAD_PATH", str(_LOCAL_SQUAD))
_ICON = Path(__file__).resolve().parent / "static" / "icon.png"  # a local file: no request leaves the machine for it

import streamlit as st  # noqa: E402

st.set_page_config(page_title="RAG workbench", page_icon=str(_ICON), layout="wide")
navigation = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/ingest.py", title="Ingest", icon=":material/upload_file:"),
    st.Page("pages/retrieve.py", title="Retrieve", icon=":material/search:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/chat.py", title="Chat", icon=":material/chat:"),
    st.Page("pages/questions.py", title="Questions", icon=":material/quiz:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
])

# The picked page's title paints now: importing the workbench below takes a second or two on a fresh server, and
# until the page itself runs this placeholder is what a person sees. It is emptied just before the page draws its own.
_first_paint = st.empty()
with _first_paint.container():
    st.markdown("# " + ("RAG workbench" if navigation.title == "Home" else navigation.title))  # as the page's own st.title
    st.caption("Loading the workbench…")

from ui.keys import api_key_fields  # noqa: E402  (after the navigation: importing the workbench takes a moment)
from ui.navigation import error_boundary, run_page  # noqa: E402
from ui.resources import model_status_line, warm_default_model  # noqa: E402

with error_boundary("The sidebar"):  # one line, never a traceback; the page still runs
    warm_default_model()  # in the background: the page does not wait for it
    api_key_fields()
    model_status_line()
_first_paint.empty()
run_page(navigation)
