"""API keys are used and never kept: not in a log line, stdout/stderr, a run record, a manifest, an error
message, a page, or any file of the data folder.

Distinctive fake keys go in through each way a key can arrive (environment variable,
`.streamlit/secrets.toml`, the session's password field / `api_keys=`), real ingestion runs with
OpenAI embeddings and real chat with OpenAI and Cohere, all through the official SDKs against the local
fakes (`tests/fakes/`), with every logger at DEBUG. The rejected-key paths (401 from the service)
are checked too. Then the repository itself: secrets.toml and the data folder are git-ignored, and
no tracked file holds anything shaped like a real key.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ragkit.errors import ServiceError
from ragkit.schema import InputFile
from tests.conftest import REPO
from tests.fakes.chat_fakes import FakeCohereChat, FakeOpenAIChat
from tests.fakes.openai_fake import FakeOpenAI
from workbench import api

# Each key has a distinctive middle: a service masking a key ("sk-****…abcd") must not reveal it either.
KEYS = {
    "env": "sk-wbtest-ENVKEY-3f9c2a7e1b4d5068aa",
    "secrets_toml": "sk-wbtest-TOMLKEY-8d1e6b0c2f7a9345bb",
    "session": "sk-wbtest-SESSIONKEY-5a7c3e9b1d0f2486cc",
    "cohere": "co-wbtest-COHEREKEY-6e2b8d4f0a1c3957dd",
    "wrong": "sk-wbtest-WRONGKEY-1b3d5f7a9c0e2468ee",
    "never_resolved": "sk-wbtest-UNSEENKEY-9e7c5a3b1d2f4680ff",  # never reaches resolve_api_keys, so never redacted
}
MIDDLES = [key[len("sk-wbtest-"):-4] for key in KEYS.values()]
NEEDLES = [*KEYS.values(), *MIDDLES]
TEXT = (b"The Marrowick lighthouse keepers guild was founded in 1884. Its first keeper was Ada Fenwick.\n\n"
        b"The guild's emblem is a silver gull holding a brass key.")
ANSWER = "The guild's emblem is a silver gull [1]."
QUESTION = "What is the guild's emblem?"
KEY_ENV_VARS = ("OPENAI_API_KEY", "COHERE_API_KEY", "PINECONE_API_KEY", "WEAVIATE_API_KEY", "LLM_API_KEY",
                "OPENAI_BASE_URL", "CO_API_URL")


def leaks(text: str) -> list[str]:
    """The key strings (or their distinctive middles) found in a text."""
    return [needle for needle in NEEDLES if needle in text]


def data_folder_leaks(data_dir: Path) -> list[str]:
    """Files under the data folder (SQLite catalog and cache, LanceDB data, manifests, …) whose bytes hold a key."""
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert files, "nothing under the data folder to search"
    found = []
    for path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a SQLite -wal/-journal file removed when its connection closed
            continue
        found += [f"{path.relative_to(data_dir)}: {needle}" for needle in NEEDLES if needle.encode() in data]
    return found


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record) + " " + repr(record.args))
        except Exception as error:  # noqa: BLE001 - a record that cannot be formatted is still looked at
            self.lines.append(f"{record.name} unformattable {record.msg!r} {record.args!r} ({error})")


@pytest.fixture
def all_logs() -> Iterator[_Collector]:
    """Every log record of every logger, at DEBUG, for the duration of the test."""
    collector = _Collector()
    root = logging.getLogger()
    loggers = [root] + [logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    root.addHandler(collector)
    yield collector
    root.removeHandler(collector)
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key from the environment or a secrets.toml unless the test puts one there; returns the secrets.toml path."""
    for name in KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    secrets = tmp_path / "secrets.toml"
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(secrets))
    return secrets


def _assert_clean(collector: _Collector, capfd: pytest.CaptureFixture, data_dir: Path, *texts: Any) -> None:
    out, err = capfd.readouterr()
    assert [line for line in collector.lines if leaks(line)] == []
    assert collector.lines, "no log line was captured: the logging capture is not working"
    assert leaks(out) == [] and leaks(err) == []
    assert [leaks(repr(text)) for text in texts if leaks(repr(text))] == []
    assert data_folder_leaks(data_dir) == []


def _error_text(error: BaseException) -> str:
    """Everything an error would show: message, repr, the formatted traceback with its causes and contexts."""
    return f"{error}\n{error!r}\n" + "".join(traceback.format_exception(error))


# --- the dataflow layer: ingestion, search, chat ----------------------------------------------------


