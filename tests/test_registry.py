"""The registries are the only place a backend is declared: a throwaway one, registered in a test, is everywhere.

`tests/backends/hashing_embedder.py` is a node module of the same shape as `dataflows/embedders/*.py`; one
`EMBEDDERS.register(...)` makes it a choice of the settings, the CLI, the Ingest page and the key checks,
and a working stack end to end. A store registered the same way (here LanceDB's module under another
name) is built into every flow.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from dataflows.embedders import EMBEDDERS
from dataflows.stores import STORES
from ragkit.backends import EMBEDDED, OFFLINE, ApiKey, BackendSpec, SettingField
from ragkit.errors import ConfigError, MissingApiKeyError
from ragkit.schema import InputFile
from tests.conftest import REPO
from workbench import api
from workbench.cli import build_parser

HASHING = BackendSpec(
    name="hashing", label="Hashing (test)", module="tests.backends.hashing_embedder",
    api_key=ApiKey("hashing_api_key", "HASHING_API_KEY", "Hashing"), default_model="hashing-64",
)
TWIN_STORE = BackendSpec(
    name="lancedb_twin", label="LanceDB twin (test)", module="dataflows.stores.lancedb",
    settings=(SettingField("uri", "Twin folder", "{data_dir}/twin"),), capabilities=frozenset({EMBEDDED, OFFLINE}),
    index_label="Twin table",
)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HASHING_API_KEY", raising=False)
    EMBEDDERS.register(HASHING)
    STORES.register(TWIN_STORE)
    yield
    EMBEDDERS.unregister("hashing")
    STORES.unregister("lancedb_twin")


def test_a_registered_backend_is_a_valid_setting_with_its_defaults(registered, data_dir):
    config = api.resolve_config({"embedding_service": "hashing", "vector_db": "lancedb_twin", "data_dir": str(data_dir)})
    assert config["model_name"] == "hashing-64"
    assert config["vector_db_config"] == {"uri": f"{data_dir}/twin"}
    assert "hashing_api_key" in api.known_api_keys() and api.api_key_env_vars()["hashing_api_key"] == "HASHING_API_KEY"


def test_an_unregistered_backend_is_refused_naming_the_choices(data_dir):
    with pytest.raises(ConfigError, match="embedding_service must be one of sentence_transformers, openai, cohere"):
        api.resolve_config({"embedding_service": "hashing", "data_dir": str(data_dir)})


def test_the_cli_offers_it(registered):
    ingest = build_parser()._subparsers._group_actions[0].choices["ingest"]
    choices = {action.dest: action.choices for action in ingest._actions if action.choices}
    assert "hashing" in choices["embedding_service"] and "lancedb_twin" in choices["vector_db"]


def test_its_key_is_checked_before_any_work_and_then_it_ingests_and_searches(registered, data_dir, monkeypatch):
    config = {"source": "files", "embedding_service": "hashing", "vector_db": "lancedb_twin", "data_dir": str(data_dir),
              "index_name": "twin"}
    files = [InputFile("owls.txt", b"Owls hunt at night with silent feathers."),
             InputFile("tides.txt", b"Tides rise and fall twice a day by the harbour.")]
    with pytest.raises(MissingApiKeyError, match="HASHING_API_KEY"):
        api.ingest(config, files=files)
    assert api.runs(str(data_dir)) == []  # refused before a run started
    monkeypatch.setenv("HASHING_API_KEY", "test-key")
    record = api.ingest(config, files=files)
    assert record["status"] == "succeeded" and record["counts"]["written"] == 2
    assert (data_dir / "twin" / "twin.lance").exists()  # the twin store's own folder
    hits = api.search({"vector_db": "lancedb_twin", "data_dir": str(data_dir), "index_name": "twin"}, "harbour tides", top_k=1)
    assert hits["hits"][0]["source_name"] == "tides.txt"
    assert hits["manifest"]["embedding_service"] == "hashing"


def test_the_ingest_page_offers_it_with_its_fields(registered, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/ingest.py")
    app.run()
    assert "Hashing (test)" in app.selectbox(key="ingest_service").options  # shown by its label
    app.selectbox(key="ingest_service").set_value("hashing").run()
    assert app.text_input(key="ingest_model_hashing").value == "hashing-64"
    assert any("HASHING_API_KEY" in warning.value for warning in app.warning)
    app.selectbox(key="ingest_store").set_value("lancedb_twin").run()
    assert app.text_input(key="ingest_lancedb_twin_uri").value.endswith("/twin")
    assert any(field.label == "Twin table" for field in app.text_input)
    assert not app.exception
