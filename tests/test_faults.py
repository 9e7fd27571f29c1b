"""Faults: a killed run, a store that goes away mid-run, embedding API storms, two sessions writing one
table at once, and wrong settings refused before any work.

The embedded default runs for real (all-MiniLM-L6-v2, LanceDB on disk); hosted services are the local
fakes of tests/fakes/, driven through their official client libraries, whose request logs show what
was (not) called. Every test checks what the store really holds against what the run records claim.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import weaviate.retry

from dataflows.embedders.openai import API_MAX_RETRIES
from dataflows.stores import lancedb as lancedb_store
from ragkit.errors import IndexMismatchError, MissingApiKeyError, ServiceError, StoreUnavailableError
from ragkit.schema import InputFile, Progress
from tests.conftest import REPO, SQUAD_SAMPLE, free_port
from tests.fakes import fixtures
from tests.fakes.cohere_fake import FakeCohere
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.pinecone_fake import PineconeFake
from tests.fakes.weaviate_fake import FakeWeaviate
from workbench import api
from workbench.catalog import Catalog

ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false"}
TOPICS = ["owls", "volcanoes", "lighthouses", "glaciers", "bees", "comets", "rivers", "deserts", "coral", "tides"]


# --- helpers ---------------------------------------------------------------------------------------


def _squad(data_dir: Path, **settings: Any) -> dict:
    return {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(data_dir), "index_name": "squad", **settings}


def _text(topic: str, variant: str = "") -> str:
    return (f"This note is about {topic}{variant}. It says three things about {topic}. "
            f"First, {topic} are worth a look. Second, people write about {topic} often.")


def _files(names: list[str]) -> list[InputFile]:
    return [InputFile(f"{name}.txt", data=_text(name).encode()) for name in names]


def _lance_table(config: dict):
    resolved = api.resolve_config(config)
    client = lancedb_store.store_client(resolved["vector_db_config"])
    return lancedb_store.existing_index(client, resolved["index_name"])


def _lance_ids(config: dict) -> list[str]:
    """Every stored chunk id, duplicates kept."""
    return _lance_table(config).to_arrow()["chunk_id"].to_pylist()


def _expected_ids(config: dict, files: list[InputFile] | None = None) -> set[str]:
    chunks, _ = api.preview_chunks(config, files=files)
    return {chunk.chunk_id for chunk in chunks}


def _only_run(config: dict) -> dict:
    (record,) = api.runs(config["data_dir"])
    return record


def _manifest_count(config: dict) -> int:
    manifests = api.indexes(config["data_dir"])
    return manifests[0]["chunk_count"] if manifests else 0


def _cached_vectors(data_dir: str) -> int:
    path = Path(data_dir) / "embedding_cache.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]


def _on_batch(number: int, action) -> Progress:
    """A progress callback that runs `action` once, when `number` batches are finished and recorded."""
    done: list[bool] = []

    def callback(step: str, finished: int, total: int) -> None:
        if step == "batches" and finished == number and not done:
            done.append(True)
            action()

    return Progress(callback)


def _assert_stops_with(error: BaseException, record: dict, *words: str, batches: str, written: int) -> None:
    """One clear message naming the store or service and what the run got done; the run record says the same."""
    message = str(error)
    assert "\n" not in message and "Traceback" not in message
    for word in words:
        assert word in message, message
    assert f"finished {batches} batches ({written} chunk{'' if written == 1 else 's'} written)" in message, message
    assert record["status"] == "failed" and record["error"] == message
    assert record["counts"].get("written", 0) == written


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the OpenAI and Cohere SDKs ask `time.sleep` for; they do not actually sleep (anyone else does)."""
    sleeps: list[float] = []
    real_sleep = time.sleep

    def record(seconds: float) -> None:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.split(".")[0] in ("openai", "cohere"):
            sleeps.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", record)
    return sleeps


@pytest.fixture
def weaviate_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits of the Weaviate client's retry loop (on gRPC UNAVAILABLE: 1, 2, 4 ... 32 s); nothing actually waits."""
    waits: list[float] = []
    monkeypatch.setattr(weaviate.retry, "time", SimpleNamespace(sleep=waits.append))
    return waits


# The fakes, one fresh server per test (tests/fakes/fixtures.py).
openai_fake = fixtures.openai_fake
cohere_fake = fixtures.cohere_fake
pinecone_fake = fixtures.pinecone_fake
weaviate_fake = fixtures.weaviate_fake