@pytest.mark.parametrize("source", ["env", "secrets_toml", "session"])
def test_keys_reach_the_services_and_nothing_else(source, no_keys, data_dir, all_logs, capfd, monkeypatch):
    key = KEYS[source]
    session: dict[str, str] = {}
    if source == "env":
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("COHERE_API_KEY", KEYS["cohere"])
    elif source == "secrets_toml":
        no_keys.write_text(f'OPENAI_API_KEY = "{key}"\nCOHERE_API_KEY = "{KEYS["cohere"]}"\n', encoding="utf-8")
    else:
        session = {"openai_api_key": key, "cohere_api_key": KEYS["cohere"]}

    with FakeOpenAI(api_key=key) as embeddings, FakeOpenAIChat(api_key=key, answer=ANSWER) as openai_chat, \
            FakeCohereChat(api_key=KEYS["cohere"], answer=ANSWER) as cohere_chat:
        config = {"source": "files", "data_dir": str(data_dir), "index_name": "secret_docs",
                  "embedding_service": "openai", "openai_base_url": embeddings.base_url}
        record = api.ingest(config, files=[InputFile(name="guild.txt", data=TEXT)], api_keys=session)
        assert record["status"] == "succeeded" and record["counts"]["written"] >= 1
        again = api.ingest(config, files=[InputFile(name="guild.txt", data=TEXT)], api_keys=session)
        assert again["counts"]["written"] == 0

        query = {"index_name": "secret_docs", "data_dir": str(data_dir), "openai_base_url": embeddings.base_url}
        found = api.search(query, QUESTION, top_k=3, api_keys=session)
        assert "silver gull" in found["hits"][0]["text"]
        answered = {}
        for service, fake in (("openai", openai_chat), ("cohere", cohere_chat)):
            result = api.answer({**query, "llm_service": service, "llm_base_url": fake.base_url if service == "openai" else "",
                                    "cohere_base_url": fake.base_url if service == "cohere" else ""},
                                   QUESTION, api_keys=session)
            assert "".join(result["stream"]) == ANSWER
            answered[service] = {k: v for k, v in result.items() if k != "stream"}
        # the keys were really used, each by its own service
        assert {r.headers["authorization"] for r in embeddings.embedding_requests} == {f"Bearer {key}"}
        assert openai_chat.chat_requests[0].headers["authorization"] == f"Bearer {key}"
        assert cohere_chat.chat_requests[0].headers["authorization"] == f"Bearer {KEYS['cohere']}"
        chunks = api.run_chunks(config, record["run_id"], api_keys=session)

    _assert_clean(all_logs, capfd, data_dir, record, again, found, answered, chunks, api.runs(str(data_dir)),
                  api.indexes(str(data_dir)))


def test_rejected_keys_are_not_echoed(no_keys, data_dir, all_logs, capfd):
    """The service answers 401 to a wrong key: the error, the run record and the logs name the problem, not the key."""
    session = {"openai_api_key": KEYS["wrong"], "cohere_api_key": KEYS["wrong"]}
    errors: list[BaseException] = []
    with FakeOpenAI(api_key=KEYS["env"]) as embeddings:
        config = {"source": "files", "data_dir": str(data_dir), "index_name": "rejected",
                  "embedding_service": "openai", "openai_base_url": embeddings.base_url}
        with pytest.raises(ServiceError, match="rejected the API key") as raised:
            api.ingest(config, files=[InputFile(name="guild.txt", data=TEXT)], api_keys=session)
        errors.append(raised.value)
        assert embeddings.requests and embeddings.requests[-1].headers["authorization"] == f"Bearer {KEYS['wrong']}"
    (run,) = api.runs(str(data_dir))
    assert run["status"] == "failed" and "rejected" in run["error"]

    index = {"source": "files", "data_dir": str(data_dir), "index_name": "local"}
    api.ingest(index, files=[InputFile(name="guild.txt", data=TEXT)], api_keys={})
    with FakeOpenAIChat(api_key=KEYS["env"]) as openai_chat, FakeCohereChat(api_key=KEYS["cohere"]) as cohere_chat:
        for service, fake in (("openai", openai_chat), ("cohere", cohere_chat)):
            config = {**index, "llm_service": service, **({"llm_base_url": fake.base_url} if service == "openai"
                                                          else {"cohere_base_url": fake.base_url})}
            with pytest.raises(ServiceError) as raised:
                "".join(api.answer(config, QUESTION, api_keys=session)["stream"])
            errors.append(raised.value)
            assert fake.chat_requests, f"{service}: the wrong key never reached the fake"
    _assert_clean(all_logs, capfd, data_dir, [_error_text(e) for e in errors], api.runs(str(data_dir)))


