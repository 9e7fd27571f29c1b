"""The second hostile round (issue 14): each class closed by one mechanism, with a case the first round did not try.

- `ragkit.failures.expected_failure`, at every entry point's boundary: a full disk (SQLite's "disk I/O error" on a
  full tmpfs too), a file that may not be written, damaged LanceDB files, input nested too deeply, a number too large;
- `ragkit.user_files`: every file a user names (--config, --history, a SQuAD file, secrets.toml, a price table) is
  checked to be a regular file before it is opened, as input documents were;
- `resolve_config` bounds every number; `search`/`answer` bound top_k;
- the catalog's JSON cells, the SQuAD answers and the embedding cache's file are checked where they are read.

The CLI runs in this process (`workbench.cli.run`), so the model loads once.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import sqlite3
import threading

import numpy as np
import pytest

from ragkit.embedding_cache import EmbeddingCache
from ragkit.errors import ConfigError, DiskFullError, IndexDamagedError, WorkbenchError
from ragkit.failures import expected_failure
from tests.conftest import SQUAD_SAMPLE
from workbench import api, cli


def _run(capsys: pytest.CaptureFixture, *args: str, timeout: float = 60) -> tuple[int, str]:
    """The CLI's exit code and stderr; fails (instead of hanging the suite) if it has not returned within `timeout`."""
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(cli.run(list(args))), daemon=True)
    worker.start()
    worker.join(timeout)
    assert result, f"the command hung: {args}"
    return result[0], capsys.readouterr().err


def _assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and "This is a bug" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert all(word in err for word in words), err


@pytest.mark.parametrize("raised, kind, words", [
    (RuntimeError("write failed"), None, ()),
    (sqlite3.OperationalError("disk I/O error"), DiskFullError, ("disk is full",)),
    (OSError(errno.ENOSPC, "No space left on device"), DiskFullError, ("Free some space",)),
    (sqlite3.OperationalError("attempt to write a readonly database"), WorkbenchError, ("writable",)),
    (PermissionError(errno.EACCES, "Permission denied"), WorkbenchError, ("writable",)),
    (RuntimeError("lance error: LanceError(IO): failed to fill whole buffer"), IndexDamagedError, ("check", "repair")),
    (RecursionError("maximum recursion depth exceeded while decoding a JSON array"), ConfigError, ("nested too deeply",)),
    (OverflowError("Python int too large to convert to C long"), ConfigError, ("too large",)),
])
def test_failures_of_the_machine_and_of_damaged_state_are_told_apart_from_bugs(raised, kind, words):
    try:
        try:
            raise raised
        except Exception as inner:
            raise ValueError("a library's wrapper") from inner
    except ValueError as wrapped:
        found = expected_failure(wrapped)
    if kind is None:
        assert found is None  # a bug stays a bug
    else:
        assert isinstance(found, kind) and all(word in str(found) for word in words), found


