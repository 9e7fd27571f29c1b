"""Extraction from real PDFs made here (tests/pdfs.py), through both PDF parsers: titles, clean-ups, page numbers, headings."""

from __future__ import annotations

import re

import pytest

from ragkit.errors import ConfigError, FileParseError
from ragkit.parsers import PDF_PARSERS, extract_file, parse_file
from ragkit.pdf_text import drop_running_lines, join_letter_spaced, letter_spaced_runs, rejoin_hyphenated
from tests.pdfs import make_pdf, make_structured_pdf
from workbench.config import resolve_config

BODY = 11


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_title_comes_from_the_pdf_metadata(parser):
    data = make_structured_pdf([[(24, "Big Heading On Page One"), (BODY, "Body text.")]], title="Harbour Lights Manual")
    assert extract_file("scan_0042.pdf", data, pdf_parser=parser).title == "Harbour Lights Manual"


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_without_metadata_the_title_is_the_first_heading(parser):
    pages = [[(BODY, "draft 3"), (24, "Keeping a Lighthouse"), (BODY, "A guide for new keepers, written in plain words.")]]
    assert extract_file("a.pdf", make_structured_pdf(pages), pdf_parser=parser).title == "Keeping a Lighthouse"
    # A placeholder title in the metadata is not a title.
    junk = make_structured_pdf(pages, title="Microsoft Word - draft3.docx")
    assert extract_file("a.pdf", junk, pdf_parser=parser).title == "Keeping a Lighthouse"
    # Text all in one size names no heading: no title (the file name is used later).
    assert extract_file("a.pdf", make_pdf(["Just body text.\nMore body text."]), pdf_parser=parser).title == ""


def test_letter_spaced_runs_are_joined_but_single_letter_words_are_not():
    assert join_letter_spaced("def m y _ d a t a f l o w _ f u n c t i o n s ( ) :") == "def my_dataflow_functions():"
    assert join_letter_spaced("C H A P T E R  O N E") == "CHAPTER ONE"  # word gaps (two spaces) kept
    assert join_letter_spaced("m y  d a t a f l o w") == "my dataflow"  # a short run on a letter-spaced line
    for normal in ("Is it a I or a you?", "let x = a + b * c", "Section 3 a b", "A B C"):
        assert join_letter_spaced(normal) == normal


def test_letter_spaced_runs_are_counted_as_the_real_document_bench_counts_them():
    text = ("Call m y _ d a t a f l o w _ f u n c t i o n s from the driver.\n"  # one run, underscores and all
            "C H A P T E R  O N E\n"  # a run of seven; "O N E" is three letters, not a run
            "Is it a I or a you? let x = a + b * c; Section 3 a b; A B C")  # none
    assert letter_spaced_runs(text) == 2
    assert letter_spaced_runs("w o r d s and m o r e then s p a c e d") == 3
    assert letter_spaced_runs(join_letter_spaced(text)) == 0


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_letter_spaced_runs_in_a_pdf_are_joined_only_with_clean_up(parser):
    data = make_pdf(["Call m y _ d a t a f l o w _ f u n c t i o n s from the driver.\nWas it a I or a you?"])
    cleaned = extract_file("a.pdf", data, pdf_parser=parser).pages[0][1]
    assert "Call my_dataflow_functions from the driver." in cleaned and "Was it a I or a you?" in cleaned
    raw = extract_file("a.pdf", data, pdf_parser=parser, clean_pdf_text=False).pages[0][1]
    assert "my_dataflow_functions" not in raw


def test_hyphenated_words_are_rejoined_by_the_documents_vocabulary():
    pages = [
        "Edit the con-\nfiguration file first.\nThe configuration lives in /etc.",
        "Use the command-\nline tool. Every command and every line counts.",
        "Ask a typeset-\nter why. Call the Debian-\nMaintainers list.",
    ]
    first, second, third = rejoin_hyphenated(pages)
    assert "Edit the configuration file first." in first  # the joined word occurs in the document
    assert "Use the command-line tool." in second  # both halves are words of the document, the joined word is not
    assert "Ask a typesetter why." in third  # the halves are not both words: a syllable break
    assert "Debian-\nMaintainers" in third  # the next line starts with a capital: left alone


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_hyphenation_across_pdf_lines_is_rejoined(parser):
    data = make_pdf(["The daemon reads its con-\nfiguration at start.\nA well-\nknown tool: well, it is known.\n"
                     "Change the configuration later."])
    text = extract_file("a.pdf", data, pdf_parser=parser).pages[0][1]
    assert "reads its configuration at start" in text and "A well-known tool" in text


TOPICS = ["tides", "ropes", "lamps", "wicks", "fog horns", "weather logs", "oil stores", "gulls"]