# --- the process is killed mid-ingestion ---------------------------------------------------------------


@pytest.mark.slow  # a second Python process loads the model (~10 s on an idle 2-core machine)
def test_a_run_killed_from_outside_after_a_finished_batch_resumes_to_exactly_the_expected_chunks(tmp_path):
    """SIGKILL from another process as soon as the catalog shows a finished batch: no cleanup code runs."""
    config = _squad(tmp_path / "data", ingest_batch_documents=2, limit=12)  # 12 paragraphs: 6 batches
    script = "import json, sys\nfrom workbench import api\napi.ingest(json.loads(sys.argv[1]))\n"
    process = subprocess.Popen([sys.executable, "-c", script, json.dumps(config)], cwd=REPO, env=ENVIRONMENT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    catalog_path = tmp_path / "data" / "catalog.sqlite"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if catalog_path.exists():
                with sqlite3.connect(catalog_path, timeout=30) as connection:
                    try:
                        finished = connection.execute("SELECT COUNT(*) FROM run_batches").fetchone()[0]
                    except sqlite3.OperationalError:  # the schema is being created
                        finished = 0
                if finished >= 1:
                    os.kill(process.pid, signal.SIGKILL)
                    break
            time.sleep(0.01)
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
        stderr = process.communicate(timeout=60)[1].decode(errors="replace")
    assert process.returncode == -signal.SIGKILL, stderr[-2000:]

    first = _only_run(config)
    assert first["status"] == "interrupted"  # 'running' in the file, but its process is gone
    finished = Catalog(config["data_dir"]).run_batches(first["run_id"])
    assert 1 <= len(finished) < 6, "the kill came after the last batch: nothing was interrupted"
    assert [b["batch_number"] for b in finished] == list(range(len(finished)))  # the synchronous executor goes in order
    assert first["counts"]["written"] == sum(b["counts"]["written"] for b in finished) > 0

    expected = _expected_ids(config)
    stored = _lance_ids(config)
    assert len(stored) == len(set(stored)) and set(stored) <= expected  # nothing torn or doubled
    # Everything the record claims is in the store: the chunks of the finished batches' paragraphs.
    assert _expected_ids({**config, "limit": 2 * len(finished)}) <= set(stored)
    assert len(stored) >= first["counts"]["written"] and _manifest_count(config) <= len(stored)

    resumed = api.ingest(config)
    final = _lance_ids(config)
    assert resumed["status"] == "succeeded"
    assert len(final) == len(set(final)) and set(final) == expected
    assert resumed["counts"]["skipped_unchanged"] == len(stored)  # what was written is not redone
    assert resumed["counts"]["written"] == len(expected) - len(stored)
    assert _manifest_count(config) == len(expected)
    assert [r["status"] for r in api.runs(config["data_dir"])] == ["succeeded", "interrupted"]


# --- the vector store goes away mid-run ------------------------------------------------------------------


def _freeze(folder: Path) -> list[Path]:
    """Make a folder tree read-only for this process (chmod; as root, which chmod does not stop, the immutable flag)."""
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    for path in folders:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
        else:
            path.chmod(0o555)
    return folders


def _thaw(folders: list[Path]) -> None:
    for path in folders:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
        else:
            path.chmod(0o755)


def _can_freeze(tmp_path: Path) -> bool:
    probe = tmp_path / "freeze-probe"
    probe.mkdir()
    try:
        frozen = _freeze(probe)
    except (OSError, subprocess.CalledProcessError):
        return False
    try:
        (probe / "x").touch()
        return False
    except OSError:
        return True
    finally:
        _thaw(frozen)


def test_lancedb_folder_made_read_only_mid_run_stops_with_a_clear_error_and_claims_only_what_is_stored(tmp_path):
    if not _can_freeze(tmp_path):
        pytest.skip("cannot make a folder read-only here (neither chmod nor chattr +i stops this user)")
    config = _squad(tmp_path / "data", ingest_batch_documents=6)  # 5 batches
    lance_folder = tmp_path / "data" / "lancedb"
    frozen: list[Path] = []
    try:
        with pytest.raises(StoreUnavailableError) as raised:
            api.ingest(config, progress=_on_batch(2, lambda: frozen.extend(_freeze(lance_folder))))
        record = _only_run(config)
        stored = _lance_ids(config)  # reads still work
        _assert_stops_with(raised.value, record, "LanceDB", "'squad'", str(lance_folder), batches="2 of 5",
                           written=len(stored))
        assert len(stored) == len(set(stored)) and len(stored) == record["counts"]["written"]
        assert _manifest_count(config) <= len(stored)
    finally:
        _thaw(frozen)
    resumed = api.ingest(config)
    final = _lance_ids(config)
    assert resumed["status"] == "succeeded" and len(final) == len(set(final)) and set(final) == _expected_ids(config)


def test_lancedb_folder_removed_mid_run_stops_with_a_clear_error_and_a_rerun_rebuilds(tmp_path):
    config = _squad(tmp_path / "data", ingest_batch_documents=6)
    lance_folder = tmp_path / "data" / "lancedb"
    with pytest.raises(StoreUnavailableError) as raised:
        api.ingest(config, progress=_on_batch(1, lambda: shutil.rmtree(lance_folder)))
    record = _only_run(config)
    _assert_stops_with(raised.value, record, "LanceDB", "'squad'", str(lance_folder), "no longer exists", batches="1 of 5",
                       written=record["counts"]["written"])
    assert record["counts"]["written"] > 0  # the record keeps what the run did before the folder vanished ...
    assert _manifest_count(config) == 0  # ... but the index's manifest claims no chunks it cannot show

    resumed = api.ingest(config)
    final = _lance_ids(config)
    assert resumed["status"] == "succeeded" and len(final) == len(set(final)) and set(final) == _expected_ids(config)
    assert _manifest_count(config) == len(final)


WEAVIATE_FILES = _files(TOPICS[:6])  # batches of 2: 3 batches


@pytest.mark.parametrize("fault", ["503 on every call", "503 on writes", "connections dropped"])
def test_weaviate_going_away_mid_run_stops_with_a_clear_error_and_claims_only_what_is_stored(
    tmp_path, weaviate_fake: FakeWeaviate, weaviate_backoff: list[float], fault: str
):
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "faults", "ingest_batch_documents": 2,
              "vector_db": "weaviate", "vector_db_config": {"url": weaviate_fake.url, "grpc_port": weaviate_fake.grpc_port}}
    action = {
        "503 on every call": weaviate_fake.fail_grpc,
        "503 on writes": lambda: weaviate_fake.fail_grpc(methods=("BatchObjects",)),
        "connections dropped": weaviate_fake.stop,
    }[fault]
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as raised:
        api.ingest(config, files=WEAVIATE_FILES, progress=_on_batch(1, action))
    assert time.monotonic() - started < 60
    assert len(weaviate_backoff) <= 6 and sum(weaviate_backoff) <= 63  # the client's retries are bounded
    record = _only_run(config)
    stored = {obj["properties"]["chunk_id"] for obj in weaviate_fake.objects["Faults"].values()}
    _assert_stops_with(raised.value, record, "Weaviate", "Faults", batches="1 of 3", written=len(stored))
    assert stored == _expected_ids(config, files=WEAVIATE_FILES[:2])  # the first batch, whole; nothing of the rest
    assert _manifest_count(config) <= len(stored)
    assert weaviate_fake.unknown == []