def test_special_files_named_as_a_config_a_squad_file_or_a_history_are_refused_at_once(data_dir, tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for args in (["ingest", "--config", str(fifo)], ["ingest", "--config", "/dev/zero"],
                 ["ingest", "--source", "squad", "--squad-path", str(fifo)],
                 ["ask", "why?", "--history", str(fifo)]):
        code, err = _run(capsys, *args, "--data-dir", str(data_dir), timeout=20)
        _assert_one_line_error(code, err, "not a regular file")


def test_squad_files_nested_too_deeply_or_with_answers_out_of_shape_are_one_line(data_dir, tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    good = json.loads(gzip.decompress(SQUAD_SAMPLE.read_bytes()) if SQUAD_SAMPLE.suffix == ".gz" else SQUAD_SAMPLE.read_text())
    no_text, odd_types = json.loads(json.dumps(good)), json.loads(json.dumps(good))
    no_text["data"][0]["paragraphs"][0]["qas"][0]["answers"] = [{"answer_start": 0}]
    odd_types["data"][0]["paragraphs"][0]["qas"][0]["answers"] = "Denver Broncos"
    cases = {deep: "nested too deeply"}
    for name, dataset in (("no_text.json", no_text), ("odd.json", odd_types)):
        (tmp_path / name).write_text(json.dumps(dataset))
        cases[tmp_path / name] = '"answers"'
    for path, words in cases.items():
        code, err = _run(capsys, "ingest", "--source", "squad", "--squad-path", str(path), "--data-dir", str(data_dir))
        _assert_one_line_error(code, err, words)
    assert api.runs(str(data_dir)) == []  # refused before any run started


def test_numbers_past_any_sense_are_refused_up_front(data_dir, tmp_path, capsys):
    huge = tmp_path / "huge.json"
    huge.write_text('{"parse_timeout_seconds": 1' + "0" * 400 + "}")
    _assert_one_line_error(*_run(capsys, "ingest", "--config", str(huge), "--data-dir", str(data_dir)), "parse_timeout_seconds")
    _assert_one_line_error(*_run(capsys, "query", "x", "--top-k", "1" + "0" * 24, "--data-dir", str(data_dir)), "top_k")


def test_a_damaged_json_cell_of_the_catalog_names_the_catalog(files_config, tmp_path, capsys):
    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun and water.")
    api.ingest(files_config, files=[api.InputFile("notes.txt", path=str(document))])
    with sqlite3.connect(os.path.join(files_config["data_dir"], "catalog.sqlite")) as connection:
        connection.execute("UPDATE runs SET counts_json = '{bad'")
    code, err = _run(capsys, "runs", "--data-dir", files_config["data_dir"])
    _assert_one_line_error(code, err, "catalog.sqlite", "counts_json", "mv ")


def test_truncated_lancedb_files_are_one_line_pointing_at_check_and_repair(files_config, tmp_path, capsys):
    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun and water. " * 20)
    api.ingest({**files_config, "index_name": "docs"}, files=[api.InputFile("notes.txt", path=str(document))])
    (data_file,) = (p for p in (tmp_path / "data").rglob("*.lance") if p.parent.name == "data")
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    code, err = _run(capsys, "query", "tomatoes", "--index", "docs", "--data-dir", files_config["data_dir"])
    _assert_one_line_error(code, err, "check --index", "repair")


@pytest.mark.parametrize("cell", ["{not json", "[1, 2]", '{"chunk_id": "c"}'])
def test_a_damaged_packed_hit_cell_is_one_line_pointing_at_check_and_repair(files_config, tmp_path, capsys, cell):
    import lancedb

    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun and water. " * 20)
    api.ingest({**files_config, "index_name": "docs"}, files=[api.InputFile("notes.txt", path=str(document))])
    lancedb.connect(tmp_path / "data" / "lancedb").open_table("docs").update(values={"hit_json": cell})
    with pytest.raises(IndexDamagedError, match="damaged hit_json"):
        api.search({**files_config, "index_name": "docs"}, "tomatoes")
    code, err = _run(capsys, "query", "tomatoes", "--index", "docs", "--data-dir", files_config["data_dir"])
    _assert_one_line_error(code, err, "hit_json", "check --index", "repair")


def test_an_embedding_cache_that_is_a_folder_or_read_only_is_skipped_and_nothing_is_lost(tmp_path, caplog):
    folder = tmp_path / "as_folder.sqlite"
    folder.mkdir()
    cache = EmbeddingCache(folder)
    vectors = np.eye(1, 4, dtype=np.float32)
    assert cache.disabled and cache.get_many(["k"], 4) == {} and cache.put_many(["k"], vectors, 4) == 0
    assert folder.is_dir()  # a folder is never deleted
    read_only = EmbeddingCache(tmp_path / "cache.sqlite")
    read_only.put_many(["k"], vectors, 4)
    original = sqlite3.connect
    try:
        sqlite3.connect = lambda *a, **k: original(f"file:{tmp_path / 'cache.sqlite'}?mode=ro", uri=True, **{"timeout": 60})
        read_only._local.connection = None
        assert read_only.put_many(["j"], vectors, 4) == 0 and read_only.disabled  # refused write: cache off, run goes on
    finally:
        sqlite3.connect = original
    assert "cannot be used" in caplog.text


class _PageGateway:
    """A proxy that answers every request 200 with an HTML page (not the service's JSON, nor an event stream)."""

    def __enter__(self):
        from tests.fakes._http_fake import FakeHandler, LocalHttpFake

        class Handler(FakeHandler):
            def serve(self) -> None:
                self.read_body()
                page = b"<html><body>Welcome to the proxy</body></html>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        class Gateway(LocalHttpFake):
            name = "page-gateway"
            handler = Handler
            methods = ("GET", "POST")

        self.fake = Gateway().start()
        return self.fake

    def __exit__(self, *exc_info) -> None:
        self.fake.stop()


def test_a_service_that_answers_200_with_a_page_is_a_one_line_service_error_not_a_success(files_config, monkeypatch):
    from ragkit.errors import ServiceError

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-page-gateway")
    with _PageGateway() as gateway:
        url = f"http://127.0.0.1:{gateway.port}/v1"
        with pytest.raises(ServiceError) as raised:
            api.ingest({**files_config, "embedding_service": "openai", "openai_base_url": url},
                       files=[api.InputFile("a.txt", b"Some text about rivers.")])
        assert "not an embeddings reply" in str(raised.value) and "\n" not in str(raised.value)
        api.ingest({**files_config, "index_name": "local"}, files=[api.InputFile("a.txt", b"Some text about rivers.")])
        result = api.answer({**files_config, "index_name": "local", "llm_service": "openai_compatible", "llm_base_url": url,
                             "llm_model": "any"}, "What is this about?")
        with pytest.raises(ServiceError) as streamed:
            "".join(result["stream"])
        assert "Check the base URL" in str(streamed.value)


def test_repair_from_sources_that_cannot_be_read_deletes_nothing(files_config, tmp_path):
    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun and water.")
    api.ingest(files_config, files=[api.InputFile("notes.txt", path=str(document))])
    before = api.index_manifest(files_config)["chunk_count"]
    for files in ([api.InputFile("gone.txt", path=str(tmp_path / "gone.txt"))], [api.InputFile("empty.txt", b"")]):
        with pytest.raises(WorkbenchError) as raised:
            api.repair(files_config, from_sources=True, files=files)
        assert "Nothing was deleted" in str(raised.value)
        assert api.index_manifest(files_config)["chunk_count"] == before
        assert api.search(files_config, "tomatoes", top_k=1)["hits"][0]["source_name"] == "notes.txt"


def test_a_second_file_of_one_path_is_refused_and_the_stored_first_keeps_its_source(files_config):
    from ragkit.schema import Document
    from workbench.catalog import Catalog
    from workbench.indexes import index_key_for

    first, second = b"The first report, the one stored.", b"Another file that claims the same path."
    record = api.ingest(files_config, files=[api.InputFile("report.txt", first), api.InputFile("./report.txt", second)])
    assert [error["source_name"] for error in record["file_errors"]] == ["report.txt"]
    kept = Catalog(files_config["data_dir"]).source(index_key_for(files_config), Document.id_for_file("report.txt"))
    assert kept is not None and kept["size"] == len(first)  # the stored file's bytes, not the refused one's


def test_log_lines_on_the_terminal_are_escaped_and_redacted(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    data_dir = tmp_path / "evil\u202etxt.data"  # the warning names the cache by its path, right-to-left override and all
    (data_dir).mkdir()
    (data_dir / "embedding_cache.sqlite").write_bytes(b"not a database")
    (tmp_path / "notes.txt").write_text("Tomatoes need sun.")
    done = subprocess.run([sys.executable, "-m", "workbench", "ingest", str(tmp_path / "notes.txt"), "--data-dir",
                           str(data_dir)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert "warning: embedding cache" in done.stderr and "starting a new one" in done.stderr  # the damaged cache, told
    assert "\u202e" not in done.stderr and "\\u202e" in done.stderr


def test_a_data_folder_name_with_a_control_character_is_refused_up_front(tmp_path, capsys):
    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun.")
    folder = tmp_path / "t7\x1b[31mlog"
    code, err = _run(capsys, "ingest", str(document), "--data-dir", str(folder))
    _assert_one_line_error(code, err, "data_dir", "control character")
    assert "\x1b" not in err and not folder.exists()