# --- the command line: keys from the environment only ---------------------------------------------------


def test_the_command_line_uses_the_environment_key_and_prints_it_nowhere(no_keys, data_dir, tmp_path):
    document = tmp_path / "guild.txt"
    document.write_bytes(TEXT)
    other = tmp_path / "harbour.txt"
    other.write_bytes(b"The harbour freezes in February.")
    cli = [sys.executable, "-m", "dataflows"]
    where = ["--index", "cli", "--data-dir", str(data_dir)]
    with FakeOpenAI(api_key=KEYS["env"]) as fake:
        env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        runs = [
            subprocess.run([*cli, "ingest", str(document), "--embedding-service", "openai", *where, "--json"],
                           env={**env, "OPENAI_API_KEY": KEYS["env"]}, cwd=REPO, capture_output=True, text=True, timeout=300),
            subprocess.run([*cli, "query", QUESTION, *where, "--json"],
                           env={**env, "OPENAI_API_KEY": KEYS["env"]}, cwd=REPO, capture_output=True, text=True, timeout=300),
            subprocess.run([*cli, "ingest", str(other), "--embedding-service", "openai", *where],
                           env={**env, "OPENAI_API_KEY": KEYS["wrong"]}, cwd=REPO, capture_output=True, text=True, timeout=300),
        ]
        assert {r.headers["authorization"] for r in fake.embedding_requests} == {f"Bearer {KEYS['env']}", f"Bearer {KEYS['wrong']}"}
    assert [r.returncode for r in runs] == [0, 0, 2], [r.stderr[-1000:] for r in runs]
    assert "silver gull" in runs[1].stdout
    assert "rejected the API key" in runs[2].stderr and "Traceback" not in runs[2].stderr
    assert [leaks(r.stdout + r.stderr) for r in runs] == [[], [], []]
    assert data_folder_leaks(data_dir) == []


# --- the app: a key typed in the session's password field --------------------------------------------


def _element_texts(app: AppTest) -> list[tuple[str, str]]:
    """(element type and key, everything the element carries: its proto — label, value, body, help, …) for every element."""
    found = []
    for root in (app._tree,):  # noqa: SLF001 - AppTest exposes no public walk over every element
        for node in root:
            proto = getattr(node, "proto", None)
            if proto is None:
                continue
            key = getattr(node, "key", None) if not isinstance(node, type(app.main)) else None
            found.append((f"{node.type}:{key}", str(proto)))
    return found


def _assert_page_clean(app: AppTest, typed: str) -> None:
    """No element but the password field itself carries the typed key; the field is a password field."""
    assert not app.exception, [e.value for e in app.exception]
    fields = [w for w in app.text_input if w.key == "key_openai_api_key"]  # app.py draws it in the sidebar of every page
    assert fields and all(f.value == typed and f.proto.type == f.proto.PASSWORD for f in fields)
    carrying = [name for name, text in _element_texts(app) if leaks(text) and name != "text_input:key_openai_api_key"]
    assert carrying == []