PINECONE_FILES = _files(TOPICS[:6])


@pytest.mark.parametrize("fault", ["503 on every call", "503 on writes", "connections dropped"])
def test_pinecone_going_away_mid_run_stops_with_a_clear_error_and_claims_only_what_is_stored(
    tmp_path, pinecone_fake: PineconeFake, fault: str
):
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "faults", "ingest_batch_documents": 2,
              "vector_db": "pinecone", "vector_db_config": {"host": pinecone_fake.url, "namespace": "ns"}}
    action = {
        "503 on every call": lambda: pinecone_fake.fail(503, times=None),
        "503 on writes": lambda: pinecone_fake.fail(503, times=None, path="/vectors/upsert"),
        "connections dropped": lambda: pinecone_fake.drop(times=None),
    }[fault]
    with pytest.raises(StoreUnavailableError) as raised:
        api.ingest(config, files=PINECONE_FILES, api_keys={"pinecone_api_key": pinecone_fake.api_key},
                      progress=_on_batch(1, action))
    record = _only_run(config)
    stored = set(pinecone_fake.vectors("faults", "ns"))
    _assert_stops_with(raised.value, record, "Pinecone", batches="1 of 3", written=len(stored))
    assert ("503" in str(raised.value)) == fault.startswith("503")
    assert ("write" in str(raised.value)) == (fault == "503 on writes")
    assert stored == _expected_ids(config, files=PINECONE_FILES[:2])
    assert _manifest_count(config) <= len(stored)


