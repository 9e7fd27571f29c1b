"""Hostile and broken input: each bad file is reported with its name and a clear reason, the rest of the run goes on.

Parsing runs in a worker process with a per-file deadline and a memory cap (`ragkit/parsers.py`,
settings `parse_timeout_seconds`, `parse_memory_mb`, `max_file_mb`, `max_pdf_pages`). Most tests stay at
the source level (no model); one small `api.ingest` shows a whole run storing the good file.
"""

from __future__ import annotations

import io
import os
import socket
import time
import zipfile
from pathlib import Path

import pytest

from dataflows import chunking, sources
from dataflows.stores import lancedb as lancedb_store
from ragkit.errors import FileParseError
from ragkit.parsers import ParseWorker, close_kept_parse_workers
from ragkit.schema import InputFile, source_path
from tests.pdfs import deeply_nested_pdf, flate_bomb_pdf, invalid_unicode_pdf, make_pdf, slow_pdf
from workbench import api

GOOD_TEXT = "Lighthouses guide ships at night. The Pharos of Alexandria was one of the seven wonders."


def _parse(files: dict[str, bytes], **limits) -> sources.ParsedFiles:
    return sources.parsed_files([InputFile(name=name, data=data) for name, data in files.items()], **limits)


def _reasons(result: sources.ParsedFiles) -> dict[str, str]:
    return {error.source_name: error.reason for error in result.errors}


def _docx(body_text: str, padding: int = 0) -> bytes:
    """A minimal .docx; `padding` bytes of spaces in its document.xml (compressed to almost nothing) make it a zip bomb."""
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p><w:r><w:t>{body_text}</w:t></w:r></w:p></w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        with archive.open("word/document.xml", "w") as part:
            part.write(document.encode())
            block = b" " * (1 << 20)
            for _ in range(padding >> 20):
                part.write(block)
    return buffer.getvalue()


# --- PDFs ------------------------------------------------------------------------------------------------