def test_a_key_typed_in_the_app_is_used_and_never_shown(no_keys, tmp_path, monkeypatch, all_logs, capfd):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(data_dir))
    key = KEYS["session"]
    with FakeOpenAI(api_key=key) as embeddings, FakeOpenAIChat(api_key=key, answer=ANSWER) as chat:
        monkeypatch.setenv("OPENAI_BASE_URL", embeddings.base_url)  # the SDK's own setting; the page has no base-URL field
        app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        app.run()
        app.text_input(key="key_openai_api_key").input(key).run()
        _assert_page_clean(app, key)

        app.switch_page("pages/ingest.py").run()
        app.selectbox(key="ingest_service").set_value("openai").run()
        assert not any("OPENAI_API_KEY" in w.value for w in app.warning)  # the session key counts as set
        app.file_uploader(key="ingest_uploads").upload("guild.txt", TEXT, "text/plain").run()
        next(b for b in app.button if b.label == "Ingest").click().run()
        assert any(m.label == "Written" and m.value == "1" for m in app.metric)
        assert embeddings.embedding_requests[-1].headers["authorization"] == f"Bearer {key}"
        _assert_page_clean(app, key)

        app.switch_page("pages/retrieve.py").run()
        app.text_input(key="retrieve_question").input(QUESTION)
        next(b for b in app.button if b.label == "Search").click().run()
        assert any(" in " in c.value and " ms (" in c.value for c in app.caption)  # "1 hit in 12 ms (embed …)"
        _assert_page_clean(app, key)

        monkeypatch.setenv("OPENAI_BASE_URL", chat.base_url)  # read when the chat client is made, after the search's
        app.switch_page("pages/chat.py").run()
        app.selectbox(key="chat_llm").set_value("openai").run()
        app.chat_input[0].set_value(QUESTION).run()
        assert chat.chat_requests and chat.chat_requests[-1].headers["authorization"] == f"Bearer {key}"
        assert any("silver gull" in m.value for m in app.chat_message[-1].markdown)
        _assert_page_clean(app, key)

        app.switch_page("pages/runs.py").run()
        assert any("succeeded" in h.value for h in app.subheader)
        _assert_page_clean(app, key)

        # a wrong key, typed in the sidebar (app.py draws it on every page): the page says the service rejected it, without echoing it
        app.text_input(key="key_openai_api_key").input(KEYS["wrong"]).run()
        monkeypatch.setenv("OPENAI_BASE_URL", embeddings.base_url)
        app.switch_page("pages/ingest.py").run()
        app.selectbox(key="ingest_service").set_value("openai").run()
        app.text_input(key="ingest_index").input("second").run()
        # new text, so the embedding cache cannot answer and the service must be asked
        app.file_uploader(key="ingest_uploads").upload("harbour.txt", b"The harbour freezes in February.", "text/plain").run()
        next(b for b in app.button if b.label == "Ingest").click().run()
        assert any("rejected the API key" in e.value for e in app.error)
        _assert_page_clean(app, KEYS["wrong"])

    _assert_clean(all_logs, capfd, data_dir, api.runs(str(data_dir)), api.indexes(str(data_dir)))


# --- the repository --------------------------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


@pytest.mark.skipif(_git("rev-parse", "--git-dir").returncode != 0, reason="not a git checkout")
def test_secrets_toml_and_the_data_folder_are_git_ignored():
    for path in (".streamlit/secrets.toml", "data/", "data/catalog.sqlite", "data/lancedb/docs.lance/x"):
        assert _git("check-ignore", "-q", "--no-index", path).returncode == 0, f"{path} is not git-ignored"
    assert _git("check-ignore", "-q", "--no-index", "tests/data/squad_sample.json").returncode == 1  # the fixture is tracked
    assert ".streamlit/secrets.toml" not in _git("ls-files").stdout.splitlines()


# Shapes of real credentials: OpenAI (sk-, sk-proj-), Anthropic, Pinecone, Hugging Face, GitHub, AWS, Slack, private keys.
REAL_KEY_SHAPES = re.compile(
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}|pcsk_[A-Za-z0-9_]{20,}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
# A test key says it is one: every key-shaped string in a tracked file must carry one of these words.
FAKE_MARKERS = ("fake", "test", "wrong", "example", "dummy", "placeholder", "xxxx")


@pytest.mark.skipif(_git("rev-parse", "--git-dir").returncode != 0, reason="not a git checkout")
def test_no_tracked_file_holds_something_shaped_like_a_real_key():
    suspicious = []
    for name in _git("ls-files", "-z").stdout.split("\0"):
        path = REPO / name
        if not name or not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for match in REAL_KEY_SHAPES.finditer(text):
            if not any(marker in match.group(0).lower() for marker in FAKE_MARKERS):
                suspicious.append(f"{name}: {match.group(0)[:12]}…")
    assert suspicious == []


def test_the_leak_checks_see_a_key_where_one_is(data_dir, all_logs, capfd):
    """The checks above are only worth something if they notice a key: log one, print one, store one."""
    # a key the process never resolved: redaction (ragkit/redaction.py) cannot know it, so the check must see it
    logging.getLogger("some.library").debug("request headers %s", {"authorization": f"Bearer {KEYS['never_resolved']}"})
    print(f"masked? {KEYS['session'][:6]}…{KEYS['session'][10:-4]}")
    (data_dir / "nested").mkdir()
    (data_dir / "nested" / "blob.bin").write_bytes(b"\x00\x01" + KEYS["cohere"].encode() + b"\x02")
    assert any(leaks(line) for line in all_logs.lines)
    out, _ = capfd.readouterr()
    assert leaks(out)
    assert data_folder_leaks(data_dir) == [f"nested/blob.bin: {KEYS['cohere']}", f"nested/blob.bin: {MIDDLES[3]}"]