# --- embedding API storms -------------------------------------------------------------------------------


STORM_FILES = _files(TOPICS[:3])  # one file per batch: one embedding request per batch


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("service", ["openai", "cohere"])
def test_an_embedding_storm_mid_run_retries_as_told_then_fails_without_claiming_the_batch_and_a_rerun_completes(
    tmp_path, openai_fake: FakeOpenAI, cohere_fake: FakeCohere, recorded_sleeps: list[float], service: str, status: int
):
    fake = openai_fake if service == "openai" else cohere_fake
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "storm", "ingest_batch_documents": 1,
              "embedding_service": service, f"{service}_base_url": fake.base_url}
    api_keys = {f"{service}_api_key": fake.api_key}
    requests = (lambda: openai_fake.embedding_requests) if service == "openai" else (lambda: cohere_fake.embed_requests)
    texts = (lambda r: r.body["input"]) if service == "openai" else (lambda r: r.body["texts"])
    fake.fail_next(None, status, retry_after="3", after=1)  # the first batch is embedded, then the storm

    with pytest.raises(ServiceError) as raised:
        api.ingest(config, files=STORM_FILES, api_keys=api_keys)

    assert len(requests()) == 1 + 1 + API_MAX_RETRIES  # bounded retries of the second batch
    assert recorded_sleeps == [3.0] * API_MAX_RETRIES  # Retry-After honoured before each retry
    record = _only_run(config)
    first_batch = _expected_ids(config, files=STORM_FILES[:1])
    name = "OpenAI" if service == "openai" else "Cohere"
    _assert_stops_with(raised.value, record, name, str(status), batches="1 of 3", written=len(first_batch))
    assert fake.api_key not in str(raised.value)
    assert [b["batch_number"] for b in Catalog(config["data_dir"]).run_batches(record["run_id"])] == [0]
    assert set(_lance_ids(config)) == first_batch  # nothing of the failed batch is in the store ...
    assert _cached_vectors(config["data_dir"]) == len(first_batch)  # ... or in the embedding cache
    assert _manifest_count(config) == len(first_batch)  # the manifest counts what is stored

    fake.clear_failures()
    sent_before = len(requests())
    resumed = api.ingest(config, files=STORM_FILES, api_keys=api_keys)
    final = _lance_ids(config)
    assert resumed["status"] == "succeeded"
    assert len(final) == len(set(final)) and set(final) == _expected_ids(config, files=STORM_FILES)
    resent = Counter(text for request in requests()[sent_before:] for text in texts(request))
    assert all(count == 1 for count in resent.values())
    # only the batches that had failed or not run (each chunk embedded with its contextual header, the document title)
    assert set(resent) == {f"{topic}\n\n{_text(topic)}" for topic in TOPICS[1:3]}
    assert resumed["counts"]["skipped_unchanged"] == len(first_batch)


# --- two sessions ingest into the same LanceDB table at once ----------------------------------------------


