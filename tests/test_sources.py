"""Sources: SQuAD from a local file (and a clear error when neither hub nor file works), files of every kind."""

import gzip
import json
import time

import pytest

from dataflows import sources  # noqa: F401
from ragkit import squad
from ragkit.errors import SourceUnavailableError
from ragkit.schema import InputFile
from tests.conftest import SQUAD_SAMPLE, shared_squad_path
from tests.pdfs import encrypt_pdf, make_pdf


def test_squad_file_paragraphs_are_unique_with_titles_and_question_ids():
    paragraphs = squad.read_squad_file(SQUAD_SAMPLE)
    raw = json.loads(SQUAD_SAMPLE.read_text())
    expected = [(a["title"].replace("_", " "), p["context"], [q["id"] for q in p["qas"]]) for a in raw["data"] for p in a["paragraphs"]]
    assert len(paragraphs) == len(expected) == 30
    assert [(p.title, p.context, [q for q, _ in p.questions]) for p in paragraphs] == expected


def test_squad_gz_file_and_limit(tmp_path):
    gz = tmp_path / "sample.json.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as handle:
        handle.write(SQUAD_SAMPLE.read_text())
    assert len(squad.read_squad_file(gz, limit=7)) == 7


def test_duplicate_contexts_are_merged_with_all_their_questions():
    rows = [("T", "ctx one", "q1", "a?"), ("T", "ctx two", "q2", "b?"), ("T", "ctx one", "q3", "c?")]
    paragraphs = squad.paragraphs_from_rows(rows, limit=0)
    assert [(p.context, [q for q, _ in p.questions]) for p in paragraphs] == [("ctx one", ["q1", "q3"]), ("ctx two", ["q2"])]


@pytest.mark.skipif(not shared_squad_path().exists(), reason="the shared SQuAD dev set is not beside the repo")
def test_full_dev_set_has_2067_paragraphs_and_10570_questions():
    paragraphs = squad.read_squad_file(shared_squad_path())
    assert len(paragraphs) == 2067
    assert sum(len(p.questions) for p in paragraphs) == 10570


def test_no_hub_and_no_file_says_which_setting_to_use(monkeypatch):
    monkeypatch.delenv("WORKBENCH_SQUAD_PATH", raising=False)
    started = time.perf_counter()
    with pytest.raises(SourceUnavailableError) as error:
        sources.squad_paragraphs("validation", "", 5)
    assert "squad_path" in str(error.value) and "--squad-path" in str(error.value)
    assert time.perf_counter() - started < 15  # offline mode fails fast instead of waiting on the network


def test_squad_documents_carry_title_question_ids_and_stable_ids():
    paragraphs = squad.read_squad_file(SQUAD_SAMPLE, limit=3)
    first = sources.documents__squad(paragraphs)
    second = sources.documents__squad(paragraphs)
    assert [d.document_id for d in first] == [d.document_id for d in second]
    assert first[0].title == "Super Bowl 50" and first[0].question_ids == tuple(q for q, _ in paragraphs[0].questions)


def _parse(files: dict[str, bytes]):
    return sources.parsed_files([InputFile(name=name, data=data) for name, data in files.items()])


def test_pdf_text_per_page_with_page_numbers():
    result = _parse({"report.pdf": make_pdf(["Alpha page text.", None, "Gamma page text."])})
    assert result.errors == []
    (document,) = result.documents
    assert [(p.number, document.text[p.start : p.end].strip()) for p in document.pages] == [
        (1, "Alpha page text."),
        (3, "Gamma page text."),
    ]
    assert document.title == "report" and document.source_name == "report.pdf"


def test_text_markdown_html_and_docx_are_read():
    import io

    import docx

    buffer = io.BytesIO()
    word = docx.Document()
    word.add_paragraph("Word paragraph one.")
    word.add_paragraph("Word paragraph two.")
    word.save(buffer)
    result = _parse(
        {
            "a.txt": "Plain text caf\u00e9.".encode(),
            "b.md": b"# Title\n\nSome *markdown*.",
            "c.html": b"<html><head><script>alert(1)</script><style>p{}</style></head><body><p>Visible text.</p></body></html>",
            "d.docx": buffer.getvalue(),
        }
    )
    assert result.errors == []
    texts = {d.source_name: d.text for d in result.documents}
    assert texts["a.txt"] == "Plain text caf\u00e9."
    assert "Some *markdown*." in texts["b.md"]
    assert "Visible text." in texts["c.html"] and "alert" not in texts["c.html"]
    assert texts["d.docx"] == "Word paragraph one.\n\nWord paragraph two."


def test_each_bad_file_fails_alone_with_its_name_and_reason():
    good = make_pdf(["A good page about lighthouses."])
    result = _parse(
        {
            "empty.txt": b"",
            "corrupt.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
            "locked.pdf": encrypt_pdf(good),
            "scan.pdf": make_pdf([None, None]),
            "latin1.txt": "\u00e9t\u00e9 \u00e0 Paris".encode("latin-1"),
            "slides.pptx": b"PK\x03\x04 not supported",
            "fake.pdf": b"this is not a pdf at all",
            "binary.txt": b"\x00\x01\x02\x03 binary",
            "good.pdf": good,
        }
    )
    reasons = {e.source_name: e.reason for e in result.errors}
    assert [d.source_name for d in result.documents] == ["good.pdf"]
    assert reasons["empty.txt"] == "empty file"
    assert "corrupt" in reasons["corrupt.pdf"] or "unreadable" in reasons["corrupt.pdf"] or "no text" in reasons["corrupt.pdf"]
    assert "encrypted" in reasons["locked.pdf"] and "password" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scan.pdf"] and "OCR" in reasons["scan.pdf"]
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "unsupported file type '.pptx'" in reasons["slides.pptx"]
    assert "not a PDF" in reasons["fake.pdf"]
    assert "binary" in reasons["binary.txt"]


def test_file_names_are_paths_inside_the_root_never_outside_it(tmp_path):
    result = _parse({"../../etc/passwd.txt": b"hello there", "dir\\sub\\x.md": b"markdown here"})
    assert sorted(d.source_name for d in result.documents) == ["dir/sub/x.md", "etc/passwd.txt"]


def test_a_file_that_cannot_be_read_is_an_error_not_a_crash(tmp_path):
    missing = InputFile(name="gone.txt", path=str(tmp_path / "gone.txt"))
    present = tmp_path / "here.txt"
    present.write_text("present text")
    result = sources.parsed_files([missing, InputFile(name="here.txt", path=str(present))])
    assert [d.source_name for d in result.documents] == ["here.txt"]
    assert result.errors[0].source_name == "gone.txt" and "cannot be read" in result.errors[0].reason


def test_two_files_with_the_same_name_in_other_folders_are_two_documents_and_the_same_path_twice_is_refused():
    result = sources.parsed_files([InputFile("a.txt", b"one"), InputFile("sub/a.txt", b"two"), InputFile("./sub/a.txt", b"three")])
    assert [d.source_name for d in result.documents] == ["a.txt", "sub/a.txt"]
    assert len({d.document_id for d in result.documents}) == 2
    assert [(e.source_name, "same path" in e.reason) for e in result.errors] == [("sub/a.txt", True)]


def test_white_space_in_a_name_is_part_of_its_identity():
    result = sources.parsed_files([InputFile("report.txt", b"one"), InputFile(" report.txt", b"two")])
    assert [d.source_name for d in result.documents] == ["report.txt", " report.txt"] and not result.errors