def test_hostile_pdfs_fail_alone_with_their_name_and_reason():
    good = make_pdf(["A good page about lighthouses."])
    long_pdf = make_pdf([f"Page {i} of a long report." for i in range(40)])
    started = time.perf_counter()
    result = _parse(
        {
            "truncated.pdf": long_pdf[: len(long_pdf) // 3],
            "cut-header.pdf": long_pdf[:40],
            "bomb.pdf": flate_bomb_pdf(4 << 30),  # ~4 MB that inflates to 4 GiB
            "nested.pdf": deeply_nested_pdf(100_000),
            "good.pdf": good,
        }
    )
    elapsed = time.perf_counter() - started
    reasons = _reasons(result)
    assert [d.source_name for d in result.documents] == ["good.pdf"]
    assert set(reasons) == {"truncated.pdf", "cut-header.pdf", "bomb.pdf", "nested.pdf"}
    # Truncated: the objects before the cut are found again, but the page tree is gone.
    assert "corrupt" in reasons["truncated.pdf"] or "no text" in reasons["truncated.pdf"]
    assert "corrupt" in reasons["cut-header.pdf"] or "no text" in reasons["cut-header.pdf"]
    assert "decompression bomb" in reasons["bomb.pdf"] and "safety limit" in reasons["bomb.pdf"]
    assert "nested too deeply" in reasons["nested.pdf"]
    assert elapsed < 30  # measured ~1.5 s on 2 shared cores, most of it the worker start and the bomb's 75 MB


def test_text_that_utf8_cannot_hold_is_cleaned_not_fatal():
    # pypdf returns what a font's map says, lone surrogates and NUL included; Arrow (LanceDB) refuses lone surrogates,
    # so one such PDF used to fail the whole batch's write.
    (document,) = _parse({"odd-font.pdf": invalid_unicode_pdf()}).documents
    assert document.text.startswith("\ufffd\ufffdA odd font text about harbours.")
    assert "\x00" not in document.text
    document.text.encode("utf-8")


def test_a_hung_parse_is_stopped_at_the_deadline_and_the_next_file_is_read():
    # 100 pages drawing one 5 MB text stream: ~15 KB on disk, about 15 minutes of pypdf work unbounded.
    started = time.perf_counter()
    result = _parse({"slow.pdf": slow_pdf(100), "after.txt": GOOD_TEXT.encode()}, parse_timeout_seconds=2)
    elapsed = time.perf_counter() - started
    reasons = _reasons(result)
    assert "longer than 2 s" in reasons["slow.pdf"] and "parse_timeout_seconds" in reasons["slow.pdf"]
    assert [d.source_name for d in result.documents] == ["after.txt"]  # a fresh worker read the next file
    assert elapsed < 15


def test_a_thousand_page_pdf_parses_in_bounded_time_and_the_page_limit_refuses_more():
    pages = [f"Page {i} is about lighthouse number {i}. It has a lamp and a keeper." for i in range(1, 1201)]
    data = make_pdf(pages)
    started = time.perf_counter()
    result = _parse({"long.pdf": data})
    elapsed = time.perf_counter() - started
    (document,) = result.documents
    assert len(document.pages) == 1200 and document.pages[-1].number == 1200
    assert elapsed < 30  # measured 1.0 s (0.5 s of it the worker start); 1,000 pages in-process: 0.5 s
    chunks = chunking.sized_chunks([document])
    assert {c.page for c in chunks} == set(range(1, 1201))

    refused = _parse({"long.pdf": data, "short.pdf": make_pdf(["Short."])}, max_pdf_pages=1000)
    assert [d.source_name for d in refused.documents] == ["short.pdf"]
    reason = _reasons(refused)["long.pdf"]
    assert "too many pages: 1,200" in reason and "1,000" in reason and "max_pdf_pages" in reason


def test_the_memory_cap_stops_a_zip_bomb_docx_and_the_worker_recovers():
    bomb = _docx("never read", padding=600 << 20)  # ~2.6 MB zipped, 600 MB of XML inflated
    assert len(bomb) < 5 << 20
    result = _parse({"bomb.docx": bomb, "fine.docx": _docx("A fine Word document.")}, parse_memory_mb=300)
    reasons = _reasons(result)
    assert "300 MB" in reasons["bomb.docx"] and "parse_memory_mb" in reasons["bomb.docx"]
    assert [d.text for d in result.documents] == ["A fine Word document."]


def test_text_after_an_unresolved_xml_entity_in_a_docx_is_kept():
    document = _docx("before &xxe; after, and &other;&other; the end")
    with zipfile.ZipFile(io.BytesIO(document)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["word/document.xml"] = parts["word/document.xml"].replace(
        b"<w:document", b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/hostname"><!ENTITY other "x">]><w:document', 1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, part in parts.items():
            archive.writestr(name, part)
    result = _parse({"xxe.docx": buffer.getvalue()})
    (document_read,) = result.documents
    assert document_read.text == "before &xxe; after, and &other;&other; the end"  # shown as written, never resolved


def test_a_worker_that_dies_costs_one_file():
    with ParseWorker(timeout=30) as worker:
        assert worker.parse("a.txt", b"first file") == [(0, "first file")]
        send = worker._requests.send_bytes
        sent: list[bytes] = []

        def send_then_crash(data: bytes) -> None:
            send(data)
            sent.append(data)
            if len(sent) == 1:  # the child has this file's header and dies before it can reply (a segfault, the OOM killer);
                worker._process.kill()  # after the bytes too, a small file could be parsed and answered before the kill lands
                worker._process.wait()

        worker._requests.send_bytes = send_then_crash
        with pytest.raises(FileParseError, match="the parser stopped on this file"):
            worker.parse("b.txt", b"second file")
        assert worker.parse("c.txt", b"third file") == [(0, "third file")]


def test_a_worker_that_died_between_files_is_replaced_without_failing_the_next_one():
    with ParseWorker(timeout=30) as worker:
        assert worker.parse("a.txt", b"first file") == [(0, "first file")]
        worker._process.kill()
        worker._process.wait()  # killed from outside while idle: not the next file's doing
        assert worker.parse("b.txt", b"second file") == [(0, "second file")]
        assert worker.children_started == 2


def test_a_kept_worker_serves_a_bounded_number_of_files_per_child():
    with ParseWorker(timeout=30, files_per_child=2) as worker:
        for i in range(5):
            assert worker.parse(f"{i}.txt", b"text %d" % i) == [(0, f"text {i}")]
        assert worker.children_started == 3  # 2 + 2 + 1


def test_a_parser_process_that_cannot_start_fails_the_files_not_the_run(monkeypatch):
    close_kept_parse_workers()  # a child kept from an earlier test would serve these files
    monkeypatch.setattr("ragkit.parsers.sys.executable", "/bin/false")
    result = _parse({"a.txt": b"some text", "b.txt": b"more text"})
    assert [e.source_name for e in result.errors] == ["a.txt", "b.txt"]
    assert all("could not start" in e.reason for e in result.errors)


def test_with_a_zero_timeout_files_are_parsed_in_this_process():
    files = {"bomb.pdf": flate_bomb_pdf(1 << 30), "good.txt": GOOD_TEXT.encode()}
    in_process, isolated = _parse(files, parse_timeout_seconds=0), _parse(files)
    assert in_process.documents == isolated.documents and in_process.errors == isolated.errors


# --- Text ------------------------------------------------------------------------------------------------


def test_hostile_text_files_fail_alone_with_their_name_and_reason():
    result = _parse(
        {
            "empty.txt": b"",
            "blank.md": b" \n\t\r\n ",
            "binary.txt": bytes(range(256)) * 4,
            "late-nul.txt": b"looks like text " * 1000 + b"\x00 and then binary",
            "latin1.txt": "\u00e9t\u00e9 \u00e0 Paris".encode("latin-1"),
            "cp1252.md": "\u201csmart quotes\u201d \u2013 dash".encode("cp1252"),
            "shift-jis.txt": "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8".encode("shift_jis"),
            "utf16-no-bom.txt": "plain words in UTF-16".encode("utf-16-le"),
            "utf16-broken.txt": b"\xff\xfeA\x00B",  # a byte-order mark, then an odd number of bytes
            "html-binary.html": b"<html>\x00\x01\x02</html>",
            "good-utf16.txt": "UTF-16 with a mark: caf\u00e9".encode("utf-16"),
            "good-utf32.md": "UTF-32 with a mark: na\u00efve".encode("utf-32"),
            "good.txt": GOOD_TEXT.encode(),
        }
    )
    reasons = _reasons(result)
    texts = {d.source_name: d.text for d in result.documents}
    assert texts == {
        "good-utf16.txt": "UTF-16 with a mark: caf\u00e9",
        "good-utf32.md": "UTF-32 with a mark: na\u00efve",
        "good.txt": GOOD_TEXT,
    }
    assert reasons["empty.txt"] == reasons["blank.md"] == "empty file"
    assert "binary" in reasons["binary.txt"] and "binary" in reasons["late-nul.txt"] and "binary" in reasons["html-binary.html"]
    for name in ("latin1.txt", "cp1252.md", "shift-jis.txt"):
        assert "not UTF-8" in reasons[name] and "save the file as UTF-8" in reasons[name]
    assert "UTF-16 text without a byte-order mark" in reasons["utf16-no-bom.txt"]
    assert "broken UTF-16" in reasons["utf16-broken.txt"]


def test_a_200_mb_single_line_is_refused_unread_in_bounded_time(tmp_path):
    path = tmp_path / "one-line.txt"
    with open(path, "wb") as handle:
        block = b"lighthouse " * 100_000  # 1.1 MB, no newline anywhere
        for _ in range(200 * (1 << 20) // len(block) + 1):
            handle.write(block)
    assert path.stat().st_size > 200 << 20
    started = time.perf_counter()
    try:
        result = sources.parsed_files([InputFile("one-line.txt", path=str(path)), InputFile("good.txt", GOOD_TEXT.encode())])
        elapsed = time.perf_counter() - started
    finally:
        path.unlink()  # pytest keeps the temporary folders of recent runs; not 200 MB of them
    reason = _reasons(result)["one-line.txt"]
    assert reason.startswith("too large: 200.") and "100 MB" in reason and "max_file_mb" in reason
    assert [d.source_name for d in result.documents] == ["good.txt"]
    assert elapsed < 5  # the big file is never read: its size is checked first


def test_a_long_single_line_under_the_limit_is_chunked_exactly(tmp_path):
    text = ("lighthouse keeper " * 300_000).strip() + " " + "x" * 50_000  # 5.4 MB, one line, no sentence end
    path = tmp_path / "line.txt"
    path.write_text(text)
    started = time.perf_counter()
    result = sources.parsed_files([InputFile("line.txt", path=str(path))], max_file_mb=10)
    (document,) = result.documents
    chunks = chunking.sized_chunks([document], chunk_size=800, chunk_overlap=100)
    elapsed = time.perf_counter() - started
    assert all(document.text[c.char_start : c.char_end] == c.text and len(c.text) <= 800 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")  # nothing lost, nothing repeated
    assert elapsed < 30  # measured ~1 s for the parse and ~0.5 s for the chunks


def _measured_calls(counter: list[int]):
    """A token counter that counts its calls (whitespace-separated words plus two special tokens, like a WordPiece model)."""
    def token_counts(texts: list[str]) -> list[int]:
        counter.append(len(texts))
        return [len(text.split()) * 2 + 2 for text in texts]
    return token_counts


def test_a_docx_of_50000_tiny_paragraphs_is_chunked_with_a_few_tokenizer_calls_per_chunk():
    paragraphs = "".join(f"<w:p><w:r><w:t>w{i} x{i}</w:t></w:r></w:p>" for i in range(50_000))
    document = _docx("PLACEHOLDER").replace(b"", b"")
    with zipfile.ZipFile(io.BytesIO(document)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["word/document.xml"] = parts["word/document.xml"].replace(
        b"<w:p><w:r><w:t>PLACEHOLDER</w:t></w:r></w:p>", paragraphs.encode())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, part in parts.items():
            archive.writestr(name, part)
    assert len(buffer.getvalue()) < 400_000
    (document_read,) = _parse({"many.docx": buffer.getvalue()}).documents
    sized = chunking.sized_chunks([document_read], chunk_size=800, chunk_overlap=100)
    calls: list[int] = []
    started = time.perf_counter()
    chunks = chunking.chunks.__wrapped__(sized, _measured_calls(calls), 128) if hasattr(chunking.chunks, "__wrapped__") \
        else chunking.chunks(sized, _measured_calls(calls), 128)
    elapsed = time.perf_counter() - started
    assert all(chunk.token_count <= 128 for chunk in chunks) and len(chunks) > len(sized)
    assert "".join(c.text for c in chunks).replace("\n", "").count("w49999 x49999") == 1
    assert len(calls) <= 20 * len(sized)  # before: one call per paragraph of every over-long chunk (about 190 per chunk here)
    assert max(calls) <= 256 and elapsed < 30  # texts are measured in bounded batches


def test_a_fifo_socket_device_or_folder_fails_alone_at_once_and_the_good_file_is_read(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # nobody writes to it: open() for reading would block forever
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock.txt"))
    (tmp_path / "folder.txt").mkdir()
    good = tmp_path / "good.txt"
    good.write_text(GOOD_TEXT)
    special = {"pipe.txt": "a FIFO", "sock.txt": "a socket", "folder.txt": "a folder"}
    if os.path.exists("/dev/zero"):
        special["/dev/zero"] = "a character device"
    files = [InputFile(name, path=name if name.startswith("/") else str(tmp_path / name)) for name in special]
    started = time.perf_counter()
    try:
        result = sources.parsed_files([*files, InputFile("good.txt", path=str(good))], max_file_mb=1)
    finally:
        server.close()
    assert time.perf_counter() - started < 10
    reasons = {error.source_name: error.reason for error in result.errors}
    assert set(reasons) == {source_path(name) for name in special}
    for name, kind in special.items():
        reason = reasons[source_path(name)]
        assert reason.startswith("not a regular file") and kind in reason
    assert [d.source_name for d in result.documents] == ["good.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_fails_alone_with_the_reason(tmp_path):
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    result = sources.parsed_files([InputFile("locked.txt", path=str(locked)), InputFile("good.txt", GOOD_TEXT.encode())])
    assert "cannot be read: Permission denied" in _reasons(result)["locked.txt"]
    assert [d.source_name for d in result.documents] == ["good.txt"]


# --- File names ------------------------------------------------------------------------------------------

HOSTILE_NAMES = {
    "../../escape-up.txt": "escape-up.txt",
    "/tmp/absolute-escape.txt": "tmp/absolute-escape.txt",
    "C:\\Windows\\..\\win-escape.txt": "win-escape.txt",
    ("long-" * 70) + ".txt": ("long-" * 70) + ".txt",  # 354 characters
    "caf\u00e9 \u65e5\u672c\u8a9e \U0001f4a1.md": "caf\u00e9 \u65e5\u672c\u8a9e \U0001f4a1.md",
}


def _snapshot(*folders: Path) -> set[str]:
    return {str(path) for folder in folders if folder.exists() for path in folder.rglob("*")}


def test_hostile_file_names_are_shown_and_never_used_as_paths(tmp_path, monkeypatch):
    work = tmp_path / "cwd" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = _snapshot(tmp_path)
    result = _parse({name: f"Text of {shown}.".encode() for name, shown in HOSTILE_NAMES.items()} | {"..": b"dots"})
    assert sorted(d.source_name for d in result.documents) == sorted(HOSTILE_NAMES.values())
    assert all(d.text == f"Text of {d.source_name}." for d in result.documents)
    assert "unsupported file type" in _reasons(result)["unnamed"]
    assert _snapshot(tmp_path) == before  # parsing wrote nothing here
    for name in HOSTILE_NAMES:  # nor where the names point, read as paths (a 354-character name cannot exist on Linux)
        assert not os.path.lexists(work / name.replace("\\", "/")) and not os.path.lexists(name.replace("\\", "/"))


# --- One whole run ---------------------------------------------------------------------------------------


def test_a_run_with_hostile_files_stores_the_good_ones_and_reports_the_rest(files_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outside_before = _snapshot(tmp_path) - _snapshot(Path(files_config["data_dir"]))
    files = [
        InputFile("good.txt", GOOD_TEXT.encode()),
        InputFile("../../../good-named.md", b"The Eddystone lighthouse stands on dangerous rocks."),
        InputFile("bomb.pdf", flate_bomb_pdf(1 << 30)),
        InputFile("truncated.pdf", make_pdf(["Cut short."] * 20)[:900]),
        InputFile("fake.pdf", b"MZ\x90\x00 an executable with a .pdf name"),
        InputFile("binary.txt", b"\x00\x01\x02 binary"),
        InputFile("locked.docx", b"PK\x03\x04 not really a zip"),
        InputFile("odd-font.pdf", invalid_unicode_pdf()),
        InputFile("huge.txt", b"word " * 600_000),  # 2.9 MB, over the configured 2 MB
    ]
    record = api.ingest({**files_config, "chunk_size": 200, "chunk_overlap": 0, "max_file_mb": 2}, files=files)
    assert record["status"] == "succeeded"
    reasons = {e["source_name"]: e["reason"] for e in record["file_errors"]}
    assert set(reasons) == {"bomb.pdf", "truncated.pdf", "fake.pdf", "binary.txt", "locked.docx", "huge.txt"}
    assert "decompression bomb" in reasons["bomb.pdf"] and "not a PDF" in reasons["fake.pdf"]
    assert "corrupt" in reasons["locked.docx"] and "binary" in reasons["binary.txt"]
    assert "too large" in reasons["huge.txt"] and "max_file_mb" in reasons["huge.txt"]
    assert record["counts"]["failed"] == 6 and record["counts"]["read"] == 3

    resolved = api.resolve_config(files_config)
    table = lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])
    rows = table.to_arrow().drop_columns(["vector"]).to_pylist()
    assert {r["source_name"] for r in rows} == {"good.txt", "good-named.md", "odd-font.pdf"}
    assert any(r["text"] == GOOD_TEXT or r["text"] in GOOD_TEXT for r in rows if r["source_name"] == "good.txt")
    outside_after = _snapshot(tmp_path) - _snapshot(Path(files_config["data_dir"]))
    assert outside_after == outside_before  # nothing written outside the data folder