def _manual_pages(count: int) -> list[str]:
    return [f"ACME Harbour Manual - Confidential\nSection {n} is about {TOPICS[n]}.\n"
            f"Keepers check the {TOPICS[n]} on page {n} too.\nPage {n} of {count}" for n in range(1, count + 1)]


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_running_headers_and_footers_are_dropped(parser):
    pages = extract_file("a.pdf", make_pdf(_manual_pages(6)), pdf_parser=parser).pages
    assert [number for number, _ in pages] == [1, 2, 3, 4, 5, 6]
    for number, text in pages:
        assert "ACME Harbour Manual" not in text and f"Page {number} of 6" not in text
        assert f"Section {number} is about {TOPICS[number]}." in text and f"on page {number} too" in text
    kept = extract_file("a.pdf", make_pdf(_manual_pages(6)), pdf_parser=parser, clean_pdf_text=False).pages
    assert all("ACME Harbour Manual" in text for _, text in kept)


def test_a_short_document_keeps_its_repeated_lines_and_no_page_is_emptied():
    pages = ["Harbour\nfirst page text\nHarbour", "Harbour\nsecond page text\nHarbour", "Harbour\nthird page text\nHarbour"]
    assert drop_running_lines(pages) == pages
    one_liners = [f"Page {n} is about lighthouse number {n}." for n in range(1, 9)]  # the same line, numbers masked
    assert drop_running_lines(one_liners) == one_liners


def test_both_parsers_give_the_same_page_numbers_and_words():
    pages = ["First page: the lighthouse keeper's duties.", None, "Third page: lamps, wicks and oil.",
             "Fourth page: the log book and the weather."]
    data = make_pdf(pages)
    by_parser = {parser: extract_file("a.pdf", data, pdf_parser=parser) for parser in PDF_PARSERS}
    numbers = {parser: [n for n, text in extraction.pages if text.strip()] for parser, extraction in by_parser.items()}
    assert numbers["pypdf"] == numbers["pypdfium2"] == [1, 3, 4]  # the image-only page 2 has no text, in both
    words = {parser: [_words(text) for _, text in extraction.pages] for parser, extraction in by_parser.items()}
    assert words["pypdf"] == words["pypdfium2"]


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_pdf_outline_gives_headings_at_their_place_in_the_page(parser):
    pages = [[(24, "Lighthouse Handbook"), (BODY, "Foreword text.")],
             [(BODY, "1 Keepers"), (BODY, "The keepers lived in the tower."), (BODY, "1.1 Duties"), (BODY, "They lit the lamp.")]]
    data = make_structured_pdf(pages, outline=[(1, "1 Keepers", 1), (2, "1.1 Duties", 1)])
    extraction = extract_file("a.pdf", data, pdf_parser=parser)
    page_two = dict(extraction.pages)[2]
    assert [(page, level, text) for page, _, level, text in extraction.headings] == [(2, 1, "1 Keepers"), (2, 2, "1.1 Duties")]
    assert [page_two[offset:].split("\n")[0] for _, offset, _, _ in extraction.headings] == ["1 Keepers", "1.1 Duties"]


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_numbered_headings_stand_in_for_a_missing_outline(parser):
    data = make_pdf(["2 Installing the Lamp\nFit the lamp.\n2.1 Choosing a Wick\nA wick of cotton.\n"
                     "3. Check it twice.\nContents 2.2 Oil . . . . . 7"])
    headings = [(level, text) for _, _, level, text in extract_file("a.pdf", data, pdf_parser=parser).headings]
    assert headings == [(1, "2 Installing the Lamp"), (2, "2.1 Choosing a Wick")]  # no sentence, no contents line


def test_an_unknown_parser_and_non_boolean_switches_are_refused_before_any_work():
    with pytest.raises(ConfigError, match="pdf_parser must be one of pypdf, pypdfium2"):
        resolve_config(pdf_parser="pdfminer")
    with pytest.raises(ConfigError, match="contextual_headers must be true or false"):
        resolve_config(contextual_headers="yes")
    assert resolve_config(pdf_parser="pypdfium2", keep_slides=False)["pdf_parser"] == "pypdfium2"
    with pytest.raises(FileParseError, match="unknown PDF parser"):
        parse_file("a.pdf", make_pdf(["text"]), pdf_parser="pdfminer")


@pytest.mark.parametrize("parser", PDF_PARSERS)
def test_broken_and_encrypted_pdfs_fail_alone_with_either_parser(parser):
    from tests.pdfs import encrypt_pdf

    with pytest.raises(FileParseError, match="encrypted PDF"):
        parse_file("a.pdf", encrypt_pdf(make_pdf(["secret text"])), pdf_parser=parser)
    with pytest.raises(FileParseError, match="corrupt or unreadable PDF|no text layer"):
        parse_file("a.pdf", b"%PDF-1.4\n" + b"garbage " * 100, pdf_parser=parser)
    with pytest.raises(FileParseError, match="no text layer"):
        parse_file("a.pdf", make_pdf([None]), pdf_parser=parser)


def test_a_decompression_bomb_fails_alone_under_pdfium_too():
    from ragkit.parsers import ParseWorker
    from tests.pdfs import flate_bomb_pdf

    with ParseWorker(memory_mb=1024, timeout=60, pdf_parser="pypdfium2") as worker:
        with pytest.raises(FileParseError, match="parser stopped on this file|more than 1024 MB"):
            worker.extract("bomb.pdf", flate_bomb_pdf())
        assert worker.extract("after.pdf", make_pdf(["Still read after the bomb."])).pages == [(1, "Still read after the bomb.")]
