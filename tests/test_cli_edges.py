"""Hard edges of the command line: every expected failure is one line naming the cause and the fix (exit 2), never a
traceback, and checked before any model loads; damaged caches rebuild themselves; document text and file names
reach the terminal with their control and bidi characters escaped.

The CLI runs in this process (`workbench.cli.run`, what `python -m workbench` calls), so the model loads once.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import SQUAD_SAMPLE
from workbench import cli


def _run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = cli.run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert all(word in err for word in words), err


# --- settings checked up front, from one schema ------------------------------------------------------


@pytest.mark.parametrize("index, words", [
    ("a/b", ("index_name", "'/'")), ("..", ("index_name",)), ("x" * 5000, ("5000 characters",)), ("", ("index_name",)),
])
def test_unsafe_index_names_are_refused_before_anything_runs(index, words, data_dir, tmp_path, capsys):
    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun.")
    for args in (["ingest", str(document)], ["query", "tomatoes"]):
        code, _, err = _run(capsys, *args, "--index", index, "--data-dir", str(data_dir))
        _assert_one_line_error(code, err, *words)
    assert not (data_dir / "lancedb").exists()


def test_a_config_file_that_is_missing_not_json_or_wrongly_typed_is_one_line(data_dir, tmp_path, capsys):
    not_json, a_list, typed = tmp_path / "bad.json", tmp_path / "list.json", tmp_path / "typed.json"
    not_json.write_text("{chunk_size: 800")
    a_list.write_text("[1, 2]")
    typed.write_text(json.dumps({"chunk_size": "big"}))
    for path, words in ((tmp_path / "missing.json", ("missing.json", "No such file")), (not_json, ("not valid JSON",)),
                        (a_list, ("JSON object",)), (typed, ("chunk_size must be a whole number", "'big'"))):
        code, _, err = _run(capsys, "ingest", "--config", str(path), "--data-dir", str(data_dir))
        _assert_one_line_error(code, err, *words)


def test_wrong_numbers_and_a_data_dir_that_is_a_file(data_dir, tmp_path, capsys):
    a_file = tmp_path / "plain.txt"
    a_file.write_text("not a folder")
    _assert_one_line_error(*_run(capsys, "runs", "--data-dir", str(a_file))[::2], "is a file, not a folder")
    _assert_one_line_error(*_run(capsys, "ingest", "--source", "squad", "--squad-path", str(SQUAD_SAMPLE), "--limit", "-1",
                                 "--data-dir", str(data_dir))[::2], "limit must be at least 0")
    for mode in ("dense", "lexical", "hybrid"):
        for top_k in ("0", "-1"):
            code, _, err = _run(capsys, "query", "x", "--top-k", top_k, "--mode", mode, "--data-dir", str(data_dir))
            _assert_one_line_error(code, err, "top_k", "from 1 to")


# --- SQuAD files of the wrong shape ---------------------------------------------------------------------


@pytest.mark.parametrize("content, words", [
    ({"version": "1.1"}, ('no "data" list',)),
    ([{"title": "x"}], ("top level is not an object",)),
    ({"data": [{"title": "A", "paragraphs": [{"qas": []}]}]}, ('no "context"', "article 0")),
    ({"data": [{"title": "A", "paragraphs": [{"context": None, "qas": []}]}]}, ('no "context"',)),
    ({"data": [{"title": "A"}]}, ('no "paragraphs"',)),
])
def test_squad_files_of_the_wrong_shape_are_one_line(content, words, data_dir, tmp_path, capsys):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(content))
    code, _, err = _run(capsys, "ingest", "--source", "squad", "--squad-path", str(path), "--data-dir", str(data_dir))
    _assert_one_line_error(code, err, "squad.json", *words)


def test_a_blank_squad_context_is_skipped_and_counted(data_dir, tmp_path, capsys):
    dataset = json.loads(SQUAD_SAMPLE.read_text())
    dataset["data"][0]["paragraphs"][:0] = [{"context": "   ", "qas": [{"id": "blank-1", "question": "?"}]},
                                            {"context": "", "qas": []}]
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(dataset))
    code, out, err = _run(capsys, "ingest", "--source", "squad", "--squad-path", str(path), "--limit", "6",
                          "--index", "blank", "--data-dir", str(data_dir))
    assert code == 3, err
    assert "failed: SQuAD: 2 paragraph(s): blank context: skipped" in out and "written 4" in out, out


# --- damaged local state --------------------------------------------------------------------------------


def test_a_garbage_catalog_names_the_file_and_the_remedy(data_dir, capsys):
    (data_dir / "catalog.sqlite").write_bytes(b"this is not a database, just garbage " * 100)
    for args in (["runs"], ["indexes", "--json"], ["query", "x"]):
        code, _, err = _run(capsys, *args, "--data-dir", str(data_dir))
        _assert_one_line_error(code, err, "catalog.sqlite", "damaged", "move it aside")


def test_a_garbage_embedding_cache_is_rebuilt(data_dir, tmp_path, capsys):
    cache = data_dir / "embedding_cache.sqlite"
    cache.write_bytes(b"\x00garbage\xff" * 500)
    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun. Basil likes warmth.")
    code, out, err = _run(capsys, "ingest", str(document), "--index", "cache", "--data-dir", str(data_dir))
    assert code == 0 and "written 1" in out, err
    assert b"garbage" not in cache.read_bytes()


# --- terminal output -----------------------------------------------------------------------------------

HOSTILE = "Tomatoes \x1b[31mRED\x1b[0m need sun.\rOVERWRITTEN \u202eevil\u202c \x07bell \x9bCSI."


def test_document_text_and_file_names_reach_the_terminal_escaped(data_dir, tmp_path, capsys):
    document = tmp_path / "notes.txt"
    document.write_text(HOSTILE)
    broken = tmp_path / "invoice\u202efdp.exe.pdf"
    broken.write_bytes(b"%PDF-1.4 garbage")
    code, out, err = _run(capsys, "ingest", str(document), str(broken), "--index", "hostile", "--data-dir", str(data_dir))
    assert code == 3, err
    assert "failed: invoice\\u202efdp.exe.pdf" in out
    code, out, err = _run(capsys, "query", "tomatoes", "--index", "hostile", "--data-dir", str(data_dir))
    assert code == 0, err
    assert "\\u001b[31mRED" in out and "\\u202eevil" in out and "\\u000dOVERWRITTEN" in out
    for text in (out, err):
        assert not any(ch in text for ch in "\x1b\r\u202e\u202c\x07\x9b")
    code, out, _ = _run(capsys, "query", "tomatoes", "--index", "hostile", "--data-dir", str(data_dir), "--json")
    assert json.loads(out)[0]["text"].startswith("Tomatoes \x1b[31mRED")  # escaped on screen, the same text once decoded
    assert "\x1b" not in out and "\u202e" not in out


def test_a_model_loaded_during_a_command_draws_no_progress_bar(data_dir, tmp_path, capsys):
    """transformers draws a "Loading weights" bar with carriage returns; a command that loads the model prints none."""
    from ragkit import local_models

    document = tmp_path / "notes.txt"
    document.write_text("Tomatoes need sun and water.")
    assert _run(capsys, "ingest", str(document), "--index", "bars", "--data-dir", str(data_dir))[0] == 0
    local_models._load_sentence_transformer.cache_clear()  # the query below loads the model itself
    code, out, err = _run(capsys, "query", "tomatoes", "--index", "bars", "--data-dir", str(data_dir))
    assert code == 0, err
    assert "Tomatoes need sun" in out
    assert "\r" not in out + err and "Loading weights" not in err, err