_SESSION = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from workbench import api
    from ragkit.local_models import load_sentence_transformer
    from ragkit.schema import InputFile

    config, ready, go = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    load_sentence_transformer("all-MiniLM-L6-v2")  # the slow part, before the start line
    ready.touch()
    while not go.exists():
        time.sleep(0.01)
    print(json.dumps(api.ingest(config)))
    """
)


@pytest.mark.slow  # two more Python processes load the model
def test_two_sessions_ingesting_into_one_lancedb_table_at_once_store_the_union_without_duplicates(tmp_path):
    """Without the store's write lock, LanceDB keeps both rows when two merge inserts add the same chunk at once."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shared, only_a, only_b = TOPICS[:4], TOPICS[4:6], TOPICS[6:8]
    everything = shared + only_a + only_b
    for name in everything:
        (folder / f"{name}.txt").write_text(_text(name, " and their habits"))
    data_dir = tmp_path / "data"
    configs = {
        session: {"source": "files", "data_dir": str(data_dir), "index_name": "shared", "ingest_batch_documents": 1,
                  "file_paths": [str(folder / f"{name}.txt") for name in names]}
        for session, names in (("a", shared + only_a), ("b", list(reversed(shared)) + only_b))
    }
    go = tmp_path / "go"
    sessions = {
        session: subprocess.Popen(
            [sys.executable, "-c", _SESSION, json.dumps(config), str(tmp_path / f"ready-{session}"), str(go)],
            cwd=REPO, env=ENVIRONMENT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for session, config in configs.items()
    }
    deadline = time.monotonic() + 240
    while not all((tmp_path / f"ready-{s}").exists() for s in sessions) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in sessions.values()), [p.communicate()[1][-2000:] for p in sessions.values()]
        time.sleep(0.05)
    go.touch()  # both start writing at the same moment, one document per batch
    outputs = {session: process.communicate(timeout=300) for session, process in sessions.items()}
    for session, process in sessions.items():
        assert process.returncode == 0, outputs[session][1][-3000:]
    records = {session: json.loads(outputs[session][0].strip().splitlines()[-1]) for session in sessions}
    assert all(record["status"] == "succeeded" for record in records.values())

    union = {"source": "files", "data_dir": str(data_dir), "index_name": "shared",
             "file_paths": [str(folder / f"{name}.txt") for name in everything]}
    stored = _lance_ids(union)
    duplicated = sorted(chunk_id for chunk_id, count in Counter(stored).items() if count > 1)
    assert duplicated == [] and set(stored) == _expected_ids(union)
    table = _lance_table(union)
    assert table.count_rows() == len(stored) and table.to_arrow().num_rows == len(stored)  # every fragment readable
    hits = api.search(union, "Which note is about glaciers?", top_k=1)["hits"]
    assert hits[0]["source_name"] == "glaciers.txt"
    assert {r["status"] for r in api.runs(str(data_dir))} == {"succeeded"}
    assert _manifest_count(union) == len(stored)


_OPEN_CATALOG = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from workbench.catalog import Catalog
    go = Path(sys.argv[2])
    while not go.exists():
        pass
    for folder in range(20):  # twenty fresh catalogs, each opened by every process at about the same moment
        Catalog(Path(sys.argv[1]) / str(folder)).start_run(sys.argv[3], "ingest", "k", {}, {}, "")
""")


def test_many_processes_opening_a_new_catalog_at_the_same_moment_all_get_in(tmp_path):
    """SQLite does not wait for a lock on a journal-mode change; the catalog must (CI saw "database is locked")."""
    data_dir, go = tmp_path / "data", tmp_path / "go"
    processes = [
        subprocess.Popen([sys.executable, "-c", _OPEN_CATALOG, str(data_dir), str(go), f"run-{n}"],
                         cwd=REPO, env=ENVIRONMENT, stderr=subprocess.PIPE, text=True)
        for n in range(8)
    ]
    time.sleep(2)  # every process imported and waiting
    go.touch()
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 8, [e[-800:] for e in errors if e]
    for folder in range(20):
        assert sorted(run["run_id"] for run in Catalog(data_dir / str(folder)).runs()) == [f"run-{n}" for n in range(8)]


def test_many_processes_opening_an_older_catalog_at_once_all_get_in_and_it_gains_the_new_columns(tmp_path):
    """An older catalog gains its new columns on open; processes adding one at the same moment must not fail."""
    data_dir, go = tmp_path / "data", tmp_path / "go"
    for folder in range(20):
        Catalog(data_dir / str(folder))
        with sqlite3.connect(data_dir / str(folder) / "catalog.sqlite") as connection:
            connection.execute("ALTER TABLE runs DROP COLUMN resources_json")  # as a catalog from before it was added
    processes = [
        subprocess.Popen([sys.executable, "-c", _OPEN_CATALOG, str(data_dir), str(go), f"run-{n}"],
                         cwd=REPO, env=ENVIRONMENT, stderr=subprocess.PIPE, text=True)
        for n in range(8)
    ]
    time.sleep(2)
    go.touch()
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 8, [e[-800:] for e in errors if e]
    for folder in range(20):
        with sqlite3.connect(data_dir / str(folder) / "catalog.sqlite") as connection:
            assert "resources_json" in {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
        assert len(Catalog(data_dir / str(folder)).runs()) == 8


# --- wrong settings are refused before any work --------------------------------------------------------------


def _no_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OPENAI_API_KEY", "COHERE_API_KEY", "PINECONE_API_KEY", "WEAVIATE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", str(tmp_path / "no-secrets.toml"))


def _assert_one_clear_message(error: BaseException, *words: str) -> None:
    message = str(error)
    assert "\n" not in message and "Traceback" not in message and "Before it stopped" not in message
    for word in words:
        assert word in message, message


def test_another_model_on_an_existing_hosted_index_is_refused_before_any_request(tmp_path, openai_fake: FakeOpenAI):
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "hosted", "embedding_service": "openai",
              "openai_base_url": openai_fake.base_url}
    keys = {"openai_api_key": openai_fake.api_key}
    api.ingest(config, files=_files(TOPICS[:1]), api_keys=keys)
    version, sent, runs = _lance_table(config).version, len(openai_fake.requests), len(api.runs(config["data_dir"]))
    with pytest.raises(IndexMismatchError) as raised:
        api.ingest({**config, "model_name": "text-embedding-3-large"}, files=_files(TOPICS[1:2]), api_keys=keys)
    _assert_one_clear_message(raised.value, "'hosted'", "text-embedding-3-small", "text-embedding-3-large")
    assert len(openai_fake.requests) == sent and _lance_table(config).version == version
    assert len(api.runs(config["data_dir"])) == runs


def test_a_lancedb_table_of_another_dimension_is_refused_before_any_request_or_write(tmp_path, openai_fake: FakeOpenAI):
    """The table exists (384 wide) but this data folder has no manifest for it: the store's own check catches it."""
    lance_folder = tmp_path / "lancedb"
    table = lancedb_store.vector_index(lancedb_store.store_client({"uri": str(lance_folder)}), "docs", 384)
    version = table.version
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "docs", "embedding_service": "openai",
              "openai_base_url": openai_fake.base_url, "vector_db_config": {"uri": str(lance_folder)}}
    with pytest.raises(IndexMismatchError) as raised:
        api.ingest(config, files=_files(TOPICS[:2]), api_keys={"openai_api_key": openai_fake.api_key})
    _assert_one_clear_message(raised.value, "'docs'", "384", "1536")
    assert openai_fake.requests == []  # the dimension came from the model's documented width, not a request
    assert _lance_table(config).version == version and _lance_table(config).count_rows() == 0
    assert _only_run(config)["counts"] == {} and api.indexes(config["data_dir"]) == []


