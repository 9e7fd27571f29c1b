"""Every page through Streamlit's AppTest: renders without exceptions, has its widgets, and does its job.

Real model, real LanceDB: an upload is ingested on the Ingest page, then Retrieve, Compare and Chat
use that index.
"""

from __future__ import annotations

import html
import re

import pytest
from streamlit.testing.v1 import AppTest

from ragkit.local_models import DEFAULT_LOCAL_MODEL
from ragkit.redaction import register_secret
from tests.conftest import REPO, SQUAD_SAMPLE, free_port
from tests.svg_pictures import SVG_DATA_URL, svg_text
from workbench import api

PAGES = ["pages/ingest.py", "pages/retrieve.py", "pages/compare.py", "pages/chat.py", "pages/questions.py", "pages/runs.py"]
TEXT = (b"The Marrowick lighthouse keepers guild was founded in 1884. Its first keeper was Ada Fenwick.\n\n"
        b"The guild's emblem is a silver gull holding a brass key.")


@pytest.fixture
def app_env(monkeypatch, tmp_path):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "none.toml"))
    for key in ("OPENAI_API_KEY", "COHERE_API_KEY", "PINECONE_API_KEY", "WEAVIATE_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return data_dir


def _app() -> AppTest:
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.run()
    return app


def _open(app: AppTest, page: str) -> AppTest:
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_home_renders_and_offers_try_it(app_env):
    app = _app()
    assert not app.exception
    assert app.title[0].value == "RAG workbench"
    assert any("Try it" in b.label for b in app.button)
    assert any("No index yet" in i.value for i in app.info)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_data_folder(app_env, page):
    app = _open(_app(), page)
    assert app.title[0].value == page.split("/")[1].removesuffix(".py").capitalize()
    assert not app.error


def test_ingest_page_widgets_are_the_stack_config(app_env):
    app = _open(_app(), "pages/ingest.py")
    labels = {w.label for w in app.selectbox}
    assert {"Embedding service", "Vector store"} <= labels
    assert app.text_input(key="ingest_model_sentence_transformers").value == DEFAULT_LOCAL_MODEL
    app.selectbox(key="ingest_service").set_value("openai").run()
    assert app.text_input(key="ingest_model_openai").value == "text-embedding-3-small"
    assert any("OPENAI_API_KEY" in w.value for w in app.warning)  # missing key explained, page still works
    app.selectbox(key="ingest_store").set_value("pinecone").run()
    assert app.text_input(key="ingest_pinecone_namespace").value == "default"
    assert not app.exception


def _upload_and_ingest(app: AppTest) -> AppTest:
    app.file_uploader(key="ingest_uploads").upload("guild.txt", TEXT, "text/plain").run()
    ingest = next(b for b in app.button if b.label == "Ingest")
    ingest.click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_upload_and_ingest_produce_an_index_and_a_run_record(app_env):
    app = _upload_and_ingest(_open(_app(), "pages/ingest.py"))
    assert any(m.label == "Written" and m.value == "1" for m in app.metric)
    (manifest,) = api.indexes(str(app_env))
    assert manifest["index_name"] == "docs" and manifest["chunk_count"] == 1
    (run,) = api.runs(str(app_env))
    assert run["status"] == "succeeded" and run["inputs"]["files"] == ["guild.txt"]


def test_retrieve_compare_and_chat_on_an_ingested_upload(app_env):
    app = _upload_and_ingest(_open(_app(), "pages/ingest.py"))

    _open(app, "pages/retrieve.py")
    app.text_input(key="retrieve_question").input("Who was the first keeper?")
    next(b for b in app.button if b.label == "Search").click().run()
    assert not app.exception
    texts = html.unescape(" ".join(m.value for m in app.markdown))
    assert "Ada" in texts and "Fenwick" in texts and "guild.txt" in texts
    assert any(re.match(r"\d+ hits? in \d+ ms", c.value) for c in app.caption)

    _open(app, "pages/compare.py")
    app.text_input(key="compare_question").input("What is the emblem?")
    next(b for b in app.button if b.label == "Search both").click().run()
    assert not app.exception
    assert len([m for m in app.metric if m.label == "Latency"]) == 2
    assert any("found by both sides" in c.value for c in app.caption)

    _open(app, "pages/chat.py")
    app.chat_input[0].set_value("What is the guild's emblem?").run()
    assert not app.exception
    answer = html.unescape(" ".join(m.value for m in app.chat_message[-1].markdown))
    assert "Extracted, not generated" in answer
    assert "silver gull" in answer and "[1]" in answer
    assert any("[1]" in e.label for e in app.expander)  # the citation opens the source text

    _open(app, "pages/runs.py")
    assert any("succeeded" in h.value for h in app.subheader)


def test_chat_shows_what_a_follow_up_was_searched_for(app_env):
    app = _upload_and_ingest(_open(_app(), "pages/ingest.py"))
    _open(app, "pages/chat.py")
    app.chat_input[0].set_value("When was the Marrowick lighthouse keepers guild founded?").run()
    assert not app.exception
    assert not [c for c in app.caption if c.value.startswith("Searched for")]  # asked as searched: nothing to say
    app.chat_input[0].set_value("And who was its first keeper?").run()
    assert not app.exception
    searched = [c.value for c in app.caption if c.value.startswith("Searched for")]
    assert searched == ["Searched for: And who was its first keeper? marrowick lighthouse guild founded"]
    answer = html.unescape(" ".join(m.value for m in app.chat_message[-1].markdown))
    assert "\u201cIts first keeper was Ada Fenwick.\u201d [1]" in answer
    app.run()  # the conversation drawn again from the session keeps the caption
    assert [c.value for c in app.caption if c.value.startswith("Searched for")] == searched


def test_try_it_ingests_a_squad_sample_with_the_embedded_default(app_env, monkeypatch):
    from tests.conftest import shared_squad_path

    if not shared_squad_path().exists():
        pytest.skip("the shared SQuAD dev set is not beside the repo")
    monkeypatch.setenv("WORKBENCH_SQUAD_PATH", str(shared_squad_path()))
    app = _app()
    next(b for b in app.button if b.label.startswith("Try it")).click().run()
    assert not app.exception and not app.error
    (manifest,) = api.indexes(str(app_env))
    assert manifest["index_name"] == "squad_sample" and manifest["chunk_count"] >= 200
    assert any("squad_sample" in m.value and "chunks" in m.value for m in app.markdown)  # listed on Home with its figures


def test_the_run_summary_stays_on_the_ingest_page_after_a_rerun_and_links_to_the_run(app_env):
    app = _upload_and_ingest(_open(_app(), "pages/ingest.py"))
    app.number_input(key="ingest_size").set_value(900).run()  # any widget change reruns the page
    assert not app.exception
    assert any(m.label == "Written" and m.value == "1" for m in app.metric)
    (run,) = api.runs(str(app_env))
    assert any(run["run_id"] in h.value for h in app.subheader)


def _ingest_text(data_dir, index_name: str, text: str) -> None:
    from ragkit.schema import InputFile

    api.ingest({"source": "files", "data_dir": str(data_dir), "index_name": index_name},
                  files=[InputFile(name=f"{index_name}.txt", data=text.encode())], api_keys={})


def _chosen_index(app: AppTest, key: str) -> str:
    return app.selectbox(key=key).value.rsplit("#", 1)[1]


def _index_key(data_dir, index_name: str) -> str:
    return next(m["index_key"] for m in api.indexes(str(data_dir)) if m["index_name"] == index_name)


def test_an_index_picked_on_one_page_is_kept_on_the_next_page_and_when_coming_back(app_env):
    _ingest_text(app_env, "alpha", "Alpha notes talk about glaciers.")
    _ingest_text(app_env, "beta", "Beta notes talk about volcanoes.")
    app = _open(_app(), "pages/retrieve.py")
    other = {"alpha": "beta", "beta": "alpha"}[_chosen_index(app, "index")]
    assert "index" not in app.query_params  # a default is not written into the URL (each write is a history entry)
    app.selectbox(key="index").set_value(_index_key(app_env, other)).run()
    assert app.query_params["index"] in (_index_key(app_env, other), [_index_key(app_env, other)])  # a link to share
    for page in ("pages/chat.py", "pages/runs.py", "pages/retrieve.py"):
        app.query_params.clear()  # the sidebar's page links carry no query parameters
        _open(app, page)
        if page != "pages/runs.py":
            assert _chosen_index(app, "chat_index" if page == "pages/chat.py" else "index") == other, page


def test_each_index_has_its_own_conversation(app_env):
    answers = {"alpha": "red lamp", "beta": "four sails"}
    _ingest_text(app_env, "alpha", "The alpha lighthouse has a red lamp.")
    _ingest_text(app_env, "beta", "The beta windmill has four sails.")
    app = _open(_app(), "pages/chat.py")
    first = _chosen_index(app, "chat_index")
    other = {"alpha": "beta", "beta": "alpha"}[first]
    app.chat_input[0].set_value("What does it have?").run()
    assert answers[first] in html.unescape(" ".join(m.value for m in app.chat_message[-1].markdown))
    app.selectbox(key="chat_index").set_value(_index_key(app_env, other)).run()
    assert not app.exception and len(app.chat_message) == 0  # the first index's conversation is not shown here
    app.selectbox(key="chat_index").set_value(_index_key(app_env, first)).run()
    assert len(app.chat_message) == 2  # and it is still there when the first index is picked again


def test_the_benchmark_is_offered_only_for_squad_indexes(app_env):
    _ingest_text(app_env, "notes", "Plain notes, no SQuAD questions here.")
    app = _open(_app(), "pages/compare.py")
    assert any("ingested from SQuAD" in i.value for i in app.info)
    assert not any(b.label == "Run benchmark on both" for b in app.button)


def test_the_benchmark_compares_two_settings_on_the_same_squad_questions(app_env):
    api.ingest({"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(app_env), "index_name": "squad"},
                  api_keys={})
    app = _open(_app(), "pages/compare.py")
    app.selectbox(key="compare_b_mode").set_value("lexical").run()
    app.number_input(key="compare_sample").set_value(0).run()
    next(b for b in app.button if b.label == "Run benchmark on both").click().run()
    assert not app.exception and not app.error
    table = app.dataframe[-1].value if app.dataframe[-1].value.index.name == "side" else next(
        d.value for d in app.dataframe if d.value.index.name == "side")
    assert list(table.index) == ["left: squad · dense", "right: squad · lexical"]
    assert (table["questions"] > 0).all() and table["questions"].nunique() == 1  # the same questions on both sides
    assert table["recall@10"].between(0, 1).all() and (table["search_p50"] > 0).all()
    (evaluation_a, evaluation_b) = sorted(api.evaluations(str(app_env), limit=10), key=lambda e: e["config"]["retrieval_mode"])
    assert table.loc["left: squad · dense", "recall@1"] == evaluation_a["metrics"]["recall@1"]
    assert table.loc["right: squad · lexical", "recall@1"] == evaluation_b["metrics"]["recall@1"]
    app.text_input(key="compare_question").input("anything").run()  # a rerun keeps the results of these sides
    assert any(d.value.index.name == "side" for d in app.dataframe)


def test_weaviate_that_does_not_answer_is_explained_beside_the_option_and_one_that_answers_is_not(app_env):
    from tests.fakes.weaviate_fake import FakeWeaviate

    app = _open(_app(), "pages/ingest.py")
    app.selectbox(key="ingest_store").set_value("weaviate").run()
    closed = f"http://127.0.0.1:{free_port()}"
    app.text_input(key="ingest_weaviate_url").input(closed).run()
    assert any(f"No Weaviate answers at {closed}" in w.value for w in app.warning)
    with FakeWeaviate() as weaviate:
        app.text_input(key="ingest_weaviate_url").input(weaviate.url).run()
        assert not any("No Weaviate answers" in w.value for w in app.warning)
    assert app.text_input(key="ingest_index").label == "Weaviate collection"


def test_a_pinecone_key_typed_in_the_store_settings_counts_on_every_page_and_is_never_shown(app_env):
    secret = "pc-typed-in-store-settings-0123456789"
    app = _open(_app(), "pages/ingest.py")
    app.selectbox(key="ingest_store").set_value("pinecone").run()
    assert any("PINECONE_API_KEY" in w.value for w in app.warning)
    app.text_input(key="ingest_pinecone_key").input(secret).run()
    assert not any("PINECONE_API_KEY" in w.value for w in app.warning)
    _open(app, "pages/runs.py")
    _open(app, "pages/ingest.py")
    app.selectbox(key="ingest_store").set_value("pinecone").run()
    assert not any("PINECONE_API_KEY" in w.value for w in app.warning)  # kept for the session, not for the widget
    assert app.text_input(key="ingest_pinecone_key").placeholder == "set for this session"
    shown = [e.value for e in (*app.markdown, *app.caption, *app.warning, *app.info)] + [w.placeholder for w in app.text_input]
    assert not any(secret in str(text) for text in shown)


def test_chat_explains_an_llm_endpoint_that_does_not_answer(app_env):
    _ingest_text(app_env, "notes", "Some notes.")
    app = _open(_app(), "pages/chat.py")
    app.selectbox(key="chat_llm").set_value("openai_compatible").run()
    closed = f"http://127.0.0.1:{free_port()}/v1"
    app.text_input(key="chat_openai_compatible_llm_base_url").input(closed).run()
    assert any(f"No OpenAI-compatible endpoint answers at {closed}" in w.value for w in app.sidebar.warning)


def test_the_benchmark_runs_on_an_imported_question_set_with_the_paired_tests(app_env, tmp_path):
    _ingest_text(app_env, "guild", TEXT.decode())
    questions = tmp_path / "guild.csv"
    questions.write_text("question,document,page,answer\nWho was the first keeper?,guild.txt,,Ada Fenwick\n"
                         "What is the guild's emblem?,guild.txt,,silver gull\n", encoding="utf-8")
    api.import_questions(str(questions), data_dir=str(app_env))
    app = _open(_app(), "pages/compare.py")
    assert app.selectbox(key="compare_question_set").options == ["guild (imported)"]
    app.selectbox(key="compare_b_mode").set_value("lexical").run()
    next(b for b in app.button if b.label == "Run benchmark on both").click().run()
    assert not app.exception and not app.error
    paired = next(d.value for d in app.dataframe if "p (sign test)" in d.value.columns)
    assert list(paired["metric"]) == ["recall@5", "mrr@10", "ndcg@10"]
    assert (paired["left"] == 1.0).all()  # one chunk: found first by both sides
    assert any("Right − left, paired over the 2 questions" in m.value for m in app.markdown)


def test_one_upload_limit_the_server_ceiling_never_undercuts_max_file_mb():
    import tomllib

    ceiling = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert ceiling >= api.resolve_config({})["max_file_mb"]


def test_a_link_to_an_index_that_is_not_here_says_so_and_compare_starts_with_two_different_indexes(app_env):
    _ingest_text(app_env, "alpha", "Alpha notes talk about glaciers.")
    _ingest_text(app_env, "beta", "Beta notes talk about deserts.")
    app = _app()
    app.query_params["index"] = "lancedb:/nowhere#bogus"
    _open(app, "pages/retrieve.py")
    assert any("names an index that is not in this data folder" in w.value for w in app.warning)
    _open(app, "pages/compare.py")
    assert app.selectbox(key="compare_a").value != app.selectbox(key="compare_b").value


def test_a_refresh_brings_back_the_conversation_and_the_last_results(app_env):
    _ingest_text(app_env, "guild", TEXT.decode())
    app = _open(_app(), "pages/chat.py")
    app.chat_input[0].set_value("What is the guild's emblem?").run()
    assert not app.exception
    conversation_id = app.query_params["chat"]
    assert api.conversation(conversation_id, str(app_env))["turns"][0]["content"] == "What is the guild's emblem?"

    refreshed = _app()  # a new session, as after a refresh: only the URL is left
    refreshed.query_params["chat"] = conversation_id
    _open(refreshed, "pages/chat.py")
    assert [m.name for m in refreshed.chat_message] == ["user", "assistant"]
    assert "silver gull" in html.unescape(" ".join(m.value for m in refreshed.chat_message[-1].markdown))

    app = _open(_app(), "pages/retrieve.py")
    app.text_input(key="retrieve_question").input("Who was the first keeper?")
    next(b for b in app.button if b.label == "Search").click().run()
    assert app.query_params["q"] == "Who was the first keeper?"
    refreshed = _app()
    refreshed.query_params["q"] = "Who was the first keeper?"
    _open(refreshed, "pages/retrieve.py")
    assert any("Ada" in m.value for m in refreshed.markdown)


def test_the_runs_dag_is_the_ingest_style_picture_with_the_settings_beside_it(app_env):
    from ragkit.schema import InputFile

    api.ingest({"source": "files", "data_dir": str(app_env), "index_name": "mixed"}, api_keys={},
               files=[InputFile(name="good.txt", data=TEXT), InputFile(name="broken.pdf", data=b"%PDF-1.4 not a pdf")])
    app = _open(_app(), "pages/runs.py")
    pictures = [svg_text(image.url) for element in app.get("image") for image in element.proto.imgs
                if image.url.startswith(SVG_DATA_URL)]
    ours, recorded = [text for text in pictures if "parsed_files" in text]
    assert "done with errors" in ours and ours.count("done ") >= 5
    config_node = re.compile(r"^chunk_size$", re.MULTILINE)  # a config input drawn as a node of its own
    assert not config_node.search(ours) and config_node.search(recorded)  # in the table beside the picture instead
    settings = next(d.value for d in app.dataframe if list(d.value.columns) == ["setting", "value"])
    assert "chunk_size" in set(settings["setting"])


PAGE_SECRET = "sk-wbtest-PAGEBOOM-4f1e9a7c2b5d8e30"
TITLED_PAGES = [page for page in PAGES if page != "pages/home.py"]


def _boom(*_: object, **__: object) -> None:
    raise RuntimeError(f"boom {PAGE_SECRET} while drawing")


def _shown_text(app: AppTest) -> str:
    """Every text the page shows (errors, markdown, captions, titles, exceptions)."""
    elements = [*app.error, *app.markdown, *app.caption, *app.title, *app.text, *app.exception, *app.info, *app.warning]
    return "\n".join(str(getattr(element, "value", "")) for element in elements)


def _assert_one_redacted_line(app: AppTest, page_title: str) -> None:
    assert not app.exception, [e.value for e in app.exception]  # no Streamlit traceback box
    errors = [e.value for e in app.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"The {page_title} page failed unexpectedly (RuntimeError: boom \\[redacted\\]"), errors[0]
    assert "\n" not in errors[0] and "Traceback" not in errors[0]
    assert "PAGEBOOM" not in _shown_text(app)


@pytest.mark.parametrize("page", TITLED_PAGES)
def test_an_unexpected_error_in_any_page_is_one_redacted_line(app_env, monkeypatch, page):
    """The pages' one boundary (`ui.navigation.run_page`): an error no page foresaw — here in the first thing each page
    draws — is one line with the secret redacted, not a traceback; the app stays usable."""
    import streamlit

    register_secret(PAGE_SECRET)
    app = _app()
    monkeypatch.setattr(streamlit, "title", _boom)
    app.switch_page(page)
    app.run()
    _assert_one_redacted_line(app, page.removeprefix("pages/").removesuffix(".py").capitalize())
    monkeypatch.undo()
    app.switch_page(page)
    app.run()
    assert not app.exception and not app.error  # the same page draws again once the cause is gone


def test_an_api_call_a_page_does_not_guard_is_one_redacted_line(app_env, monkeypatch):
    register_secret(PAGE_SECRET)
    app = _app()
    monkeypatch.setattr(api, "default_data_dir", _boom)  # the Ingest page reads it outside any try
    app.switch_page("pages/ingest.py")
    app.run()
    _assert_one_redacted_line(app, "Ingest")


def test_an_unexpected_error_in_the_sidebar_is_one_redacted_line_and_the_page_still_runs(app_env, monkeypatch):
    register_secret(PAGE_SECRET)
    monkeypatch.setattr(api, "resolve_api_keys", _boom)  # the sidebar's key fields read the environment's keys
    app = _open(_app(), "pages/runs.py")
    assert not app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and errors[0].startswith("The sidebar failed unexpectedly (RuntimeError: boom \\[redacted\\]"), errors
    assert "PAGEBOOM" not in _shown_text(app)
    assert [t.value for t in app.title] == ["Runs"]  # the page itself still drew
