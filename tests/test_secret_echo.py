"""A service whose error reply echoes the request's key: the key still reaches no output channel.

Each hosted service (OpenAI and Cohere embeddings, the first request measuring a model's vector size included;
OpenAI, OpenAI-compatible and Cohere chat; Cohere Rerank; Weaviate; Pinecone) is pointed at an
`EchoingGateway`, which refuses every request with an error text quoting its `Authorization` / `Api-Key`
header. The key is then grepped for in the error, every log record (every logger at DEBUG), stdout and stderr,
the run records and manifests, and every byte of the data folder; and through the command line, in its
output, `runs --json`, `indexes --json` and the data folder. `ragkit/redaction.py` is the one mechanism.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ragkit.errors import WorkbenchError
from ragkit.redaction import redact, register_secret
from ragkit.schema import InputFile
from tests.conftest import REPO
from tests.fakes.echo_fake import EchoingGateway
from tests.test_secrets import KEY_ENV_VARS, all_logs, data_folder_leaks, no_keys  # noqa: F401 - fixtures
from workbench import api

KEY = "sk-wbtest-ECHOKEY-7d3a9c1e5b2f4086ff"
MIDDLE = KEY[len("sk-wbtest-"):-4]
TEXT = b"The guild's emblem is a silver gull holding a brass key."
QUESTION = "What is the guild's emblem?"
KEYED_VARIABLES = ("OPENAI_API_KEY", "COHERE_API_KEY", "PINECONE_API_KEY", "WEAVIATE_API_KEY", "LLM_API_KEY")


def _leaks(text: str) -> bool:
    return KEY in text or MIDDLE in text


def _with_url(value: Any, url: str) -> Any:
    """A config value with "{url}" (at any depth) replaced by the gateway's address."""
    if isinstance(value, dict):
        return {name: _with_url(inner, url) for name, inner in value.items()}
    return value.replace("{url}", url) if isinstance(value, str) else value


def _ingest(data_dir: Path, **config: Any) -> Callable[[str], Any]:
    return lambda url: api.ingest({"source": "files", "data_dir": str(data_dir), "index_name": "echo", **_with_url(config, url)},
                                  files=[InputFile(name="guild.txt", data=TEXT)])


def _local_index(data_dir: Path) -> dict[str, Any]:
    index = {"source": "files", "data_dir": str(data_dir), "index_name": "local"}
    api.ingest(index, files=[InputFile(name="guild.txt", data=TEXT)])
    return index


def _answer(data_dir: Path, **settings: str) -> Callable[[str], Any]:
    def run(url: str) -> Any:
        config = {**_local_index(data_dir), **_with_url(settings, url)}
        return "".join(api.answer(config, QUESTION)["stream"])
    return run


def _rerank(data_dir: Path) -> Callable[[str], Any]:
    return lambda url: api.search({**_local_index(data_dir), "reranker": "cohere", "cohere_base_url": url}, QUESTION)


CASES: dict[str, Callable[[Path], Callable[[str], Any]]] = {
    "openai embeddings": lambda d: _ingest(d, embedding_service="openai", openai_base_url="{url}/v1"),
    "openai vector-size probe": lambda d: _ingest(d, embedding_service="openai", model_name="house-embedder",
                                                   openai_base_url="{url}/v1"),
    "cohere embeddings": lambda d: _ingest(d, embedding_service="cohere", cohere_base_url="{url}"),
    "cohere vector-size probe": lambda d: _ingest(d, embedding_service="cohere", model_name="house-embedder",
                                                   cohere_base_url="{url}"),
    "weaviate": lambda d: _ingest(d, vector_db="weaviate", vector_db_config={"url": "{url}"}),
    "pinecone": lambda d: _ingest(d, vector_db="pinecone", vector_db_config={"host": "{url}", "namespace": "echo"}),
    "openai chat": lambda d: _answer(d, llm_service="openai", llm_base_url="{url}/v1"),
    "openai-compatible chat": lambda d: _answer(d, llm_service="openai_compatible", llm_base_url="{url}/v1"),
    "cohere chat": lambda d: _answer(d, llm_service="cohere", cohere_base_url="{url}"),
    "cohere rerank": _rerank,
}