def test_a_pinecone_index_of_another_dimension_is_refused_before_any_request_or_write(
    tmp_path, openai_fake: FakeOpenAI, pinecone_fake: PineconeFake
):
    pinecone_fake.add_index("docs", dimension=16)
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "docs", "embedding_service": "openai",
              "openai_base_url": openai_fake.base_url, "vector_db": "pinecone",
              "vector_db_config": {"host": pinecone_fake.url, "namespace": "ns"}}
    keys = {"openai_api_key": openai_fake.api_key, "pinecone_api_key": pinecone_fake.api_key}
    with pytest.raises(IndexMismatchError) as raised:
        api.ingest(config, files=_files(TOPICS[:2]), api_keys=keys)
    _assert_one_clear_message(raised.value, "16-dimensional", "1536")
    assert openai_fake.requests == []
    assert pinecone_fake.count("POST", "/vectors/upsert") == 0 and pinecone_fake.count("POST", "/indexes") == 0


@pytest.mark.parametrize("missing", ["cohere", "pinecone"])
def test_a_missing_api_key_is_refused_before_any_request(
    tmp_path, monkeypatch, cohere_fake: FakeCohere, pinecone_fake: PineconeFake, missing: str
):
    _no_secrets(monkeypatch, tmp_path)
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "docs", "embedding_service": "cohere",
              "cohere_base_url": cohere_fake.base_url, "vector_db": "pinecone",
              "vector_db_config": {"host": pinecone_fake.url, "namespace": "ns"}}
    keys = {"cohere_api_key": cohere_fake.api_key, "pinecone_api_key": pinecone_fake.api_key}
    keys.pop(f"{missing}_api_key")
    with pytest.raises(MissingApiKeyError) as raised:
        api.ingest(config, files=_files(TOPICS[:2]), api_keys=keys)
    _assert_one_clear_message(raised.value, f"{missing.upper()}_API_KEY")
    assert cohere_fake.requests == [] and pinecone_fake.requests == []
    assert api.runs(config["data_dir"]) == []  # refused before a run even started


