"""The hosted embedding services (OpenAI, Cohere) through the embeddings dataflow, against in-process fakes.

The real SDKs talk HTTP to `tests/fakes/openai_fake.py` and `tests/fakes/cohere_fake.py`, so what
is tested is the request the SDK really sends and the response it really parses, plus the SDK's
own retry loop. Scripted failures send `Retry-After: 0` and `retry-after-ms: 1`: both SDKs ignore a
zero Retry-After (they fall back to exponential backoff, 0.5 s·2ⁿ for OpenAI and 1 s·2ⁿ for Cohere)
but honour a positive retry-after-ms, which keeps the retry tests fast.

Tests against the real services run only when OPENAI_API_KEY / COHERE_API_KEY are set.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hamilton import driver as hamilton_driver  # noqa: E402
from hamilton import telemetry  # noqa: E402

from dataflows import embeddings as embeddings_module  # noqa: E402
from dataflows.embedders import EMBEDDERS  # noqa: E402
from dataflows.embedders.openai import API_MAX_RETRIES  # noqa: E402
from ragkit.errors import MissingApiKeyError, ServiceError  # noqa: E402
from ragkit.schema import InputFile, Progress  # noqa: E402
from tests.fakes.cohere_fake import FakeCohere  # noqa: E402
from tests.fakes.openai_fake import FakeOpenAI  # noqa: E402
from workbench import api as workbench  # noqa: E402

telemetry.disable_telemetry()

OPENAI_MODEL = "text-embedding-3-small"
COHERE_MODEL = "embed-english-v3.0"
FAST_RETRY = {"retry_after": "0", "retry_after_ms": "1"}
TEXTS = [
    "The cat sat on the mat.",
    "Dogs bark at the postman every morning.",
    "Photosynthesis turns light into chemical energy.",
    "The mitochondria is the powerhouse of the cell.",
    "Ünïcödé text — with «quotes» and emoji ✓.",
]


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def openai_fake():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def cohere_fake():
    with FakeCohere() as fake:
        yield fake


def build_driver(service: str) -> hamilton_driver.Driver:
    return (
        hamilton_driver.Builder()
        .with_modules(embeddings_module, EMBEDDERS.get(service).load())
        .with_config({"embedding_service": service, "hamilton.enable_power_user_mode": True, "data_quality": "fail"})
        .build()
    )


def embed(
    service: str,
    fake: FakeOpenAI | FakeCohere | None,
    data_dir: Path,
    texts: list[str],
    *,
    api_key: str | None = None,
    input_type: str = "search_document",
    batch_size: int = 0,
    progress: Progress | None = None,
    model: str | None = None,
) -> np.ndarray:
    """Run the `embeddings` node of the dataflow for one service; `fake=None` means the real service."""
    key = api_key if api_key is not None else (fake.api_key if fake else os.environ.get(f"{service.upper()}_API_KEY", ""))
    base_url = fake.base_url if fake else ""
    inputs: dict[str, Any] = {
        "texts_to_embed": texts,
        "embedding_input_type": input_type,
        "model_name": model or (OPENAI_MODEL if service == "openai" else COHERE_MODEL),
        "data_dir": str(data_dir),
        "progress": progress or Progress(),
        "embedding_batch_size": batch_size,
        f"{service}_api_key": key,
        f"{service}_base_url": base_url,
    }
    return build_driver(service).execute(["embeddings"], inputs=inputs)["embeddings"]


def unit(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64)
    return (array / np.linalg.norm(array)).astype(np.float32)


def assert_unit_rows(vectors: np.ndarray) -> None:
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the SDKs ask `time.sleep` for on this thread; nothing actually sleeps."""
    sleeps: list[float] = []
    real_sleep = time.sleep
    test_thread = threading.get_ident()

    def record(seconds: float) -> None:
        if threading.get_ident() == test_thread:
            sleeps.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", record)
    return sleeps


# --- OpenAI ------------------------------------------------------------------------------------