@pytest.fixture
def echoed_key(no_keys, monkeypatch):  # noqa: F811 - the fixture imported above
    """The same key in every key variable, so whichever service is asked sends it."""
    for name in KEYED_VARIABLES:
        monkeypatch.setenv(name, KEY)
    return KEY


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_echoed_key_reaches_no_output(case, echoed_key, data_dir, all_logs, capfd):  # noqa: F811
    with EchoingGateway() as gateway:
        with pytest.raises(WorkbenchError) as raised:
            CASES[case](data_dir)(gateway.url)
        assert any(KEY in value for value in gateway.credentials_seen()), "the key never reached the gateway"
    error = raised.value
    assert "gateway refused" in str(error) or "(400)" in str(error), str(error)  # the server's reason is still shown
    out, err = capfd.readouterr()
    records = json.dumps([api.runs(str(data_dir)), api.indexes(str(data_dir))])
    assert not _leaks(f"{error}\n{error!r}"), str(error)
    assert [line for line in all_logs.lines if _leaks(line)] == []
    assert not _leaks(out) and not _leaks(err)
    assert not _leaks(records)
    assert [leak for leak in data_folder_leaks(data_dir) if KEY in leak or MIDDLE in leak] == []


def test_the_command_line_prints_and_stores_no_echoed_key(no_keys, data_dir, tmp_path):  # noqa: F811
    document = tmp_path / "guild.txt"
    document.write_bytes(TEXT)
    env = {**{k: v for k, v in os.environ.items() if k not in KEY_ENV_VARS}, "OPENAI_API_KEY": KEY, "COHERE_API_KEY": KEY,
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WORKBENCH_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "workbench"]
    with EchoingGateway() as gateway:
        runs = [subprocess.run([*cli, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300) for args in (
            ["ingest", str(document), "--embedding-service", "openai", "--openai-base-url", f"{gateway.url}/v1", "--index", "o"],
            ["ingest", str(document), "--embedding-service", "cohere", "--model-name", "house-embedder",
             "--cohere-base-url", gateway.url, "--index", "c", "--json"],
            ["runs", "--json"], ["indexes", "--json"],
        )]
        assert KEY in "".join(gateway.credentials_seen())
    assert [r.returncode for r in runs] == [2, 2, 0, 0], [r.stderr[-500:] for r in runs]
    assert all("Traceback" not in r.stderr for r in runs)
    assert "[redacted]" in runs[0].stderr and "gateway refused" in runs[0].stderr
    assert [r.args[3] for r in runs if _leaks(r.stdout + r.stderr)] == []
    assert len(json.loads(runs[2].stdout)) == 2
    assert [leak for leak in data_folder_leaks(data_dir) if KEY in leak or MIDDLE in leak] == []


@pytest.mark.parametrize("where", [
    {"extra": {"api_key": "sk-wbtest-NESTED-0a1b2c3d4e5f6789"}},
    {"extra": [{"headers": {"Authorization": "Bearer sk-wbtest-NESTED-0a1b2c3d4e5f6789"}}]},
    {"options": {"deeper": {"client_secret": "sk-wbtest-NESTED-0a1b2c3d4e5f6789"}}},
])
def test_a_secret_nested_in_the_store_settings_is_refused_and_stored_nowhere(where, data_dir, tmp_path):
    document = tmp_path / "notes.txt"
    document.write_bytes(TEXT)
    settings = json.dumps({"uri": str(data_dir / "lancedb"), **where})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WORKBENCH_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "workbench"]
    ingest = subprocess.run([*cli, "ingest", str(document), "--vector-db-config", settings, "--index", "nested"],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 2 and "looks like a secret" in ingest.stderr and "Traceback" not in ingest.stderr
    listings = [subprocess.run([*cli, verb, "--json"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120).stdout
                for verb in ("runs", "indexes")]
    assert all("NESTED" not in text for text in [ingest.stdout, ingest.stderr, *listings])
    assert not any("NESTED" in path.read_bytes().decode("latin-1") for path in data_dir.rglob("*") if path.is_file())


def test_redaction_replaces_a_key_its_pieces_and_a_truncated_copy():
    secret = "sk-wbtest-PIECES-91a7c3e5f2b4d6080a"
    register_secret(secret)
    assert redact(f"Authorization: Bearer {secret}.") == "Authorization: Bearer [redacted]"
    assert redact(f"body: {{'header': 'Bearer {secret[:24]}") == "body: {'header': 'Bearer [redacted]"  # cut at 200 chars
    assert redact(f"key ****{secret[8:-6]}**** rejected") == "key [redacted] rejected"  # masked at both ends
    assert redact("an ordinary sentence about keys, sk-other-0000") == "an ordinary sentence about keys, sk-other-0000"
    register_secret("short")  # too short to be a key: never replaced
    assert redact("a short word") == "a short word"


STREAMED_KEY = "sk-wbtest-STREAMED-5e8c2a71d09f4b36"
CLEAN_TEXT = "The answer is 42 [1]. Keys like sk-other-0000 are not ours; see https://example.org/a_b?x=1.\n"


def _streamed_leaks(text: str) -> list[str]:
    """The key, or any 12-character piece of it, found in a text."""
    return [STREAMED_KEY[start:start + 12] for start in range(len(STREAMED_KEY) - 11) if STREAMED_KEY[start:start + 12] in text]


def _splits(text: str) -> list[list[str]]:
    """The text as two pieces cut at every offset, as three pieces around the key at every pair of offsets, and one
    character a piece."""
    cuts = [[text[:at], text[at:]] for at in range(len(text) + 1)]
    start = text.find(STREAMED_KEY)
    if start >= 0:
        cuts += [[text[:first], text[first:second], text[second:]]
                 for first in range(start - 2, start + len(STREAMED_KEY) + 2)
                 for second in range(first, start + len(STREAMED_KEY) + 3)]
    return [*cuts, list(text)]


def test_a_key_split_across_streamed_pieces_is_redacted_at_every_offset():
    from ragkit.redaction import redact_stream

    register_secret(STREAMED_KEY)
    answer = f"Sure. Your request carried Authorization: Bearer {STREAMED_KEY} and then {STREAMED_KEY}, twice. Done."
    for pieces in _splits(answer):
        out = list(redact_stream(iter(pieces)))
        assert _streamed_leaks("".join(out)) == [], pieces
        assert all(not _streamed_leaks(piece) for piece in out), pieces
        assert "".join(out) == redact(answer), pieces  # as the whole text would be redacted: nothing lost or reordered
    for pieces in _splits(CLEAN_TEXT):  # text without secrets comes out unchanged and complete
        assert "".join(redact_stream(iter(pieces))) == CLEAN_TEXT, pieces
    assert len(list(redact_stream(iter(["Paris ", "is ", "the ", "capital."])))) >= 3  # still streamed, not one lump


def test_an_answer_streaming_a_key_in_pieces_reaches_no_output(no_keys, data_dir, monkeypatch):  # noqa: F811
    """End to end through the flow every consumer reads (`api.answer`: `ask`, Chat, evaluation): an LLM streaming the
    key cut mid-token, at several offsets."""
    from tests.fakes import chat_fakes

    register_secret(STREAMED_KEY)
    answer = f"The gateway saw Bearer {STREAMED_KEY} [1]."
    offsets = iter(range(answer.find("sk-") + 1, answer.find("sk-") + len(STREAMED_KEY), 5))
    monkeypatch.setattr(chat_fakes, "split_answer", lambda text, pieces: [text[:(cut := next(offsets))], text[cut:]])
    index = _local_index(data_dir)
    with chat_fakes.FakeOpenAIChat.without_auth(answer=answer) as fake:
        config = {**index, "llm_service": "openai_compatible", "llm_base_url": fake.base_url}
        for _ in range(3):
            text = "".join(api.answer(config, QUESTION)["stream"])
            assert text == "The gateway saw Bearer [redacted] [1].", text
        assert len(fake.sent_deltas) == 3, fake.sent_deltas
        assert all(len(deltas) == 2 and not any(STREAMED_KEY in delta for delta in deltas)
                   for deltas in fake.sent_deltas), fake.sent_deltas  # the key really was split


def test_a_follow_up_rewrite_echoing_a_key_is_redacted_before_it_is_shown_stored_or_searched(no_keys, data_dir):  # noqa: F811
    """The LLM's standalone rewrite of a follow-up ("Searched for: …" in Chat, the conversation record, the search)
    comes back from the service like the answer does, so it passes the same redaction point."""
    from tests.fakes import chat_fakes

    register_secret(STREAMED_KEY)
    index = _local_index(data_dir)

    def echo_in_the_rewrite(messages: list[dict]) -> str:
        asked_to_rewrite = "Standalone question:" in messages[-1]["content"]
        return f"Who keeps the lighthouse for {STREAMED_KEY} now?" if asked_to_rewrite else "Someone [1]."

    with chat_fakes.FakeOpenAIChat.without_auth() as fake:
        fake.reply_with(echo_in_the_rewrite)
        config = {**index, "llm_service": "openai_compatible", "llm_base_url": fake.base_url}
        history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "A keeper [1]."}]
        result = api.answer(config, "And who keeps it now?", history=history)
        "".join(result["stream"])
        assert any(STREAMED_KEY in "".join(deltas) for deltas in fake.sent_deltas)  # the service did echo it
    assert result["retrieval_question"] == "Who keeps the lighthouse for [redacted] now?"
    assert STREAMED_KEY not in json.dumps(result["prompt_messages"])