def test_a_weaviate_url_that_refuses_connections_is_refused_before_any_model_call(tmp_path, openai_fake: FakeOpenAI):
    url = f"http://127.0.0.1:{free_port()}"
    config = {"source": "files", "data_dir": str(tmp_path / "data"), "index_name": "docs", "embedding_service": "openai",
              "openai_base_url": openai_fake.base_url, "vector_db": "weaviate",
              "vector_db_config": {"url": url, "grpc_port": free_port()}}
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as raised:
        api.ingest(config, files=_files(TOPICS[:2]), api_keys={"openai_api_key": openai_fake.api_key})
    assert time.monotonic() - started < 10
    _assert_one_clear_message(raised.value, "Weaviate", url, "not reachable")
    assert openai_fake.requests == []
    assert _only_run(config)["counts"] == {} and api.indexes(config["data_dir"]) == []


def test_a_lancedb_commit_conflict_is_retried_at_the_latest_version(tmp_path):
    """What another process's compaction or index build can cause mid-write: the write is retried, a few times at most."""
    table = lancedb_store.vector_index(lancedb_store.store_client({"uri": str(tmp_path / "lancedb")}), "docs", 4)
    attempts: list[int] = []

    def flaky_write() -> str:
        attempts.append(table.version)
        if len(attempts) < 3:
            raise RuntimeError("lance error: Retryable commit conflict for version 2: This CreateIndex transaction was preempted")
        return "written"

    assert lancedb_store._committed(table, flaky_write) == "written" and len(attempts) == 3

    def always_conflicting() -> None:
        attempts.append(table.version)
        raise RuntimeError("lance error: Commit conflict for version 2")

    attempts.clear()
    with pytest.raises(RuntimeError, match="conflict"):
        lancedb_store._committed(table, always_conflicting)
    assert len(attempts) == 1 + lancedb_store._COMMIT_RETRIES

    def disk_full() -> None:
        attempts.append(table.version)
        raise OSError(28, "No space left on device")

    attempts.clear()
    with pytest.raises(OSError, match="No space"):  # anything but a conflict is not retried
        lancedb_store._committed(table, disk_full)
    assert len(attempts) == 1


# --- a full disk, a conflicting upkeep, a damaged index: the records say what is stored ----------------------


def _table_rows(config: dict) -> list[dict]:
    return _lance_table(config).to_arrow().drop_columns(["vector"]).to_pylist()


def test_a_disk_that_fills_mid_run_fails_the_run_with_counts_and_manifest_equal_to_what_is_stored(tmp_path, monkeypatch):
    import errno

    from lancedb.table import LanceTable  # every new row is written by an add

    from ragkit.errors import DiskFullError

    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "full", "ingest_batch_documents": 3,
              "upsert_batch_size": 2, "chunk_size": 60, "chunk_overlap": 0}
    files = _files(TOPICS)
    real_add = LanceTable.add
    rows_until_full = [7]

    def filling_disk(self, new_data, *args, **kwargs):
        if rows_until_full[0] < new_data.num_rows:
            raise OSError(errno.ENOSPC, "No space left on device")
        rows_until_full[0] -= new_data.num_rows
        return real_add(self, new_data, *args, **kwargs)

    monkeypatch.setattr(LanceTable, "add", filling_disk)
    with pytest.raises(DiskFullError) as raised:
        api.ingest(config, files=files)
    message = str(raised.value)
    assert "The disk is full" in message and "Free some space" in message and "\n" not in message
    record = _only_run(config)
    stored = _table_rows(config)
    assert record["status"] == "failed" and 0 < len(stored) < len(_expected_ids(config, files))
    assert record["counts"]["written"] == len(stored) == sum(row["run_id"] == record["run_id"] for row in stored)
    assert f"({len(stored)} chunks written)" in message and _manifest_count(config) == len(stored)

    monkeypatch.setattr(LanceTable, "add", real_add)  # space freed: the re-run is exact
    again = api.ingest(config, files=files)
    ids = _lance_ids(config)
    assert again["status"] == "succeeded" and len(ids) == len(set(ids)) and set(ids) == _expected_ids(config, files)
    assert again["counts"]["written"] == len(ids) - len(stored) and _manifest_count(config) == len(ids)


