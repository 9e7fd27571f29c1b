"""Fuzzing the file parsers and the chunker with hypothesis (bounded, derandomized: the same examples every run).

Contracts checked:
- `parse_file` raises nothing but FileParseError, whatever the bytes; what it returns is clean text
  (no NUL, no lone surrogates) with at least some non-space text; the worker process gives the same answer.
- chunks map back to their source: `document.text[char_start:char_end] == chunk.text`, inside one page,
  stripped, non-empty, within `chunk_size` characters (and the model's token limit after `chunks`), and
  every non-space character of every page is in some chunk.
"""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflows import chunking, sources
from ragkit.errors import FileParseError
from ragkit.parsers import PARSERS, ParseWorker, parse_file
from ragkit.schema import Document, Page
from tests.pdfs import make_pdf

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _docx_bytes() -> bytes:
    import docx

    buffer = io.BytesIO()
    word = docx.Document()
    word.add_paragraph("Word paragraph one. It has two sentences.")
    word.add_paragraph("Word paragraph two \u00e9\u00e8.")
    word.save(buffer)
    return buffer.getvalue()


SEEDS: list[tuple[str, bytes]] = [
    (".pdf", make_pdf(["First page. It talks about (brackets) and \\ slashes.", None, "Third page text."])),
    (".docx", _docx_bytes()),
    (".html", b"<html><head><style>p{}</style><script>x()</script></head><body><p>One &amp; two.</p>"
              b"<div><b>Bold</b> text &#x1F4A1; &#xD800; end.</div></body></html>"),
    (".txt", "Plain text. Caf\u00e9!\n\nNew paragraph?".encode()),
    (".md", "# Title\n\nSome *markdown* text.".encode("utf-16")),
]
_NUMBER = re.compile(rb"\d+")


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid file of each type with byte flips, cuts, insertions, splices and numbers (lengths, offsets, counts) changed."""
    suffix, seed = draw(st.sampled_from(SEEDS))
    suffix = draw(st.sampled_from([suffix, suffix, suffix, *sorted(PARSERS)]))  # sometimes the wrong parser
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["flip", "insert", "delete", "cut", "number", "nest"]))
        if operation == "flip":
            data[position] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif operation == "cut":
            del data[position:]
        elif operation == "nest":
            depth = draw(st.integers(1, 3000))
            data[position:position] = draw(st.sampled_from([b"[", b"<<", b"(", b"<div>"])) * depth
        else:
            numbers = list(_NUMBER.finditer(bytes(data)))
            if numbers:
                match = draw(st.sampled_from(numbers))
                data[match.start() : match.end()] = str(draw(st.integers(-5, 10**12))).encode()
    return suffix, bytes(data)


any_file = st.one_of(
    mutated_files(),
    st.tuples(st.sampled_from(sorted(PARSERS) + [".pdf"] * 3), st.binary(max_size=3000)),
    st.tuples(st.sampled_from([".txt", ".md", ".html"]), st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass"))),
)


def _check_pages(pages: list[tuple[int, str]]) -> None:
    assert isinstance(pages, list) and pages
    assert any(text.strip() for _, text in pages)
    for number, text in pages:
        assert isinstance(number, int) and number >= 0 and isinstance(text, str)
        assert "\x00" not in text and not re.search("[\ud800-\udfff]", text)
        text.encode("utf-8")  # storable as UTF-8 (Arrow, LanceDB)


def _check_chunks(document: Document, chunk_size: int, chunk_overlap: int) -> None:
    chunks = chunking.sized_chunks([document], chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    covered = bytearray(len(document.text))
    pages = {page.number: page for page in document.pages}
    for index, chunk in enumerate(chunks):
        assert document.text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip() and len(chunk.text) <= chunk_size
        page = pages[chunk.page]
        assert page.start <= chunk.char_start < chunk.char_end <= page.end
        assert chunk.chunk_index == index
        covered[chunk.char_start : chunk.char_end] = b"\x01" * (chunk.char_end - chunk.char_start)
    for page in document.pages:
        missed = [i for i in range(page.start, page.end) if not covered[i] and not document.text[i].isspace()]
        assert not missed, f"characters lost at {missed[:5]}"
    assert len({c.chunk_id for c in chunks}) == len(chunks)


@FUZZ
@given(any_file)
def test_parsers_raise_only_file_parse_error_and_their_text_chunks_back_to_the_source(file):
    suffix, data = file
    try:
        pages = parse_file("fuzzed" + suffix, data, max_pdf_pages=50)
    except FileParseError as error:
        assert str(error)
        return
    _check_pages(pages)
    document = sources._document_from_pages("fuzzed" + suffix, pages)
    _check_chunks(document, chunk_size=60, chunk_overlap=20)


@pytest.fixture(scope="module")
def worker():
    with ParseWorker(memory_mb=1024, timeout=30, max_pdf_pages=50) as parse_worker:
        yield parse_worker


@settings(FUZZ, max_examples=60)
@given(any_file)
def test_the_worker_process_gives_the_same_answer_as_parsing_in_process(worker, file):
    suffix, data = file
    try:
        expected = parse_file("fuzzed" + suffix, data, max_pdf_pages=50)
    except FileParseError as error:
        with pytest.raises(FileParseError) as raised:
            worker.parse("fuzzed" + suffix, data)
        assert str(raised.value) == str(error)
        return
    assert worker.parse("fuzzed" + suffix, data) == expected


# Text with the characters the splitter treats specially: sentence ends, closing quotes, blank lines, odd spaces.
SPLITTER_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("ab .!?\"')]\u201d\u2019\n\n\t\r \u00a0\u2028\u3000\u200b\x0b\x1c")),
        st.characters(codec="utf-8"),
    ),
    max_size=400,
)


@FUZZ
@given(
    pages=st.lists(SPLITTER_TEXT, min_size=1, max_size=4),
    chunk_size=st.integers(50, 200),
    overlap_share=st.floats(0, 0.49),
)
def test_sized_chunks_map_back_and_lose_nothing(pages, chunk_size, overlap_share):
    page_texts = [(number, text) for number, text in enumerate(pages, start=1)]
    if not any(text.strip() for _, text in page_texts):
        return
    document = sources._document_from_pages("doc.txt", page_texts)
    _check_chunks(document, chunk_size, int(chunk_size * overlap_share))


def _fake_token_counts(texts: list[str]) -> list[int]:
    """A word-piece-like count: a run of word characters is one token per 4 characters, any other non-space character one."""
    return [sum(-(-len(m.group()) // 4) for m in re.finditer(r"\w+|[^\w\s]", text)) for text in texts]


@FUZZ
@given(text=SPLITTER_TEXT.filter(lambda t: t.strip()), limit=st.integers(1, 30), kind=st.sampled_from(["file", "squad"]))
def test_chunks_over_the_token_limit_are_split_and_still_map_back(text, limit, kind):
    document = Document(Document.id_for(kind, text), kind, "doc", "doc", text, (Page(0, 0, len(text)),))
    sized = chunking.sized_chunks([document], chunk_size=200, chunk_overlap=0)
    result = chunking.chunks(sized, _fake_token_counts, limit)
    for chunk in result:
        assert document.text[chunk.char_start : chunk.char_end] == chunk.text and chunk.text.strip()
        assert chunk.token_count == _fake_token_counts([chunk.indexed_text])[0] <= limit  # the header counts too
    assert re.sub(r"\s", "", "".join(c.text for c in result)) == re.sub(r"\s", "", "".join(c.text for c in sized))
