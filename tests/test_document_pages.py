"""The Home page lists an index's documents and deletes one (after a confirm step); a Retrieve card opens its source."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from workbench import api

NOTES = {"lighthouse.txt": "The Marrowick lighthouse keepers guild was founded in 1884. Its first keeper was Ada Fenwick.",
         "garden.md": "Tomatoes need sun. <b>Basil</b> grows well beside them in the garden."}


@pytest.fixture
def indexed(monkeypatch, tmp_path: Path) -> dict:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "none.toml"))
    paths = []
    for name, text in NOTES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    config = {"source": "files", "data_dir": str(data_dir), "index_name": "docs", "file_paths": paths, "ingest_root": str(tmp_path)}
    api.ingest(config)
    return config


def _app() -> AppTest:
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_home_lists_documents_and_deletes_one_after_confirming(indexed):
    app = _app()
    key = api.indexes(indexed["data_dir"])[0]["index_key"]
    app.toggle(key=f"home_docs_{key}").set_value(True).run()
    table = next(frame.value for frame in app.dataframe if "name" in frame.value.columns)  # beside the scorecard's table
    assert sorted(table["name"]) == sorted(NOTES) and list(table["chunks"]) == [1, 1]
    app.selectbox(key=f"home_doc_{key}").set_value("garden.md").run()
    assert not any(b.label == "Delete the document" for b in app.button)  # not before the confirm step
    app.checkbox(key=f"home_doc_confirm_{key}").check().run()
    app.button(key=f"home_doc_delete_{key}").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Deleted garden" in s.value for s in app.success)
    assert [d["source_name"] for d in api.documents(indexed)] == ["lighthouse.txt"]
    assert api.runs(indexed["data_dir"])[0]["kind"] == "delete"


def test_a_retrieve_card_opens_its_source_at_the_chunk(indexed):
    app = _app()
    app.switch_page("pages/retrieve.py")
    app.run()
    app.text_input(key="retrieve_question").input("Who was the first keeper of the lighthouse?")
    app.button[0].click().run()
    toggles = [t for t in app.toggle if t.label == "Open source"]
    assert toggles
    toggles[0].set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    shown = [m.value for m in app.markdown if "<mark>" in m.value and "Fenwick" in m.value]
    assert shown and "<mark>The Marrowick" in shown[-1]
