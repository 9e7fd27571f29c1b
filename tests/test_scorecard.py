"""The stack scorecard: token counts and costs by hand, index bytes on real LanceDB and Qdrant indexes, the estimate before
ingesting against what the run records (fake OpenAI), the CLI's scorecard and compare, and the pages that show it."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from ragkit.errors import ConfigError
from ragkit.prices import load_price_table
from ragkit.token_counts import count_tokens, estimate_tokens
from tests.apptest import open_page
from tests.fakes import fixtures
from tests.fakes.openai_fake import FakeOpenAI
from workbench import api
from workbench.api import InputFile
from workbench.cli import run

openai_fake = fixtures.openai_fake

FAKE_PRICES = """
as_of = "2020-01-02"
currency = "USD"
[embedding.openai."text-embedding-3-small"]
per_unit = 0.5
unit = "1k_tokens"
source = "test"
[rerank.cohere."rerank-v3.5"]
per_unit = 2.0
unit = "1k_searches"
source = "test"
[chat.openai."gpt-4o-mini"]
per_unit = 1.0
output_per_unit = 4.0
unit = "1k_tokens"
source = "test"
"""
DOCS = [InputFile("guild.txt", data=b"The Marrowick lighthouse keepers guild was founded in 1884. Its first keeper was Ada Fenwick."),
        InputFile("gull.txt", data=b"The guild's emblem is a silver gull holding a brass key.")]


@pytest.fixture
def prices(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text(FAKE_PRICES)
    return load_price_table(path)


def test_costs_from_a_price_table_are_tokens_times_price(prices):
    assert prices.as_of == "2020-01-02"
    embedding = prices.price("embedding", "openai", "text-embedding-3-small")
    assert embedding.for_tokens(3_000) == pytest.approx(1.5)            # 3 × 0.5
    assert prices.price("chat", "openai", "gpt-4o-mini").for_tokens(2_000, 500) == pytest.approx(2.0 + 2.0)
    assert prices.price("rerank", "cohere", "rerank-v3.5").for_searches(3) == pytest.approx(0.006)
    assert prices.price("embedding", "openai", "no-such-model") is None
    with pytest.raises(ConfigError):
        embedding.for_searches(1)


def test_a_malformed_price_table_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[embedding.openai."m"]\nper_unit = 1\nunit = "1k_tokens"\n')
    with pytest.raises(ConfigError, match="as_of"):
        load_price_table(path)
    path.write_text('as_of = "2020-01-01"\n[embedding.openai."m"]\nper_unit = "x"\nunit = "per_token"\n')
    with pytest.raises(ConfigError, match="embedding.openai.m"):
        load_price_table(path)


def test_the_shipped_price_table_is_dated_and_prices_the_default_models():
    table = load_price_table()
    assert table.as_of and table.price("embedding", "openai", "text-embedding-3-small").per_unit > 0
    assert table.price("embedding", "cohere", "embed-english-v3.0") is not None
    assert table.price("rerank", "cohere", "rerank-v3.5").unit == "1k_searches"


def test_token_counts_by_hand():
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    assert estimate_tokens("é" * 3) == 2                                  # 6 UTF-8 bytes
    tally = count_tokens("cohere", "embed-english-v3.0", ["abcdefgh", "abc"])
    assert (tally.tokens, tally.estimated) == (3, True) and "estimated" in tally.method
    if importlib_has("tiktoken"):
        assert not count_tokens("openai", "text-embedding-3-small", ["hello world"]).estimated
    else:
        assert count_tokens("openai", "text-embedding-3-small", ["hello world"]).to_json() == {
            "tokens": 3, "estimated": True, "method": "estimated: 4 UTF-8 bytes per token (tiktoken is not installed)"}


def test_local_model_tokens_come_from_its_own_tokenizer():
    from ragkit.local_models import load_sentence_transformer

    model = load_sentence_transformer("all-MiniLM-L6-v2")
    tally = count_tokens("sentence_transformers", "all-MiniLM-L6-v2", ["hello world", "hello"], model.tokenizer)
    assert (tally.tokens, tally.estimated) == (4 + 3, False)           # [CLS] hello world [SEP] + [CLS] hello [SEP]


def importlib_has(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _bytes_under(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _ingest(data_dir: Path, **extra) -> dict:
    config = {"source": "files", "index_name": "docs", "data_dir": str(data_dir), **extra}
    return api.ingest(config, files=DOCS, api_keys=extra.pop("api_keys", {}))


def test_lancedb_index_bytes_on_disk(tmp_path):
    record = _ingest(tmp_path / "data")
    chunks = record["counts"]["written"]
    card = api.scorecard(api.find_index("docs", str(tmp_path / "data")), str(tmp_path / "data"), save=False)
    disk = card["footprint"]["index"]
    table = tmp_path / "data" / "lancedb" / "docs.lance"
    assert disk["measured"] and disk["total_bytes"] == _bytes_under(table)
    assert disk["vectors_bytes"] == chunks * 384 * 4
    assert disk["fts_index_bytes"] == _bytes_under(table / "_indices") > 0    # the full-text index built at ingestion
    assert disk["payload_bytes"] == _bytes_under(table / "data") - disk["vectors_bytes"] > 0
    assert card["footprint"]["dimension"] == 384 and card["footprint"]["peak_rss_bytes"] > 100 * 2**20
    assert record["counts"]["tokens_embedded"] > 0 and record["counts"]["tokens_estimated"] == 0
    assert record["resources"]["cpu_s"] > 0 and record["resources"]["wall_s"] > 0


def test_qdrant_local_index_bytes_on_disk(tmp_path):
    record = _ingest(tmp_path / "data", vector_db="qdrant")
    chunks = record["counts"]["written"]
    card = api.scorecard(api.find_index("docs", str(tmp_path / "data")), str(tmp_path / "data"), save=False)
    disk = card["footprint"]["index"]
    folder = tmp_path / "data" / "qdrant" / "collection"
    (collection,) = list(folder.iterdir())
    assert disk["total_bytes"] == _bytes_under(collection) > 0
    assert disk["vectors_bytes"] == chunks * 384 * 4 and disk["fts_index_bytes"] == 0
    assert card["infrastructure"] == {"store": "embedded", "must_run": card["infrastructure"]["must_run"], "api_keys": [],
                                      "offline": True}


def test_the_estimate_before_ingesting_is_what_the_run_records(openai_fake: FakeOpenAI, tmp_path):
    config = {"source": "files", "embedding_service": "openai", "openai_base_url": openai_fake.base_url,
              "data_dir": str(tmp_path / "data"), "index_name": "hosted"}
    keys = {"openai_api_key": openai_fake.api_key}
    estimate = api.ingest_estimate(config, files=DOCS, api_keys=keys)
    chunks, _ = api.preview_chunks(config, files=DOCS, api_keys=keys)
    by_hand = sum(math.ceil(len(text.encode()) / 4) for text in dict.fromkeys(c.indexed_text for c in chunks))
    assert estimate["estimated"] == (not importlib_has("tiktoken"))
    if estimate["estimated"]:
        assert estimate["tokens"] == by_hand
    assert openai_fake.embedding_requests == []                          # the estimate embeds nothing
    record = api.ingest(config, files=DOCS, api_keys=keys)
    assert record["counts"]["tokens_embedded"] == estimate["tokens"]
    assert record["counts"]["model_calls"] == len(openai_fake.embedding_requests)
    price = load_price_table().price("embedding", "openai", "text-embedding-3-small").per_unit
    assert estimate["cost"] == pytest.approx(estimate["tokens"] * price / 1000, abs=1e-6)
    card = api.scorecard(api.find_index("hosted", config["data_dir"]), config["data_dir"], save=False)
    assert card["cost"]["hosted"] and card["cost"]["per_1000_documents"] == pytest.approx(
        estimate["tokens"] * price / 1000 / 2 * 1000, abs=1e-5)                   # 2 documents
    assert card["infrastructure"]["api_keys"] == ["OPENAI_API_KEY"] and not card["infrastructure"]["offline"]


JSON_FIELDS = {"schema", "created_at", "index_key", "index_name", "stack", "relevance", "ingestion", "cost", "footprint",
               "latency", "infrastructure", "licences"}


def test_cli_scorecard_json_has_every_field_and_is_kept_with_history(tmp_path, capsys):
    data_dir = str(tmp_path / "data")
    _ingest(tmp_path / "data")
    assert run(["scorecard", "--index", "docs", "--data-dir", data_dir, "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert set(card) == JSON_FIELDS
    assert {"wall_s", "chunks_per_s", "model_calls", "tokens_embedded", "tokens_estimated"} <= set(card["ingestion"])
    assert {"per_1000_documents", "per_1000_questions", "cpu_s", "price_table_as_of"} <= set(card["cost"])
    assert card["cost"]["per_1000_documents"] == 0.0 and card["cost"]["cpu_s"] > 0
    assert card["licences"]["model"].startswith("Apache-2.0")
    assert any(p["package"] == "lancedb" and p["licence"] != "not installed" for p in card["licences"]["store_packages"])
    assert run(["scorecard", "--index", "docs", "--data-dir", data_dir, "--diff"]) == 0
    assert "earlier" in capsys.readouterr().out
    assert len(api.scorecard_history(card["index_key"], data_dir)) == 2


def test_cli_compare_marks_the_better_figure_and_bad_input_is_one_line(tmp_path, capsys):
    data_dir = str(tmp_path / "data")
    _ingest(tmp_path / "data")
    api.ingest({"source": "files", "index_name": "small", "data_dir": data_dir}, files=DOCS[1:], api_keys={})
    assert run(["compare", "docs", "small", "--data-dir", data_dir, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    disk = next(row for row in result["diff"] if row["label"] == "Index on disk")
    smaller = "a" if result["a"]["footprint"]["index"]["total_bytes"] < result["b"]["footprint"]["index"]["total_bytes"] else "b"
    assert disk["better"] == smaller
    assert run(["compare", "docs", "small", "--data-dir", data_dir]) == 0
    assert "✓" in capsys.readouterr().out
    assert run(["scorecard", "--index", "nope", "--data-dir", data_dir]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No index 'nope'") and err.count("\n") == 1


def test_scorecard_renders_on_home_and_compare(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "none.toml"))
    _ingest(data_dir)
    api.ingest({"source": "files", "index_name": "small", "data_dir": str(data_dir)}, files=DOCS[1:], api_keys={})
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO

    home = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    home.run()
    assert not home.exception, [e.value for e in home.exception]
    assert any(e.label == "Scorecard" for e in home.expander)
    table = home.dataframe[0].value
    assert "Index on disk" in set(table["label"]) and "Tokens embedded" in set(table["label"])
    compare = open_page("pages/compare.py")
    assert any(h.value == "Scorecard" for h in compare.subheader)
    frame = next(d.value for d in compare.dataframe if "figure" in d.value.columns)
    assert len([c for c in frame.columns if c.startswith(("left:", "right:"))]) == 2
    assert frame.apply(lambda row: any(str(v).startswith("✓") for v in row), axis=1).any()
    assert not os.environ.get("OPENAI_API_KEY")


def test_chat_cost_per_1000_questions_by_hand(tmp_path, prices):
    """Prompt: the system rules, max_context_chunks sources of the index's mean chunk tokens and a mean question; output:
    ANSWER_TOKENS; priced by the chat row of the table. Offline answers cost nothing; an unpriced model has no price."""
    from dataflows.generation import SYSTEM_PROMPT
    from workbench.scorecard import ANSWER_TOKENS, SAMPLE_QUESTIONS, build_scorecard

    data_dir = str(tmp_path / "data")
    _ingest(tmp_path / "data")
    manifest = api.find_index("docs", data_dir)
    record = api.runs(data_dir)[0]
    tokens_per_chunk = round(record["counts"]["tokens_embedded"] / record["counts"]["embedded_by_model"], 1)
    question_tokens = sum(estimate_tokens(q) for q in SAMPLE_QUESTIONS) / len(SAMPLE_QUESTIONS)
    prompt = round(estimate_tokens(SYSTEM_PROMPT) + 3 * tokens_per_chunk + question_tokens)
    card = build_scorecard(manifest, data_dir, price_table=prices,
                           chat={"llm_service": "openai", "llm_model": "gpt-4o-mini", "max_context_chunks": 3})
    chat = card["cost"]["chat"]
    assert chat["prompt_tokens_per_question"] == prompt and chat["answer_tokens_per_question"] == ANSWER_TOKENS
    assert chat["per_1000_questions"] == pytest.approx((prompt * 1.0 + ANSWER_TOKENS * 4.0), rel=1e-6)  # 1,000 × per 1k
    assert card["cost"]["per_1000_questions_with_chat"] == pytest.approx(chat["per_1000_questions"])  # local embedder
    assert "estimated" in chat["note"]
    offline = build_scorecard(manifest, data_dir, price_table=prices)["cost"]["chat"]
    assert offline["llm_service"] == "extractive" and offline["per_1000_questions"] == 0.0
    unpriced = build_scorecard(manifest, data_dir, price_table=prices,
                               chat={"llm_service": "openai", "llm_model": "gpt-9"})["cost"]
    assert unpriced["chat"]["per_1000_questions"] is None and unpriced["per_1000_questions_with_chat"] is None
    assert "not in the price table" in unpriced["chat"]["note"]


def test_delete_runs_are_not_counted_as_ingestion(tmp_path):
    data_dir = str(tmp_path / "data")
    _ingest(tmp_path / "data")
    before = api.scorecard(api.find_index("docs", data_dir), data_dir, save=False)["ingestion"]
    api.delete_documents({"index_name": "docs", "data_dir": data_dir}, ["gull.txt"])
    after = api.scorecard(api.find_index("docs", data_dir), data_dir, save=False)["ingestion"]
    assert api.runs(data_dir)[0]["kind"] == "delete"
    assert after["runs"] == before["runs"] == 1 and after["wall_s"] == before["wall_s"]