def test_any_failure_after_some_writes_ends_failed_with_the_stored_count(tmp_path, monkeypatch):
    """Not only a full disk: an error of any type half-way through a batch's writes leaves an exact record too."""
    from lancedb.table import LanceTable  # every new row is written by an add

    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "bug", "ingest_batch_documents": 3,
              "upsert_batch_size": 2, "chunk_size": 60, "chunk_overlap": 0}
    real_add = LanceTable.add
    calls: list[int] = []

    def breaking(self, new_data, *args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyError("a bug in the middle of a batch")
        return real_add(self, new_data, *args, **kwargs)

    monkeypatch.setattr(LanceTable, "add", breaking)
    with pytest.raises(KeyError):
        api.ingest(config, files=_files(TOPICS))
    record = _only_run(config)
    stored = _table_rows(config)
    assert record["status"] == "failed" and "KeyError" in record["error"]
    assert record["counts"]["written"] == len(stored) > 0 and _manifest_count(config) == len(stored)


def test_an_upkeep_commit_conflict_wrapped_in_another_error_is_retried_and_the_run_succeeds(tmp_path, monkeypatch):
    """A query used to rebuild the full-text index outside the write lock; its conflict, re-wrapped, was never retried."""
    from lancedb.table import LanceTable

    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "conflict"}
    real_create_index = LanceTable.create_index
    conflicts = []

    def conflicting_once(self, column, *args, **kwargs):
        if column in ("text", "indexed_text") and not conflicts:  # the full-text index's column
            conflicts.append(1)
            raise RuntimeError("lance error: Retryable commit conflict for version 3: preempted by CreateIndex")
        return real_create_index(self, column, *args, **kwargs)

    monkeypatch.setattr(LanceTable, "create_index", conflicting_once)
    record = api.ingest(config, files=_files(TOPICS[:3]))
    assert conflicts and record["status"] == "succeeded"
    assert _manifest_count(config) == len(_lance_ids(config)) == record["counts"]["written"]
    assert api.index_state(config)["fts_index"] is True


def test_a_query_never_writes_to_the_index(tmp_path):
    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "readonly", "fts_at_ingest": False}
    api.ingest(config, files=_files(TOPICS[:3]))
    version = _lance_table(config).version
    from ragkit.errors import IndexNotFoundError

    with pytest.raises(IndexNotFoundError, match="no full-text index.*repair --index readonly --rebuild-fts"):
        api.search({**config, "retrieval_mode": "lexical"}, "owls")
    assert api.search(config, "owls")["hits"]  # dense needs no index upkeep
    assert _lance_table(config).version == version
    api.repair(config, rebuild_fts=True)
    assert api.search({**config, "retrieval_mode": "hybrid"}, "owls")["hits"][0]["source_name"] == "owls.txt"


def test_check_and_repair_find_a_stale_manifest_and_a_missing_full_text_index_and_fix_them(tmp_path):
    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "checked", "fts_at_ingest": False}
    api.ingest(config, files=_files(TOPICS[:4]))
    key = api.indexes(config["data_dir"])[0]["index_key"]
    with sqlite3.connect(tmp_path / "catalog.sqlite") as connection:
        connection.execute("UPDATE manifests SET chunk_count = 99 WHERE index_key = ?", (key,))
    report = api.check_index(config)
    assert not report["ok"] and report["stored"] == len(_lance_ids(config))
    assert any("manifest says 99 chunks" in problem for problem in report["problems"])
    assert any("no full-text index" in problem for problem in report["problems"])
    repaired = api.repair(config, rebuild_fts=True)
    assert repaired["ok"] and _manifest_count(config) == len(_lance_ids(config)) and repaired["done"]


def test_a_lancedb_table_with_a_deleted_data_file_is_named_with_the_remedy_and_rebuilt_from_the_sources(tmp_path):
    config = {"source": "files", "data_dir": str(tmp_path), "index_name": "damaged", "ingest_batch_documents": 2}
    files = _files(TOPICS[:4])
    api.ingest(config, files=files)
    data_files = sorted((tmp_path / "lancedb" / "damaged.lance" / "data").glob("*.lance"))
    assert len(data_files) >= 2
    data_files[0].unlink()
    report = api.check_index(config)
    (problem,) = report["problems"]
    assert not report["ok"] and str(data_files[0]) in problem and "repair --index damaged --from-sources" in problem
    result = subprocess.run([sys.executable, "-m", "workbench", "check", "--index", "damaged", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, env=ENVIRONMENT, cwd=REPO, timeout=300)
    assert result.returncode == 3 and "Traceback" not in result.stderr and data_files[0].name in result.stdout
    repaired = api.repair(config, from_sources=True, files=files)
    ids = _lance_ids(config)
    assert repaired["ok"] and len(ids) == len(set(ids)) and set(ids) == _expected_ids(config, files)