def test_openai_embeds_in_batches_as_unit_float32_rows(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    steps: list[tuple[str, int, int]] = []
    vectors = embed("openai", openai_fake, tmp_path / "a", TEXTS, batch_size=2, progress=Progress(lambda *a: steps.append(a)))

    assert vectors.shape == (5, 1536)
    assert_unit_rows(vectors)
    raw_norms = [np.linalg.norm(openai_fake.vector(text)) for text in TEXTS]
    assert min(abs(n - 1.0) for n in raw_norms) > 0.5  # the fake's vectors are not unit: the pipeline normalised them
    np.testing.assert_allclose(vectors, np.stack([unit(openai_fake.vector(t)) for t in TEXTS]), atol=1e-6)

    requests = openai_fake.embedding_requests
    assert [len(r.body["input"]) for r in requests] == [2, 2, 1]
    assert [text for r in requests for text in r.body["input"]] == TEXTS
    assert {r.body["model"] for r in requests} == {OPENAI_MODEL}
    assert {r.body["encoding_format"] for r in requests} == {"float"}
    assert {r.headers["authorization"] for r in requests} == {f"Bearer {openai_fake.api_key}"}
    assert steps[0] == ("fresh_embeddings", 0, 5) and steps[-1] == ("fresh_embeddings", 5, 5)

    again = embed("openai", openai_fake, tmp_path / "b", TEXTS, batch_size=2)  # a fresh cache: embedded again
    assert len(openai_fake.embedding_requests) == 6
    np.testing.assert_array_equal(vectors, again)


def test_openai_default_batch_is_one_request_and_rows_follow_index_not_order(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.reverse_order = True  # `data` listed last-first; each item's `index` is right
    vectors = embed("openai", openai_fake, tmp_path, TEXTS)
    assert len(openai_fake.embedding_requests) == 1  # batch size 0: the service default (512)
    np.testing.assert_allclose(vectors, np.stack([unit(openai_fake.vector(t)) for t in TEXTS]), atol=1e-6)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_openai_sdk_retries_a_transient_error(openai_fake: FakeOpenAI, tmp_path: Path, status: int) -> None:
    openai_fake.fail_next(1, status, **FAST_RETRY)
    started = time.monotonic()
    vectors = embed("openai", openai_fake, tmp_path, TEXTS[:2])
    assert time.monotonic() - started < 5
    assert len(openai_fake.embedding_requests) == 2
    assert [r.headers["x-stainless-retry-count"] for r in openai_fake.embedding_requests] == ["0", "1"]
    np.testing.assert_allclose(vectors, np.stack([unit(openai_fake.vector(t)) for t in TEXTS[:2]]), atol=1e-6)


def test_openai_wrong_key_is_a_service_error_naming_the_setting_not_the_key(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    wrong_key = "sk-wrong-key-that-must-not-leak-9876"
    with pytest.raises(ServiceError) as raised:
        embed("openai", openai_fake, tmp_path, TEXTS[:2], api_key=wrong_key)
    message = str(raised.value)
    assert "OpenAI" in message and "OPENAI_API_KEY" in message
    assert wrong_key not in message and "9876" not in message
    assert len(openai_fake.embedding_requests) == 1  # a 401 is not retried
    assert openai_fake.embedding_requests[0].headers["authorization"] == f"Bearer {wrong_key}"


@pytest.mark.parametrize("status, words", [(429, "429"), (503, "503")])
def test_openai_persistent_error_fails_after_bounded_retries(
    openai_fake: FakeOpenAI, tmp_path: Path, status: int, words: str
) -> None:
    openai_fake.fail_next(None, status, **FAST_RETRY)
    started = time.monotonic()
    with pytest.raises(ServiceError, match=words) as raised:
        embed("openai", openai_fake, tmp_path, TEXTS[:2])
    assert time.monotonic() - started < 5
    assert len(openai_fake.embedding_requests) == 1 + API_MAX_RETRIES
    assert "OpenAI" in str(raised.value)


def test_openai_missing_key_fails_before_any_request(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    with pytest.raises(MissingApiKeyError, match="OPENAI_API_KEY"):
        embed("openai", openai_fake, tmp_path, TEXTS[:2], api_key="")
    assert openai_fake.requests == []


# --- Cohere ------------------------------------------------------------------------------------


def test_cohere_embeds_documents_as_unit_float32_rows(cohere_fake: FakeCohere, tmp_path: Path) -> None:
    vectors = embed("cohere", cohere_fake, tmp_path / "a", TEXTS, batch_size=2)

    assert vectors.shape == (5, 1024)
    assert_unit_rows(vectors)
    raw = [cohere_fake.vector(t, "search_document") for t in TEXTS]
    assert min(abs(np.linalg.norm(v) - 1.0) for v in raw) > 0.04
    np.testing.assert_allclose(vectors, np.stack([unit(v) for v in raw]), atol=1e-6)

    requests = cohere_fake.embed_requests
    assert [len(r.body["texts"]) for r in requests] == [2, 2, 1]
    assert [text for r in requests for text in r.body["texts"]] == TEXTS
    for request in requests:
        assert request.body["model"] == COHERE_MODEL
        assert request.body["input_type"] == "search_document"
        assert request.body["truncate"] == "NONE"
        assert request.body["embedding_types"] == ["float"]
        assert request.headers["authorization"] == f"Bearer {cohere_fake.api_key}"

    again = embed("cohere", cohere_fake, tmp_path / "b", TEXTS, batch_size=2)
    np.testing.assert_array_equal(vectors, again)


def test_cohere_query_input_type_is_sent_and_changes_the_vector(cohere_fake: FakeCohere, tmp_path: Path) -> None:
    query = embed("cohere", cohere_fake, tmp_path, TEXTS[:1], input_type="search_query")
    assert [r.body["input_type"] for r in cohere_fake.embed_requests] == ["search_query"]
    np.testing.assert_allclose(query[0], unit(cohere_fake.vector(TEXTS[0], "search_query")), atol=1e-6)
    assert not np.allclose(query[0], unit(cohere_fake.vector(TEXTS[0], "search_document")), atol=1e-3)


@pytest.mark.parametrize("batch_size, sizes", [(0, [96, 96, 8]), (500, [96, 96, 8]), (64, [64, 64, 64, 8])])
def test_cohere_batches_never_exceed_96_texts(cohere_fake: FakeCohere, tmp_path: Path, batch_size: int, sizes: list[int]) -> None:
    texts = [f"Sentence number {i} about topic {i % 7}." for i in range(200)]
    vectors = embed("cohere", cohere_fake, tmp_path, texts, batch_size=batch_size)
    assert vectors.shape == (200, 1024)
    assert [len(r.body["texts"]) for r in cohere_fake.embed_requests] == sizes


@pytest.mark.parametrize("status", [429, 500, 503])
def test_cohere_sdk_retries_a_transient_error(cohere_fake: FakeCohere, tmp_path: Path, status: int) -> None:
    cohere_fake.fail_next(1, status, **FAST_RETRY)
    started = time.monotonic()
    vectors = embed("cohere", cohere_fake, tmp_path, TEXTS[:2])
    assert time.monotonic() - started < 5
    assert len(cohere_fake.embed_requests) == 2
    expected = np.stack([unit(cohere_fake.vector(t, "search_document")) for t in TEXTS[:2]])
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_cohere_wrong_key_is_a_service_error_naming_the_setting_not_the_key(cohere_fake: FakeCohere, tmp_path: Path) -> None:
    wrong_key = "co-wrong-key-that-must-not-leak-9876"
    with pytest.raises(ServiceError) as raised:
        embed("cohere", cohere_fake, tmp_path, TEXTS[:2], api_key=wrong_key)
    message = str(raised.value)
    assert "Cohere" in message and "COHERE_API_KEY" in message
    assert wrong_key not in message
    assert len(cohere_fake.embed_requests) == 1  # a 401 is not retried


@pytest.mark.parametrize("status, words", [(429, "429"), (503, "503")])
def test_cohere_persistent_error_fails_after_bounded_retries(
    cohere_fake: FakeCohere, tmp_path: Path, status: int, words: str
) -> None:
    cohere_fake.fail_next(None, status, **FAST_RETRY)
    started = time.monotonic()
    with pytest.raises(ServiceError, match=words) as raised:
        embed("cohere", cohere_fake, tmp_path, TEXTS[:2])
    assert time.monotonic() - started < 5
    assert len(cohere_fake.embed_requests) == 1 + API_MAX_RETRIES
    assert "Cohere" in str(raised.value)


def test_cohere_missing_key_fails_before_any_request(cohere_fake: FakeCohere, tmp_path: Path) -> None:
    with pytest.raises(MissingApiKeyError, match="COHERE_API_KEY"):
        embed("cohere", cohere_fake, tmp_path, TEXTS[:2], api_key="")
    assert cohere_fake.requests == []


def test_cohere_text_over_the_input_limit_fails_loudly_instead_of_being_cut(cohere_fake: FakeCohere, tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="400"):
        embed("cohere", cohere_fake, tmp_path, ["word " * 600])
    assert len(cohere_fake.embed_requests) == 1  # a 400 is not retried


# --- both: what the SDKs do with Retry-After: 0 alone ---------------------------------------------


@pytest.mark.parametrize("service", ["openai", "cohere"])
def test_zero_retry_after_still_backs_off_within_a_bounded_budget(
    service: str, openai_fake: FakeOpenAI, cohere_fake: FakeCohere, tmp_path: Path, recorded_sleeps: list[float]
) -> None:
    fake = openai_fake if service == "openai" else cohere_fake
    fake.fail_next(None, 429, retry_after="0")
    with pytest.raises(ServiceError, match="429"):
        embed(service, fake, tmp_path, TEXTS[:1])
    assert len(recorded_sleeps) == API_MAX_RETRIES  # one wait before each retry
    assert all(delay >= 0.3 for delay in recorded_sleeps)  # exponential backoff, not a hot loop on "0"
    assert recorded_sleeps == sorted(recorded_sleeps)
    assert sum(recorded_sleeps) < 20  # the worst case a user waits before seeing the error


@pytest.mark.parametrize("service, requests, sleeps", [("openai", 1, []), ("cohere", 1 + API_MAX_RETRIES, [60.0] * API_MAX_RETRIES)])
def test_long_retry_after_openai_gives_up_at_once_cohere_waits_capped(
    service: str, requests: int, sleeps: list[float],
    openai_fake: FakeOpenAI, cohere_fake: FakeCohere, tmp_path: Path, recorded_sleeps: list[float],
) -> None:
    """Retry-After: 300 — the OpenAI SDK does not retry past 2 minutes; the Cohere SDK waits 60 s (its cap) each time."""
    fake = openai_fake if service == "openai" else cohere_fake
    fake.fail_next(None, 429, retry_after="300")
    with pytest.raises(ServiceError, match="429"):
        embed(service, fake, tmp_path, TEXTS[:1])
    sent = openai_fake.embedding_requests if service == "openai" else cohere_fake.embed_requests
    assert len(sent) == requests
    assert recorded_sleeps == sleeps


# --- the embedding cache -------------------------------------------------------------------------


def test_cached_texts_are_not_sent_again(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    first = embed("openai", openai_fake, tmp_path, TEXTS[:3])
    assert len(openai_fake.embedding_requests) == 1
    second = embed("openai", openai_fake, tmp_path, TEXTS[:3])
    assert len(openai_fake.embedding_requests) == 1
    np.testing.assert_array_equal(first, second)

    mixed = embed("openai", openai_fake, tmp_path, [TEXTS[3], TEXTS[0], TEXTS[3]])  # one new text, twice
    assert [r.body["input"] for r in openai_fake.embedding_requests[1:]] == [[TEXTS[3]]]
    np.testing.assert_array_equal(mixed[1], first[0])
    np.testing.assert_array_equal(mixed[0], mixed[2])
    assert_unit_rows(mixed)

    # OpenAI has no input types: a query with a cached text is answered from the cache too.
    embed("openai", openai_fake, tmp_path, TEXTS[:1], input_type="search_query")
    assert len(openai_fake.embedding_requests) == 2


def test_cohere_cache_is_per_input_type(cohere_fake: FakeCohere, tmp_path: Path) -> None:
    documents = embed("cohere", cohere_fake, tmp_path, TEXTS[:2], input_type="search_document")
    embed("cohere", cohere_fake, tmp_path, TEXTS[:2], input_type="search_document")
    assert len(cohere_fake.embed_requests) == 1
    queries = embed("cohere", cohere_fake, tmp_path, TEXTS[:2], input_type="search_query")
    assert [r.body["input_type"] for r in cohere_fake.embed_requests] == ["search_document", "search_query"]
    assert not np.allclose(documents, queries, atol=1e-3)
    embed("cohere", cohere_fake, tmp_path, TEXTS[:2], input_type="search_query")
    assert len(cohere_fake.embed_requests) == 2


def test_cache_is_per_model(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    small = embed("openai", openai_fake, tmp_path, TEXTS[:1])
    large = embed("openai", openai_fake, tmp_path, TEXTS[:1], model="text-embedding-3-large")
    assert [r.body["model"] for r in openai_fake.embedding_requests] == [OPENAI_MODEL, "text-embedding-3-large"]
    assert small.shape == (1, 1536) and large.shape == (1, 3072)


# --- a whole ingestion through the driver ------------------------------------------------------------


def _all_bytes_under(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_ingest_files_with_openai_end_to_end(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = {
        "source": "files",
        "embedding_service": "openai",
        "openai_base_url": openai_fake.base_url,
        "data_dir": str(data_dir),
        "index_name": "hosted",
    }
    files = [
        InputFile(name="cats.txt", data=b"Cats purr and sleep in the sun. A cat chases mice at night.\n" * 3),
        InputFile(name="rockets.txt", data="Rockets burn fuel to reach orbit. Engines roar — «lift-off» ✓.\n".encode() * 3),
    ]
    api_keys = {"openai_api_key": openai_fake.api_key}

    record = workbench.ingest(config, files=files, api_keys=api_keys)

    assert record["status"] == "succeeded", record.get("error")
    counts = record["counts"]
    assert counts["read"] == 2 and counts["failed"] == 0
    assert counts["chunked"] >= 2 and counts["written"] == counts["chunked"] == counts["embedded_by_model"]
    assert sum(len(r.body["input"]) for r in openai_fake.embedding_requests) == counts["chunked"]
    manifest = workbench.index_manifest(config)
    assert (manifest["embedding_service"], manifest["model_name"], manifest["dimension"]) == ("openai", OPENAI_MODEL, 1536)
    assert manifest["chunk_count"] == counts["written"]

    result = workbench.search(config, "Which animal purrs in the sun?", top_k=1, api_keys=api_keys)
    assert result["hits"][0]["source_name"] == "cats.txt"
    assert openai_fake.embedding_requests[-1].body["input"] == ["Which animal purrs in the sun?"]

    key = openai_fake.api_key
    assert key not in json.dumps(record, default=str)
    for run in workbench.runs(str(data_dir)):
        assert key not in json.dumps(run, default=str)
    files_on_disk = _all_bytes_under(data_dir)
    assert any(path.name == "embedding_cache.sqlite" for path in files_on_disk)
    leaked = [path for path, data in files_on_disk.items() if key.encode() in data]
    assert leaked == []


def test_ingest_without_a_key_stops_before_any_request(
    openai_fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "no-secrets.toml"))
    config = {"source": "files", "embedding_service": "openai", "openai_base_url": openai_fake.base_url,
              "data_dir": str(tmp_path / "data"), "index_name": "hosted"}
    with pytest.raises(MissingApiKeyError, match="OPENAI_API_KEY"):
        workbench.ingest(config, files=[InputFile(name="a.txt", data=b"Some text to embed.")], api_keys={})
    assert openai_fake.requests == []


# --- the real services, only with real keys --------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="OPENAI_API_KEY not set: no real OpenAI to test against")
def test_real_openai_embeds_two_texts(tmp_path: Path) -> None:
    vectors = embed("openai", None, tmp_path, TEXTS[:2])
    assert vectors.shape == (2, 1536)
    assert_unit_rows(vectors)


@pytest.mark.skipif(not os.environ.get("COHERE_API_KEY"), reason="COHERE_API_KEY not set: no real Cohere to test against")
def test_real_cohere_embeds_two_texts(tmp_path: Path) -> None:
    vectors = embed("cohere", None, tmp_path, TEXTS[:2])
    assert vectors.shape == (2, 1024)
    assert_unit_rows(vectors)
